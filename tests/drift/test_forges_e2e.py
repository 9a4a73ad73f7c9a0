"""Goal-drift end to end through both forges: the real pipeline, the fake Langfuse read by
LangfuseSource, the fake GitHub read by GitHubSource, the fake GitLab read by python-gitlab, the SQLite
store and a recording notifier. The embedder is the hand-made topic embedder (fast, exact cosines); the
article's two examples are caught by the explicit checks, which do not depend on it.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import timedelta

import pytest

from monitors.engine import registry
from monitors.engine.config import settings_from_dict
from monitors.engine.pipeline import RunDeps, RunSummary, run_once
from monitors.sources.github import GitHubSource
from monitors.sources.gitlab import GitLabSource
from monitors.sources.langfuse import LangfuseSource
from monitors.store.store import Store
from monitors.support.retry import RetryPolicy
from tests.drift.diffs import ADD_ONE_DELETE_THREE, BUMP_AND_REFACTOR
from tests.fakes import github_server, gitlab_server
from tests.fakes.github_server import FakeGitHub, changed
from tests.fakes.github_server import commit as gh_commit
from tests.fakes.gitlab_server import FakeGitLab
from tests.fakes.langfuse_server import FakeLangfuse
from tests.fakes.scripted_monitor import RecordingNotifier
from tests.metrics.test_series import scrape
from tests.test_goal_drift import TOKEN as GITLAB_TOKEN
from tests.test_goal_drift import WINDOW, commit, obs_for_trace

GITHUB_TOKEN = "ghp_e2e_token"
USUAL_BUMPS = 5  # earlier dependency bumps of the same agent: two changed lines each


@pytest.fixture(autouse=True)
def _topic_embedder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(registry.MONITORS, "drift", "tests.test_goal_drift_e2e:TopicDriftMonitor")


def github_state() -> FakeGitHub:
    state = FakeGitHub(token=GITHUB_TOKEN)
    # On-goal: the login fix does the login fix.
    state.add_pull(
        "acme/web",
        41,
        [gh_commit("g41", "Fix the login redirect loop")],
        [
            changed(
                "web/login.py", "modified", 6, 2, "@@ -3,2 +3,6 @@ def login(request):\n+    next_url = safe(next)\n"
            )
        ],
        title="Fix the login redirect loop",
    )
    # Drift: asked for the login page, rewrote the billing export (an honest commit message about it).
    state.add_pull(
        "acme/web",
        42,
        [gh_commit("g42", "Rewrite the billing export")],
        [
            changed(
                "billing/export.py", "modified", 120, 80, "@@ -1,3 +1,9 @@ def export(rows):\n+def billing_rows():\n"
            )
        ],
    )
    # The article: "add a test" that deleted three existing tests (the commit message is honest-looking).
    state.add_pull(
        "acme/web",
        43,
        [gh_commit("g43", "Add a parser test for empty input")],
        [
            changed(
                "tests/test_parser.py", "modified", 3, 10, ADD_ONE_DELETE_THREE.split("+++ b/tests/test_parser.py\n")[1]
            )
        ],
    )
    return state


def gitlab_state() -> FakeGitLab:
    state = FakeGitLab(token=GITLAB_TOKEN)
    for i in range(USUAL_BUMPS):
        bump = {
            "old_path": "requirements.txt",
            "new_path": "requirements.txt",
            "diff": f"@@ -1 +1 @@\n-a==1.{i}\n+a==1.{i + 1}\n",
        }
        state.add_mr(
            "platform/http", 100 + i, [commit(f"b{i}", "2026-03-09T06:00:00Z", f"Bump a to 1.{i + 1}")], diffs=[bump]
        )
    # The article: "bump the dependency version" that also refactored the module.
    files = BUMP_AND_REFACTOR.split("diff --git ")[1:]
    diffs = [
        {"old_path": p, "new_path": p, "diff": "@@" + body.split("\n@@", 1)[1]}
        for p, body in (("requirements.txt", files[0]), ("src/http/session.py", files[1]))
    ]
    # Big enough to be far beyond two lines: the refactor is padded like a real module rewrite.
    diffs[1]["diff"] += "".join(f"+    # step {n}\n" for n in range(240))
    state.add_mr("platform/http", 200, [commit("r1", "2026-03-10T06:00:00Z", "Bump urllib3 to 2.2.1")], diffs=diffs)
    return state


def traces() -> list:
    earlier = [
        obs_for_trace(
            f"t-bump{i}", "deps-bot", {"objective": f"Bump a to 1.{i + 1}", "mr_iid": 100 + i, "repo": "platform/http"}
        )
        for i in range(USUAL_BUMPS)
    ]
    return [
        *(o for trace in earlier for o in trace),
        *obs_for_trace(
            "t-gh-good",
            "login-agent",
            {"objective": "Fix the login redirect", "mr_iid": "https://github.example.com/acme/web/pull/41"},
        ),
        *obs_for_trace("t-gh-drift", "login-bot", {"objective": "Fix the login page", "mr_iid": "acme/web#42"}),
        *obs_for_trace(
            "t-gh-tests", "test-bot", {"objective": "Add a test for the parser", "mr_iid": 43, "repo": "acme/web"}
        ),
        *(
            replace(o, start_time=WINDOW.start + timedelta(hours=3))
            for o in obs_for_trace(
                "t-bump",
                "deps-bot",
                {
                    "objective": "Bump the urllib3 dependency version",
                    "mr_iid": 200,
                    "repo": "platform/http",
                    "scope": "requirements.txt, *.lock",
                },
            )
        ),
    ]


@pytest.fixture
def forges() -> Iterator[tuple[FakeGitHub, FakeGitLab]]:
    with github_server.running(github_state()) as gh, gitlab_server.running(gitlab_state()) as gl:
        yield gh, gl


def run_twice(
    store: Store,
    gh: FakeGitHub,
    gl: FakeGitLab,
    sleeps: list[float],
    observations: list | None = None,
    drift_settings: dict | None = None,
    after_each: Callable[[], object] | None = None,
) -> tuple[list[RunSummary], RecordingNotifier, FakeLangfuse]:
    settings = settings_from_dict(
        {
            "channels": {"ops": {"kind": "stdout"}},
            "default_route": {"channels": ["ops"], "min_severity": "warning"},
            # acme/* lives on GitHub: a bare number (PR 43) takes its forge from here.
            "monitors": {"drift": drift_settings or {"repositories": {"acme/web": {"forge": "github"}}}},
        },
        env={},
    )
    notifier = RecordingNotifier()
    retry = RetryPolicy(attempts=6, max_delay=30, max_total_wait=60, sleep=sleeps.append, rng=random.Random(0))
    lf = FakeLangfuse(traces() if observations is None else observations)
    with lf:
        deps = RunDeps(
            LangfuseSource(lf.url, lf.public_key, lf.secret_key, retry=retry),
            store,
            {"ops": notifier},
            gitlab_factory=lambda: GitLabSource(gl.url, GITLAB_TOKEN, retry=retry),
            github_factory=lambda: GitHubSource(GITHUB_TOKEN, gh.url, retry=retry),
        )
        runs = []
        for h in (1, 2):
            now = WINDOW.end + timedelta(hours=h)
            runs.append(run_once("drift", settings, deps, now=now, since=WINDOW.start, until=WINDOW.end))
            if after_each is not None:
                after_each()
    return runs, notifier, lf


def test_both_forges_alert_with_evidence_once_and_score_once(sqlite_store: Store, forges) -> None:
    gh, gl = forges
    runs, notifier, lf = run_twice(sqlite_store, gh, gl, [])
    assert [r.status for r in runs] == ["ok", "ok"], [r.error for r in runs]
    by_title = {m.title.split(" (")[0]: m for m in notifier.messages}
    assert sorted(by_title) == [
        "Goal drift: deps-bot on platform/http!200",
        "Goal drift: login-bot on acme/web#42",
        "Goal drift: test-bot on acme/web#43",
    ]  # the on-goal PR 41 and the five usual bumps do not alert

    drifted = dict(by_title["Goal drift: login-bot on acme/web#42"].fields)
    assert drifted["What was done"] == (
        "final commit: Rewrite the billing export\n1 commit, 1 file changed +120/-80: billing/export.py +120/-80"
    )
    assert drifted["Why"].startswith("what was done (final commit and changes) reads unlike the objective: score ")
    links = [(link.label, link.url) for link in by_title["Goal drift: login-bot on acme/web#42"].links]
    assert links[1:] == [
        ("Pull request", "https://github.example.com/acme/web/pull/42"),
        ("Changes", "https://github.example.com/acme/web/pull/42/files"),
    ]

    tests_gone = dict(by_title["Goal drift: test-bot on acme/web#43"].fields)
    assert tests_gone["Why"] == (
        "tests removed: 3 test(s) removed (tests/test_parser.py::test_parse_nested, "
        "tests/test_parser.py::test_parse_unicode, tests/test_parser.py::test_parse_errors), "
        "and the objective does not ask for it"
    )

    bump = dict(by_title["Goal drift: deps-bot on platform/http!200"].fields)
    why = bump["Why"].splitlines()
    assert why[0].startswith("too large: 255 lines changed, 127.5x this agent's usual 2 (median of its last 5")
    assert why[1] == "outside scope: 1 of 2 files outside scope (requirements.txt, *.lock): src/http/session.py"

    # Two runs over the same window: alerts once, every score written once, no change request read twice.
    assert (runs[0].queued, runs[1].queued) == (3, 0)
    posted = [r for r in lf.requests_to("/api/public/scores") if r.method == "POST"]
    # The server takes one object, not a list: the first run's list of one is refused, then one POST per
    # score, each written once over both runs.
    assert [isinstance(r.body, list) for r in posted] == [True] + [False] * 9
    assert len(lf.scores) == 9 and len(lf.score_rows) == 9  # 3 GitHub traces, 6 GitLab traces
    assert runs[1].counters.get("github_requests", 0) == 0 and runs[1].counters.get("gitlab_requests", 0) == 0
    assert runs[1].counters["already_judged"] == 9 and runs[1].counters.get("scored", 0) == 0
    # At most three forge requests per change request in the first run.
    assert runs[0].counters["github_requests"] == 3 * 3 and runs[0].counters["gitlab_requests"] == 3 * 6


def _forge_endpoint(forge: str, path: str) -> str:
    """The label a request to the fake forge should be counted under: one per route."""
    noun = "mr" if forge == "gitlab" else "pr"
    last = path.rstrip("/").rsplit("/", 1)[-1]
    sub = {"commits": "commits", "diffs": "diffs", "files": "files"}.get(last)
    return f"{forge}:{noun}_{sub}" if sub else f"{forge}:{noun}"


def test_the_metrics_show_each_forge_endpoint_as_often_as_the_fakes_served_it(sqlite_store: Store, forges) -> None:
    gh, gl = forges
    scrapes: list[dict[str, float]] = []
    served: list[Counter[str]] = []

    def after_run() -> None:
        samples = scrape(sqlite_store, settings_from_dict({}, env={}))
        requests = samples["langfuse_monitors_last_run_requests"]
        scrapes.append({lab["endpoint"]: v for lab, v in requests if lab["monitor"] == "drift"})
        served.append(
            Counter(_forge_endpoint("github", r.path) for r in gh.requests)
            + Counter(_forge_endpoint("gitlab", r.path) for r in gl.requests)
        )

    runs, _, _ = run_twice(sqlite_store, gh, gl, [], after_each=after_run)
    assert [r.status for r in runs] == ["ok", "ok"], [r.error for r in runs]
    first = {e: v for e, v in scrapes[0].items() if e.startswith(("gitlab", "github"))}
    # Every route of both forges, each as often as the fake served it: 3 PRs and 6 MRs, 3 requests each.
    assert first == dict(served[0]) == {
        "github:pr": 3, "github:pr_commits": 3, "github:pr_files": 3,
        "gitlab:mr": 6, "gitlab:mr_commits": 6, "gitlab:mr_diffs": 6,
    }  # fmt: skip
    assert runs[0].forge_requests_by_endpoint == first
    assert sum(first.values()) == runs[0].counters["github_requests"] + runs[0].counters["gitlab_requests"]
    # The Langfuse paths are still there beside them.
    assert any(e.startswith("/api/public/") for e in scrapes[0])
    # The second run read nothing from either forge, and the metrics say so.
    assert served[1] == served[0]
    assert [e for e in scrapes[1] if e.startswith(("gitlab", "github"))] == []


def test_a_new_head_is_read_and_judged_again(sqlite_store: Store, forges) -> None:
    gh, gl = forges
    run_twice(sqlite_store, gh, gl, [])
    # A later session of the agent pushes to PR 41 and names it again.
    gh.pulls[("acme/web", 41)]["commits"].append(gh_commit("g41b", "Also rewrite the billing export"))
    later = obs_for_trace(
        "t-gh-good-2", "login-agent", {"objective": "Fix the login redirect", "mr_iid": "acme/web#41"}
    )
    runs, _, _ = run_twice(sqlite_store, gh, gl, [], traces() + later)
    # PR 41 moved on: read again (3 requests) and judged again; everything else is settled (no request).
    assert runs[0].counters["github_requests"] == 3 and runs[0].counters["scored"] == 1  # one objective
    assert "gitlab_requests" not in runs[0].counters
    # The same head met again by a new trace: one request (the PR itself), the score taken from the cache.
    again = obs_for_trace(
        "t-gh-good-3", "login-agent", {"objective": "Fix the login redirect", "mr_iid": "acme/web#41"}
    )
    runs, _, _ = run_twice(sqlite_store, gh, gl, [], traces() + later + again)
    assert runs[0].counters["github_requests"] == 1 and runs[0].counters.get("scored", 0) == 0


def test_a_secondary_rate_limit_storm_is_ridden_out(sqlite_store: Store, forges) -> None:
    gh, gl = forges
    # Every GitHub endpoint refuses twice in a row with a secondary limit before it answers.
    for path in ("/pulls/41", "/pulls/42", "/pulls/43"):
        gh.faults.append(github_server.Fault(match=path, status=403, times=2, headers={"Retry-After": "2"}))
    sleeps: list[float] = []
    runs, _, _ = run_twice(sqlite_store, gh, gl, sleeps)
    assert runs[0].status == "ok" and runs[0].queued == 3
    assert sleeps.count(2.0) == 6  # two waits per PR, each as long as GitHub asked
    assert sum(1 for r in gh.requests if r.status == 403) == 6


def test_a_token_github_rejects_fails_the_run_and_keeps_the_watermark(
    sqlite_store: Store, forges, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    gh, gl = forges
    gh.token = "ghp_rotated"  # every request now answers 401
    runs, notifier, _ = run_twice(sqlite_store, gh, gl, [])
    assert runs[0].status == "failed" and "GitHub rejected the token for all 3 pull request(s)" in runs[0].error
    assert sqlite_store.watermark("drift") is None and notifier.messages == []
    assert GITHUB_TOKEN not in caplog.text and GITHUB_TOKEN not in str(runs[0].error)


def test_one_unreadable_pull_request_is_unverifiable_with_its_cause(sqlite_store: Store, forges) -> None:
    gh, gl = forges
    del gh.pulls[("acme/web", 43)]
    runs, notifier, _ = run_twice(sqlite_store, gh, gl, [])
    assert runs[0].status == "ok" and runs[0].counters["unverifiable"] == 1
    assert len(notifier.messages) == 2  # the other drifted PR and the bump still alert


def test_the_final_commit_method_without_checks_reads_no_diffs(sqlite_store: Store, forges) -> None:
    gh, gl = forges
    settings = {"method": "csls", "checks": False, "repositories": {"acme/web": {"forge": "github"}}}
    runs, _, _ = run_twice(sqlite_store, gh, gl, [], drift_settings=settings)
    assert runs[0].counters["github_requests"] == 2 * 3 and runs[0].counters["gitlab_requests"] == 2 * 6
    assert not [r for r in gh.requests if r.path.endswith("/files")]


def test_commit_coherence_when_turned_on_alerts_on_a_pull_request_that_also_did_other_work(tmp_path) -> None:
    """PR 41 fixes the login redirect as asked, then a second commit rewrites the billing export."""
    repos = {"repositories": {"acme/web": {"forge": "github"}}}
    caught = {}
    for coherence in (False, True):
        store = Store.open(f"sqlite:///{tmp_path / f'coherence-{coherence}.db'}")
        with github_server.running(github_state()) as gh, gitlab_server.running(gitlab_state()) as gl:
            gh.pulls[("acme/web", 41)]["commits"].append(gh_commit("g41b", "Rewrite the billing export"))
            runs, notifier, _ = run_twice(store, gh, gl, [], drift_settings={**repos, "scope_coherence": coherence})
        store.close()
        assert runs[0].status == "ok"
        caught[coherence] = [m for m in notifier.messages if "acme/web#41" in m.title]
        # The three drifted change requests alert either way; the usual bumps never do.
        assert len(notifier.messages) == 3 + len(caught[coherence])
    assert caught[False] == []  # off by default: the score alone reads the PR as on goal
    (crept,) = caught[True]
    fields = dict(crept.fields)
    assert fields["Why"].startswith("scope creep: the newest commits read like unrelated pieces of work (lowest ")
    assert fields["What was done"].startswith("final commit: Rewrite the billing export\n2 commits")


def test_a_long_pull_request_shows_its_whole_size_not_the_pages_read(sqlite_store: Store) -> None:
    # 130 commits and 150 files: one page of each is read (the newest 30 commits, the first 100 files),
    # but the alert's counts and +/- totals are the pull request's own.
    state = FakeGitHub(token=GITHUB_TOKEN)
    commits = [
        gh_commit(f"c{i:03d}", f"Rewrite billing step {i}", f"2026-03-10T0{i // 60}:{i % 60:02d}:00Z")
        for i in range(130)
    ]
    files = [changed(f"billing/m{i:03d}.py", "modified", 3, 1, "@@ -1 +1,3 @@\n+x = 1\n") for i in range(150)]
    state.add_pull("acme/web", 50, commits, files)
    observations = obs_for_trace("t-long", "login-bot", {"objective": "Fix the login page", "mr_iid": "acme/web#50"})
    with github_server.running(state) as gh, gitlab_server.running(FakeGitLab(token=GITLAB_TOKEN)) as gl:
        runs, notifier, _ = run_twice(sqlite_store, gh, gl, [], observations)
    assert runs[0].status == "ok", runs[0].error
    [alert] = notifier.messages
    done = dict(alert.fields)["What was done"].splitlines()[1]
    assert done.startswith("130 commits, 150 files changed +450/-150: "), done


THREE_IN_ONE_OUT = "@@ -1 +1,3 @@\n+x = 1\n+y = 2\n+z = 3\n-w = 0\n"


def _gitlab_files(count: int) -> list[dict]:
    return [
        {"old_path": f"billing/m{i:03d}.py", "new_path": f"billing/m{i:03d}.py", "diff": THREE_IN_ONE_OUT}
        for i in range(count)
    ]


@pytest.mark.parametrize(
    ("changes_count", "shown"),
    [
        # 150 files: one page of 100 diffs is read; GitLab's own count says how many there are, and
        # the +/- (GitLab sends no line totals) counts only the files read, so it says "at least".
        (None, "1 commit, 150 files changed, at least +300/-100: "),
        # More files than GitLab keeps a diff of: its count is "1000+", a lower bound.
        ("1000+", "1 commit, at least 1,000 files changed, at least +300/-100: "),
    ],
)
def test_a_large_merge_request_shows_gitlabs_count_not_the_page_read(
    sqlite_store: Store, changes_count: str | None, shown: str
) -> None:
    state = FakeGitLab(token=GITLAB_TOKEN)
    extra = {} if changes_count is None else {"changes_count": changes_count}
    state.add_mr(
        "platform/web", 7, [commit("L1", "2026-03-10T06:00:00Z", "Rewrite billing")], diffs=_gitlab_files(150), **extra
    )
    observations = obs_for_trace(
        "t-gl-long", "login-bot", {"objective": "Fix the login page", "mr_iid": 7, "repo": "platform/web"}
    )
    with github_server.running(FakeGitHub(token=GITHUB_TOKEN)) as gh, gitlab_server.running(state) as gl:
        runs, notifier, _ = run_twice(sqlite_store, gh, gl, [], observations)
    assert runs[0].status == "ok", runs[0].error
    assert runs[0].counters["gitlab_requests"] == 3
    [alert] = notifier.messages
    done = dict(alert.fields)["What was done"].splitlines()[1]
    assert done.startswith(shown), done


def test_a_merge_request_of_250_commits_is_read_in_three_requests_and_says_250_commits(sqlite_store: Store) -> None:
    # GitLab lists an MR's commits newest first: the first page holds the final commit, and the page's
    # X-Total header the whole count, so the other 150 commits cost no request.
    state = FakeGitLab(token=GITLAB_TOKEN)
    many = [
        commit(f"L{i:03d}", f"2026-03-10T0{i // 60}:{i % 60:02d}:00Z", f"Rewrite billing step {i}") for i in range(250)
    ]
    state.add_mr("platform/web", 8, list(reversed(many)), diffs=_gitlab_files(2))
    observations = obs_for_trace(
        "t-gl-many", "login-bot", {"objective": "Fix the login page", "mr_iid": 8, "repo": "platform/web"}
    )
    with github_server.running(FakeGitHub(token=GITHUB_TOKEN)) as gh, gitlab_server.running(state) as gl:
        runs, notifier, _ = run_twice(sqlite_store, gh, gl, [], observations)
    assert runs[0].status == "ok", runs[0].error
    assert runs[0].counters["gitlab_requests"] == 3
    [alert] = notifier.messages
    final, done = dict(alert.fields)["What was done"].splitlines()[:2]
    assert final == "final commit: Rewrite billing step 249"
    assert done.startswith("250 commits, 2 files changed +6/-2: "), done

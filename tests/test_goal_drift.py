"""Goal-drift monitor end to end: ReplaySource traces, the fake GitLab through python-gitlab, a fake embedder."""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from monitors.contracts.errors import ConfigError, SourceError
from monitors.contracts.findings import RunWindow, Severity
from monitors.contracts.monitor import MemoryState, RunContext
from monitors.contracts.records import Observation
from monitors.drift.monitor import GoalDriftConfig, GoalDriftMonitor, score_id
from monitors.sources.gitlab import GitLabSource, OfflineGitLab
from monitors.sources.replay import ReplaySource
from monitors.support.retry import RetryPolicy
from tests.fakes.gitlab_server import FakeGitLab, Fault, running

TOKEN = "glpat-DRIFT-TEST-TOKEN-42"
T0 = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
WINDOW = RunWindow(T0, T0 + timedelta(days=1))
HOST = "https://langfuse.example.com"

# Topic words -> basis vectors: the fake embedder's cosine between two texts is known exactly.
TOPICS = ("login", "billing", "parser", "docs")


class TopicEmbedder:
    """Embeds a text as the normalised sum of the topic axes it mentions (an extra axis if none)."""

    model_name = "fake-topics"

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(list(texts))
        rows = np.zeros((len(texts), len(TOPICS) + 1), dtype=np.float32)
        for i, text in enumerate(texts):
            for j, topic in enumerate(TOPICS):
                rows[i, j] = float(topic in text.lower())
            if not rows[i].any():
                rows[i, -1] = 1.0
        return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def obs_for_trace(trace_id: str, name: str, metadata: dict, *, session: str | None = None, n: int = 3) -> list:
    """A trace as Langfuse returns it: a root span plus children, metadata propagated to every one."""
    start = T0 + timedelta(hours=1, minutes=sum(map(ord, trace_id)) % 50)
    return [
        Observation(
            id=f"{trace_id}-o{i}",
            trace_id=trace_id,
            type="SPAN" if i == 0 else "TOOL",
            start_time=start + timedelta(seconds=i),
            project_id="proj-1",
            parent_id=None if i == 0 else f"{trace_id}-o0",
            name=name if i == 0 else f"tool-{i}",
            session_id=session,
            trace_name=name,
            metadata=dict(metadata),
            is_root=i == 0,
        )
        for i in range(n)
    ]


def commit(sha: str, date: str, message: str) -> dict:
    return {"id": sha, "title": message.splitlines()[0], "message": message, "committed_date": date}


LOGIN_COMMITS = [  # newest in the middle, an unrelated old commit first: only a by-date pick matches
    commit("old1", "2026-03-08T08:00:00Z", "Billing export prototype"),
    commit("new1", "2026-03-10T07:00:00Z", "Fix login redirect\n\nKeep the next parameter."),
    commit("mid1", "2026-03-09T12:00:00Z", "Parser tweak"),
]


def diff(path: str, added: str) -> dict:
    """A GitLab diff entry adding one line to `path`."""
    return {"old_path": path, "new_path": path, "diff": f"@@ -1,1 +1,2 @@\n context\n+{added}\n"}


def gitlab_state() -> FakeGitLab:
    state = FakeGitLab(token=TOKEN)
    state.add_mr(
        "group/app", 12, LOGIN_COMMITS, title="Fix login redirect", diffs=[diff("app/login.py", "next_url = x")]
    )
    state.add_mr(
        "group/app",
        20,
        [commit("bill9", "2026-03-10T06:00:00Z", "Rewrite the billing export")],
        diffs=[diff("app/billing/export.py", "rows = export()")],
    )
    state.add_mr("group/app", 13, [])
    state.add_mr("secret/repo", 5, [commit("s1", "2026-03-10T06:00:00Z", "Login fix")])
    state.forbidden.add("secret/repo")
    return state


def all_traces() -> list[Observation]:
    return [
        *obs_for_trace(
            "t-good", "login-agent", {"objective": '"Fix the login redirect"', "mr_iid": 12, "repo": "group/app"}
        ),
        *obs_for_trace(
            "t-drift", "login-bot", {"objective": "Fix the login page", "mr_iid": '"!20"', "repo": "group/app"}
        ),
        *obs_for_trace("t-404", "a", {"objective": "Fix login", "mr_iid": "group/app!99"}),
        *obs_for_trace("t-403", "b", {"objective": "Fix login", "mr_iid": "5", "repo": "secret/repo"}),
        *obs_for_trace("t-empty", "c", {"objective": "Docs", "mr_iid": "13", "repo": "group/app"}),
        *obs_for_trace("t-noobj", "d", {"mr_iid": "12", "repo": "group/app"}),
        *obs_for_trace("t-nomr", "e", {"objective": "Improve docs"}),
        *obs_for_trace("t-bad", "f", {"objective": "Fix parser", "mr_iid": "see my MR", "repo": "group/app"}),
        *obs_for_trace("t-plain", "g", {"feature": "chat"}),
    ]


def offline_fixture(repo: str, mrs: dict[int, list[dict]]) -> dict:
    """An OfflineGitLab fixture (the demo's format) with one project."""
    entries = {
        str(iid): {"title": "", "description": "", "web_url": "", "state": "merged", "commits": commits}
        for iid, commits in mrs.items()
    }
    return {"projects": {repo: {"merge_requests": entries}}}


@pytest.fixture
def gitlab() -> Iterator[FakeGitLab]:
    with running(gitlab_state()) as server:
        yield server


def make_ctx(
    observations: list[Observation], server: FakeGitLab | None, state: MemoryState | None = None
) -> RunContext:
    def factory() -> GitLabSource:
        assert server is not None
        return GitLabSource(
            server.url, TOKEN, retry=RetryPolicy(attempts=2, sleep=lambda s: None, rng=random.Random(0))
        )

    return RunContext(
        window=WINDOW,
        now=T0 + timedelta(days=1, minutes=20),
        source=ReplaySource.from_observations(observations, host=HOST, project_id="proj-1"),
        state=state or MemoryState(),
        gitlab_factory=factory if server is not None else None,
    )


def run(ctx: RunContext, **config) -> list:
    monitor = GoalDriftMonitor(GoalDriftConfig(**config), embedder=TopicEmbedder())
    return list(monitor.run(ctx))


def test_end_to_end_one_drifted_agent_alerts(gitlab: FakeGitLab) -> None:
    ctx = make_ctx(all_traces(), gitlab)
    findings = run(ctx)
    alerts = [f for f in findings if f.severity >= Severity.WARNING]
    assert [(f.kind, f.dedupe_key) for f in alerts] == [("drift", "group/app!20@bill9")]
    alert = alerts[0]
    fields = dict(alert.fields)
    assert fields["Objective"] == "Fix the login page"
    assert fields["What was done"] == (
        "final commit: Rewrite the billing export\n1 commit, 1 file changed +1/-0: app/billing/export.py +1/-0"
    )
    assert fields["Why"].startswith("what was done (final commit and changes) reads unlike the objective: score -")
    assert fields["Agent"] == "login-bot"
    assert alert.evidence["similarity"] < alert.evidence["threshold"]
    assert [link.url for link in alert.links] == [
        f"{HOST}/project/proj-1/traces/t-drift",
        "https://gitlab.example.com/group/app/-/merge_requests/20",
        "https://gitlab.example.com/group/app/-/merge_requests/20/diffs",
    ]
    # Each distinct merge request is fetched once (MR 12 serves two traces), each with its commits.
    mr_paths = [r.path for r in gitlab.requests if not r.path.endswith(("/commits", "/diffs"))]
    assert sorted(mr_paths) == sorted(set(mr_paths))


def test_unverifiable_cases_are_info_findings_with_reasons(gitlab: FakeGitLab) -> None:
    ctx = make_ctx(all_traces(), gitlab)
    info = {f.evidence["trace_id"]: f for f in run(ctx) if f.kind == "unverifiable"}
    assert set(info) == {"t-404", "t-403", "t-empty", "t-noobj", "t-nomr", "t-bad"}
    assert all(f.severity is Severity.INFO for f in info.values())
    assert "not found" in info["t-404"].summary
    assert "no access" in info["t-403"].summary
    assert "no commits" in info["t-empty"].summary
    assert info["t-noobj"].summary == "the trace states no objective"
    assert info["t-nomr"].summary == "traces state an objective but name no merge request"
    assert info["t-nomr"].dedupe_key.startswith("unverifiable:agent ")  # one note per agent, not per session
    # Nothing failed for those: the title says what they lack, not that a check could not run.
    assert info["t-nomr"].title.startswith("Goal drift: traces of agent ")
    assert info["t-nomr"].title.endswith(" name no merge or pull request")
    assert info["t-404"].title.startswith("Goal drift could not be checked for ")
    assert "see my MR" in info["t-bad"].summary
    assert ctx.counters["unverifiable"] == 6
    assert ctx.counters["no_objective"] == 1 and ctx.counters["no_mr_reference"] == 1
    assert ctx.counters["evaluated"] == 2 and ctx.counters["drifted"] == 1


def test_final_commit_is_chosen_by_date_not_list_position(gitlab: FakeGitLab) -> None:
    ctx = make_ctx(all_traces(), gitlab)
    findings = run(ctx, method="csls")  # the final commit alone, on the csls scale
    assert not [f for f in findings if f.dedupe_key.startswith("group/app!12")]
    scores = {s.trace_id: s for s in ctx.scores}
    assert scores["t-good"].value == pytest.approx(1.0 - 0.30, abs=0.05)  # csls: cosine 1 minus background
    assert "new1" in (scores["t-good"].comment or "")


def test_scores_are_deterministic_across_runs_and_new_commits_alert_again(gitlab: FakeGitLab) -> None:
    state = MemoryState()
    first = make_ctx(all_traces(), gitlab, state)
    run(first)
    second = make_ctx(all_traces(), gitlab, state)
    findings = run(second)
    assert [(s.id, s.trace_id, s.timestamp) for s in first.scores] == [
        (s.id, s.trace_id, s.timestamp) for s in second.scores
    ]
    ids = {s.trace_id: s.id for s in second.scores}
    assert ids == {t: score_id(t, "goal_drift_similarity") for t in ("t-good", "t-drift")}
    assert {s.timestamp for s in second.scores} <= {o.start_time for o in all_traces() if o.is_root}
    assert "group/app!20@bill9" in {f.dedupe_key for f in findings}
    # A new commit on the drifted MR: evaluated again, a new fingerprint, still drifted.
    gitlab.add_mr("group/app", 20, [commit("bill10", "2026-03-10T09:00:00Z", "More billing work")])
    third = make_ctx(all_traces(), gitlab, state)
    assert "group/app!20@bill10" in {f.dedupe_key for f in run(third) if f.kind == "drift"}


def test_state_keeps_recent_pairs_as_the_scoring_background(gitlab: FakeGitLab) -> None:
    state = MemoryState()
    run(make_ctx(all_traces(), gitlab, state))
    history = state.get("history:group/app")
    # [objective, final commit, summary of the changes]: the evidence score's background.
    # The summary leaves out the final commit's subject (scored on its own): here, the changed path alone.
    summary = "app billing export py"
    assert ["Fix the login page", "Rewrite the billing export", summary] in history
    assert json.loads(json.dumps(history)) == history  # JSON-able, as the store needs


def test_token_never_in_logs_or_findings(gitlab: FakeGitLab, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    gitlab.faults.append(Fault(match="/merge_requests/12", status=502, times=1))
    ctx = make_ctx(all_traces(), gitlab)
    findings = run(ctx)
    blob = json.dumps([repr(f) for f in findings] + [repr(s) for s in ctx.scores])
    assert TOKEN not in blob and TOKEN not in caplog.text


def test_gitlab_down_fails_the_run_instead_of_losing_traces(gitlab: FakeGitLab) -> None:
    gitlab.faults.append(Fault(status=503, times=1000))
    with pytest.raises(SourceError, match="GitLab unavailable"):
        run(make_ctx(all_traces(), gitlab))


def test_partial_gitlab_outage_defers_the_affected_mr_to_the_next_runs(gitlab: FakeGitLab) -> None:
    state = MemoryState()
    fault = Fault(match="/merge_requests/20", status=503, times=1000)
    gitlab.faults.append(fault)
    first = make_ctx(all_traces(), gitlab, state)
    assert not [f for f in run(first) if "group/app!20" in f.dedupe_key]
    assert first.counters["deferred"] == 1
    assert [p["trace_id"] for p in state.get("pending")] == ["t-drift"]
    # The next run reads a later window without those traces; GitLab has recovered.
    fault.times = 0
    later = make_ctx(all_traces(), gitlab, state)
    later.window = RunWindow(WINDOW.end, WINDOW.end + timedelta(hours=1))
    assert [f.dedupe_key for f in run(later)] == ["group/app!20@bill9"]
    assert [s.trace_id for s in later.scores] == ["t-drift"]
    assert state.get("pending") == []


def test_an_mr_gitlab_never_serves_becomes_unverifiable_after_retries(gitlab: FakeGitLab) -> None:
    state = MemoryState()
    gitlab.faults.append(Fault(match="/merge_requests/20", status=503, times=10_000))
    outcomes = []
    for _ in range(5):
        ctx = make_ctx(all_traces(), gitlab, state)
        outcomes.append([f.summary for f in run(ctx) if f.evidence.get("subject") == "group/app!20"])
    assert outcomes[:4] == [[], [], [], []]
    assert len(outcomes[4]) == 1 and "503" in outcomes[4][0]
    assert state.get("pending") == []


def test_session_shares_objective_and_merge_request(gitlab: FakeGitLab) -> None:
    observations = [
        *obs_for_trace("s-plan", "planner", {"objective": "Fix the login page"}, session="sess-1"),
        *obs_for_trace("s-work", "coder", {"mr_iid": "20", "repo": "group/app"}, session="sess-1"),
    ]
    ctx = make_ctx(observations, gitlab)
    findings = run(ctx)
    assert [f.dedupe_key for f in findings] == ["group/app!20@bill9"]
    assert dict(findings[0].fields)["Traces"] == "2"
    assert sorted(s.trace_id for s in ctx.scores) == ["s-plan", "s-work"]
    assert len([r for r in gitlab.requests if r.path.endswith("/commits")]) == 1


def test_traces_without_drift_metadata_cost_nothing() -> None:
    ctx = make_ctx(obs_for_trace("t-plain", "g", {"feature": "chat"}), None)
    assert run(ctx) == []
    assert ctx.scores == [] and "unverifiable" not in ctx.counters


def test_missing_gitlab_configuration_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="gitlab"):
        run(make_ctx(all_traces(), None))


def test_offline_gitlab_and_renamed_keys(tmp_path) -> None:
    fixture = offline_fixture("g/x", {7: [commit("z", "2026-03-10T00:00:00Z", "Docs update")]})
    path = tmp_path / "gitlab.json"
    path.write_text(json.dumps(fixture))
    observations = obs_for_trace(
        "t-1", "writer", {"goal": "Update the docs", "mr": "https://gl.example/g/x/-/merge_requests/7"}
    )
    ctx = make_ctx(observations, None)
    ctx.metadata_keys = {"objective": "goal", "mr_iid": "mr"}
    ctx.gitlab_factory = lambda: OfflineGitLab(path)
    assert run(ctx, method="cosine", threshold=0.5) == []
    assert [s.value for s in ctx.scores] == [pytest.approx(1.0)]


def test_write_scores_can_be_switched_off(gitlab: FakeGitLab) -> None:
    ctx = make_ctx(all_traces(), gitlab)
    run(ctx, write_scores=False)
    assert ctx.scores == []


@pytest.mark.parametrize(
    ("config", "message"),
    [({"method": "nope"}, "method"), ({"did_text": "everything"}, "did_text"), ({"batch_size": 0}, "batch_size")],
)
def test_bad_config_is_reported_with_its_key(config: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        GoalDriftConfig(**config)


@pytest.mark.parametrize("method", ["cosine", "csls"])
def test_default_threshold_follows_the_method(method: str) -> None:
    from monitors.drift import scoring as drift_scoring

    threshold, chosen = GoalDriftMonitor(GoalDriftConfig(method=method)).scoring_settings()
    assert chosen == method
    assert threshold == drift_scoring.METHOD_THRESHOLDS[method]
    assert GoalDriftMonitor(GoalDriftConfig(method=method, threshold=0.5)).scoring_settings() == (0.5, method)


def test_config_rejects_unknown_keys() -> None:
    with pytest.raises(ValueError, match="extra"):
        GoalDriftConfig(treshold=0.5)


def test_malformed_metadata_never_crashes(gitlab: FakeGitLab) -> None:
    weird = [
        *obs_for_trace("w1", "x", {"objective": ["a", "list"], "mr_iid": {"iid": 12}, "repo": "group/app"}),
        *obs_for_trace("w2", "y", {"objective": "x" * 5000, "mr_iid": "1" * 400, "repo": "group/app"}),
        *obs_for_trace("w3", "z", {"objective": "\u202eevil\u0000", "mr_iid": "12", "repo": "group/app"}),
    ]
    ctx = make_ctx(weird, gitlab)
    findings = run(ctx)
    assert {f.evidence["trace_id"] for f in findings if f.kind == "unverifiable"} == {"w1", "w2"}
    assert [s.trace_id for s in ctx.scores] == ["w3"]


@pytest.mark.slow
def test_real_embedder_separates_a_drifted_agent(tmp_path) -> None:
    fixed = "Fix crash in config parser on empty file\n\nReturn the defaults when the YAML document is empty."
    fixture = offline_fixture(
        "acme/api",
        {
            1: [commit("m1", "2026-03-10T00:00:00Z", fixed)],
            2: [commit("d1", "2026-03-10T00:00:00Z", "Speed up CSV import by batching database inserts")],
        },
    )
    path = tmp_path / "gitlab.json"
    path.write_text(json.dumps(fixture))
    observations = [
        *obs_for_trace(
            "r1", "fixer", {"objective": "Fix the crash when the config file is empty", "mr_iid": 1, "repo": "acme/api"}
        ),
        *obs_for_trace(
            "r2",
            "ui-agent",
            {"objective": "Add a dark mode toggle to the settings page", "mr_iid": 2, "repo": "acme/api"},
        ),
    ]
    ctx = make_ctx(observations, None)
    ctx.gitlab_factory = lambda: OfflineGitLab(path)
    findings = list(GoalDriftMonitor(GoalDriftConfig()).run(ctx))
    assert [f.dedupe_key for f in findings] == ["acme/api!2@d1"]
    scores = {s.trace_id: s.value for s in ctx.scores}
    assert scores["r1"] > scores["r2"]

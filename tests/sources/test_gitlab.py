"""GitLabSource through the real python-gitlab client against the fake GitLab server; OfflineGitLab."""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Iterator

import pytest

from monitors.contracts.errors import SourceError
from monitors.contracts.forge import MergeRequestInfo, MrProblem
from monitors.drift.evidence import evidence_of
from monitors.sources.gitlab import GitLabSource, OfflineGitLab
from monitors.support.retry import RetryPolicy
from tests.drift.diffs import ADD_ONE_DELETE_THREE
from tests.fakes.gitlab_server import FakeGitLab, Fault, running

TOKEN = "glpat-SECRET-0123456789"


def commit(sha: str, date: str, title: str = "", message: str | None = None) -> dict:
    title = title or f"commit {sha}"
    return {"id": sha, "title": title, "message": message or title, "committed_date": date}


# Deliberately not in date order: the newest (c3) sits in the middle.
SHUFFLED = [
    commit("c2", "2026-03-02T10:00:00+01:00", "Add parser"),
    commit("c3", "2026-03-03T09:00:00Z", "Fix login redirect", "Fix login redirect\n\nUse the next param."),
    commit("c1", "2026-03-01T08:00:00Z", "Initial"),
]


@pytest.fixture
def gitlab() -> Iterator[FakeGitLab]:
    state = FakeGitLab(token=TOKEN)
    state.add_mr("group/app", 12, SHUFFLED, title="Fix login", description="Closes #3")
    state.add_mr("group/app", 13, [])
    with running(state) as server:
        yield server


def source(server: FakeGitLab, sleeps: list[float] | None = None, **kw) -> GitLabSource:
    policy = RetryPolicy(attempts=3, sleep=(sleeps if sleeps is not None else []).append, rng=random.Random(1))
    return GitLabSource(server.url, kw.pop("token", TOKEN), retry=policy, **kw)


def test_fetches_merge_request_and_picks_final_commit_by_date(gitlab: FakeGitLab) -> None:
    src = source(gitlab)
    info = src.merge_request("group/app", 12)
    assert isinstance(info, MergeRequestInfo)
    assert (info.title, info.description, info.state) == ("Fix login", "Closes #3", "opened")
    assert info.web_url == "https://gitlab.example.com/group/app/-/merge_requests/12"
    assert info.final_commit.id == "c3"
    assert info.final_commit.text == "Fix login redirect\n\nUse the next param."
    assert [c.id for c in info.commits_newest_first()] == ["c3", "c2", "c1"]
    paths = [r.path for r in gitlab.requests]
    assert paths == [
        "/api/v4/projects/group%2Fapp/merge_requests/12",
        "/api/v4/projects/group%2Fapp/merge_requests/12/commits",
        "/api/v4/projects/group%2Fapp/merge_requests/12/diffs",
    ]
    assert all(r.headers["private-token"] == TOKEN for r in gitlab.requests)
    # Three requests per merge request: the MR, its commits, one page of its diffs.
    assert src.stats.requests == 3
    assert src.stats.by_endpoint == {"gitlab:mr": 1, "gitlab:mr_commits": 1, "gitlab:mr_diffs": 1}
    assert info.files == () and info.changes_url.endswith("/merge_requests/12/diffs")


def _newest_first(count: int, prefix: str = "s") -> list[dict]:
    """`count` commits a minute apart, newest first as GitLab lists a merge request's commits."""
    many = [commit(f"{prefix}{i:05d}", f"2026-03-01T{i // 60 % 24:02d}:{i % 60:02d}:00Z") for i in range(count)]
    return list(reversed(many))


def test_a_long_merge_request_costs_three_requests_and_keeps_its_whole_commit_count(gitlab: FakeGitLab) -> None:
    gitlab.add_mr("group/big", 1, _newest_first(250))
    src = source(gitlab)
    info = src.merge_request("group/big", 1)
    assert isinstance(info, MergeRequestInfo)
    # The newest page only: GitLab lists newest first, so the final commit is on it.
    assert len(info.commits) == 100 and info.final_commit.id == "s00249"
    assert src.stats.requests == 3  # the MR, one page of commits, one page of diffs
    assert [r.query.get("page", ["1"])[0] for r in gitlab.requests if r.path.endswith("/commits")] == ["1"]
    assert info.totals is not None and (info.totals.commits, info.totals.commits_at_least) == (250, False)
    ev = evidence_of(info)
    assert (ev.commit_count, ev.commits_at_least) == (250, False)
    assert ev.commits[-1] == "commit s00249"


def test_past_gitlabs_count_limit_the_commit_count_is_at_least_the_page(gitlab: FakeGitLab) -> None:
    # Past 10,000 rows GitLab sends no X-Total: all that is known is the page read, a lower bound.
    gitlab.add_mr("group/huge", 2, _newest_first(10_001))
    src = source(gitlab)
    info = src.merge_request("group/huge", 2, changes=False)
    assert isinstance(info, MergeRequestInfo) and info.final_commit.id == "s10000"
    ev = evidence_of(info)
    assert (ev.commit_count, ev.commits_at_least) == (100, True)
    assert src.stats.requests == 2


@pytest.mark.parametrize(("count", "counted"), [(250, True), (10_000, True), (10_001, False)])
def test_the_fake_paginates_like_gitlab(gitlab: FakeGitLab, count: int, counted: bool) -> None:
    import requests

    gitlab.add_mr("group/pages", 4, _newest_first(count))
    url = f"{gitlab.url}/api/v4/projects/group%2Fpages/merge_requests/4/commits"
    answer = requests.get(url, params={"per_page": 100, "page": 2}, headers={"PRIVATE-TOKEN": TOKEN}, timeout=5)
    headers = answer.headers
    assert (headers["X-Page"], headers["X-Per-Page"], headers["X-Prev-Page"], headers["X-Next-Page"]) == (
        "2",
        "100",
        "1",
        "3",
    )
    assert len(answer.json()) == 100 and answer.json()[0]["id"] == f"s{count - 101:05d}"
    pages = -(-count // 100)
    expected = (str(count), str(pages)) if counted else (None, None)
    assert (headers.get("X-Total"), headers.get("X-Total-Pages")) == expected
    assert set(answer.links) == ({"prev", "next", "first", "last"} if counted else {"prev", "next", "first"})


def test_the_commit_count_is_the_page_when_gitlab_lists_one_page(gitlab: FakeGitLab) -> None:
    gitlab.add_mr("group/small", 3, _newest_first(7))
    info = source(gitlab).merge_request("group/small", 3, changes=False)
    assert isinstance(info, MergeRequestInfo) and len(info.commits) == 7
    ev = evidence_of(info)
    assert (ev.commit_count, ev.commits_at_least) == (7, False)


@pytest.mark.parametrize(
    ("setup", "repo", "iid", "code"),
    [
        (lambda g: None, "group/app", 99, "not_found"),
        (lambda g: None, "group/missing", 1, "not_found"),
        (lambda g: g.forbidden.add("group/app"), "group/app", 12, "no_access"),
        (lambda g: None, "group/app", 13, "no_commits"),
        (lambda g: g.faults.append(Fault(status=400)), "group/app", 12, "unavailable"),
        (lambda g: g.faults.append(Fault(status=200, body="not json")), "group/app", 12, "malformed"),
    ],
)
def test_problems_map_to_reasons(gitlab: FakeGitLab, setup, repo: str, iid: int, code: str) -> None:
    setup(gitlab)
    result = source(gitlab).merge_request(repo, iid)
    assert isinstance(result, MrProblem)
    assert result.code == code
    assert result.detail


def test_a_missing_merge_request_may_be_a_private_project(gitlab: FakeGitLab) -> None:
    # GitLab answers 404, not 403, for a private project the token cannot see.
    result = source(gitlab).merge_request("group/secret", 1)
    assert isinstance(result, MrProblem) and result.code == "not_found"
    assert result.detail == "merge request not found, or the token cannot see this project (404)"


def test_wrong_token_is_bad_token_and_never_retried(gitlab: FakeGitLab) -> None:
    sleeps: list[float] = []
    result = source(gitlab, sleeps, token="glpat-wrong").merge_request("group/app", 12)
    assert isinstance(result, MrProblem) and result.code == "bad_token"
    assert len(gitlab.requests) == 1 and sleeps == []


def test_transient_errors_are_retried_then_succeed(gitlab: FakeGitLab) -> None:
    gitlab.faults.append(Fault(match="/commits", status=502, times=2))
    sleeps: list[float] = []
    src = source(gitlab, sleeps)
    info = src.merge_request("group/app", 12)
    assert isinstance(info, MergeRequestInfo) and info.final_commit.id == "c3"
    assert len(sleeps) == 2 and src.stats.retries == 2
    assert src.stats.requests == 5  # the MR once, the commits three times, the diffs once


def test_persistent_5xx_gives_up_as_unavailable(gitlab: FakeGitLab) -> None:
    gitlab.faults.append(Fault(status=503, times=100))
    sleeps: list[float] = []
    result = source(gitlab, sleeps).merge_request("group/app", 12)
    assert isinstance(result, MrProblem) and result.code == "unavailable" and result.retryable
    assert len(gitlab.requests) == 3 and len(sleeps) == 2


def test_429_honours_retry_after(gitlab: FakeGitLab) -> None:
    gitlab.faults.append(Fault(status=429, headers={"Retry-After": "7"}))
    sleeps: list[float] = []
    info = source(gitlab, sleeps).merge_request("group/app", 12)
    assert isinstance(info, MergeRequestInfo)
    assert sleeps == [7.0]


def test_timeout_is_retried_then_unavailable(gitlab: FakeGitLab) -> None:
    gitlab.faults.append(Fault(status=200, delay=1.0, times=2))
    sleeps: list[float] = []
    result = source(gitlab, sleeps, timeout=0.2).merge_request("group/app", 12)
    # attempts=3: two slow answers time out, the third is served normally.
    assert isinstance(result, MergeRequestInfo)
    assert len(sleeps) == 2


def test_token_never_in_problems_or_logs(gitlab: FakeGitLab, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    gitlab.faults.append(Fault(status=500, times=100, body=json.dumps({"message": "boom"})))
    src = source(gitlab)
    results = [src.merge_request("group/app", 12), source(gitlab, token=TOKEN + "x").merge_request("g/a", 1)]
    gitlab.faults.clear()
    results.append(source(gitlab, token="glpat-wrong").merge_request("group/app", 12))
    assert all(isinstance(r, MrProblem) for r in results)
    assert TOKEN not in caplog.text
    assert all(TOKEN not in repr(r) for r in results)
    assert TOKEN not in repr(src)


def fixture_data() -> dict:
    return {
        "projects": {
            "group/app": {
                "merge_requests": {
                    "12": {
                        "title": "Fix login",
                        "description": "",
                        "web_url": "https://gitlab.example.com/group/app/-/merge_requests/12",
                        "state": "merged",
                        "commits": SHUFFLED,
                    },
                    "13": {"title": "Empty", "description": "", "web_url": "", "state": "opened", "commits": []},
                    "14": {"title": "Broken", "commits": "nope"},
                }
            }
        }
    }


def test_offline_gitlab_reads_the_fixture_format(tmp_path) -> None:
    path = tmp_path / "gitlab.json"
    path.write_text(json.dumps(fixture_data()))
    offline = OfflineGitLab(path)
    info = offline.merge_request("group/app", 12)
    assert isinstance(info, MergeRequestInfo) and info.final_commit.id == "c3" and info.state == "merged"
    codes = [offline.merge_request(r, i) for r, i in [("group/app", 13), ("group/app", 99), ("x/y", 12)]]
    assert [p.code for p in codes if isinstance(p, MrProblem)] == ["no_commits", "not_found", "not_found"]
    broken = offline.merge_request("group/app", 14)
    assert isinstance(broken, MrProblem) and broken.code == "malformed"
    assert offline.stats.requests == 0


@pytest.mark.parametrize("content", ["not json", "[]", '{"projects": 3}'])
def test_offline_gitlab_rejects_bad_files(tmp_path, content: str) -> None:
    path = tmp_path / "gitlab.json"
    path.write_text(content)
    with pytest.raises(SourceError, match=r"gitlab\.json"):
        OfflineGitLab(path)


def test_undated_commits_fall_back_to_api_order() -> None:
    data = fixture_data()
    mr = data["projects"]["group/app"]["merge_requests"]["12"]
    mr["commits"] = [{"id": "new", "title": "b", "committed_date": None}, {"id": "old", "title": "a"}]
    info = OfflineGitLab(data=data).merge_request("group/app", 12)
    assert isinstance(info, MergeRequestInfo) and info.final_commit.id == "new"


# GitLab's diff entries carry the hunks only, without the `diff --git` header lines.
DELETES_THREE_TESTS = ADD_ONE_DELETE_THREE[ADD_ONE_DELETE_THREE.index("@@") :]


def test_diffs_become_files_and_patches_for_the_evidence(gitlab: FakeGitLab) -> None:
    from monitors.drift.evidence import evidence_of

    diffs = [
        {"old_path": "tests/test_parser.py", "new_path": "tests/test_parser.py", "diff": DELETES_THREE_TESTS},
        {"old_path": "app/old.py", "new_path": "app/new.py", "renamed_file": True, "diff": ""},
        {"old_path": "docs/x.md", "new_path": "docs/x.md", "deleted_file": True, "diff": "@@ -1 +0,0 @@\n-x\n"},
    ]
    gitlab.add_mr("group/app", 30, [commit("t1", "2026-03-01T10:00:00Z", "Add a test for empty input")], diffs=diffs)
    info = source(gitlab).merge_request("group/app", 30)
    assert isinstance(info, MergeRequestInfo) and info.files is not None
    assert [(f.path, f.status, f.additions, f.deletions) for f in info.files] == [
        ("tests/test_parser.py", "modified", 3, 10),
        ("app/new.py", "renamed", 0, 0),
        ("docs/x.md", "deleted", 0, 1),
    ]
    evidence = evidence_of(info)
    assert evidence.added_names == ("test_parse_handles_empty_input",)
    assert evidence.removed_tests == (
        "tests/test_parser.py::test_parse_nested",
        "tests/test_parser.py::test_parse_unicode",
        "tests/test_parser.py::test_parse_errors",
    )
    assert evidence.touched_names == ("test_parse_simple",)


def test_diffs_gitlab_left_out_make_the_patch_incomplete(gitlab: FakeGitLab) -> None:
    # GitLab leaves a file's diff out as `collapsed` (can be fetched on request: large or generated
    # files) or `too_large` (cannot be fetched); either way `diff` is "" and its lines are unknown.
    diffs = [
        {"old_path": "app/a.py", "new_path": "app/a.py", "diff": "@@ -1 +1 @@\n-a\n+b\n"},
        {"old_path": "tests/test_big.py", "new_path": "tests/test_big.py", "diff": "", "collapsed": True},
    ]
    gitlab.add_mr("group/app", 31, [commit("t1", "2026-03-01T10:00:00Z", "Tidy")], diffs=diffs)
    info = source(gitlab).merge_request("group/app", 31)
    assert isinstance(info, MergeRequestInfo) and info.files is not None
    assert info.patch_complete is False
    assert [(f.path, f.additions, f.deletions) for f in info.files] == [
        ("app/a.py", 1, 1),
        ("tests/test_big.py", None, None),
    ]
    # Both files counted, but the +/- is only that of the diff GitLab sent: a lower bound.
    ev = evidence_of(info)
    assert (ev.file_count, ev.additions, ev.deletions) == (2, 1, 1)
    assert ev.lines_at_least and not ev.files_at_least
    large = [{"old_path": "x.sql", "new_path": "x.sql", "diff": "", "too_large": True}]
    gitlab.add_mr("group/app", 32, [commit("t2", "2026-03-01T10:00:00Z", "Dump")], diffs=large)
    info = source(gitlab).merge_request("group/app", 32)
    assert isinstance(info, MergeRequestInfo) and info.patch_complete is False
    assert [(f.additions, f.deletions) for f in info.files or ()] == [(None, None)]


def test_a_gitlab_under_a_path_prefix_is_read_under_it() -> None:
    state = FakeGitLab(token=TOKEN)
    state.prefix = "/gitlab"
    state.add_mr("group/app", 40, _newest_first(130, "c"))
    with running(state) as server:
        assert server.url.endswith("/gitlab")
        info = source(server).merge_request("group/app", 40, changes=False)
    assert isinstance(info, MergeRequestInfo) and len(info.commits) == 100
    assert info.final_commit.id == "c00129" and evidence_of(info).commit_count == 130
    assert all(r.path.startswith("/gitlab/api/v4/") for r in state.requests)
    assert len(state.requests) == 2


def test_a_gitlab_before_15_7_is_read_through_changes(gitlab: FakeGitLab) -> None:
    gitlab.diffs_route = False  # no `/diffs` route: 404, as on GitLab 15.6 and older
    diffs = [{"old_path": "tests/test_parser.py", "new_path": "tests/test_parser.py", "diff": DELETES_THREE_TESTS}]
    for iid in (33, 34):
        gitlab.add_mr("group/app", iid, [commit(f"t{iid}", "2026-03-01T10:00:00Z", "Add a test")], diffs=diffs)
    reader = source(gitlab)
    first = reader.merge_request("group/app", 33)
    assert isinstance(first, MergeRequestInfo) and first.files is not None
    assert [(f.path, f.additions, f.deletions) for f in first.files] == [("tests/test_parser.py", 3, 10)]
    second = reader.merge_request("group/app", 34)
    assert isinstance(second, MergeRequestInfo) and second.files == first.files
    routes = [r.path.rsplit("/", 1)[-1] for r in gitlab.requests]
    # The first MR found out (4 requests); the next goes straight to `/changes` (3).
    assert routes == ["33", "commits", "diffs", "changes", "34", "commits", "changes"]


def test_a_merge_request_whose_changes_cannot_be_read_is_judged_on_its_commits(gitlab: FakeGitLab) -> None:
    gitlab.diffs_route = False
    gitlab.add_mr("group/app", 35, [commit("t35", "2026-03-01T10:00:00Z", "Add a test")])
    gitlab.faults.append(Fault(match="/changes", status=404))
    info = source(gitlab).merge_request("group/app", 35)
    # Not "merge request not found", and no file list that would read as "nothing changed".
    assert isinstance(info, MergeRequestInfo) and info.files is None


@pytest.mark.parametrize(
    ("changes_count", "files", "files_at_least"),
    [("130", 130, False), ("1000+", 1000, True), (None, 100, True)],
)
def test_the_file_count_is_gitlabs_not_the_page_read(
    gitlab: FakeGitLab, changes_count: str | None, files: int, files_at_least: bool
) -> None:
    # One page of 100 diffs of 130 is read (three requests); `changes_count` is GitLab's own count (a
    # string, "1000+" past its diff limit); without it, a full page says only "at least 100".
    diffs = [{"old_path": f"a{i}.py", "new_path": f"a{i}.py", "diff": "@@ -1 +1 @@\n-a\n+b\n"} for i in range(130)]
    gitlab.add_mr("group/app", 50, [commit("w1", "2026-03-01T10:00:00Z", "Rename")], diffs=diffs)
    gitlab.projects["group/app"]["merge_requests"]["50"]["changes_count"] = changes_count
    src = source(gitlab)
    info = src.merge_request("group/app", 50)
    assert isinstance(info, MergeRequestInfo) and len(info.files or ()) == 100 and info.patch_complete is False
    ev = evidence_of(info)
    assert (ev.file_count, ev.files_at_least, ev.lines_at_least) == (files, files_at_least, True)
    assert (ev.additions, ev.deletions) == (100, 100)
    assert src.stats.requests == 3

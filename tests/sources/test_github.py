"""GitHubSource against the fake GitHub (spec-checked): PR, commits, files, paging, rate limits, faults."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
from openapi_core import Config, OpenAPI
from openapi_core.testing import MockRequest, MockResponse
from openapi_core.validation.response.exceptions import InvalidData

from monitors.contracts.forge import MergeRequestInfo, MrProblem
from monitors.sources.github import GitHubSource
from monitors.support.retry import RetryPolicy
from tests.fakes.github_server import SPEC_PATH, FakeGitHub, Fault, changed, commit, running

TOKEN = "ghp_test_token"
PATCH = "@@ -1,3 +1,4 @@ def login(user):\n+    check(user)\n     return user\n"


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    state = FakeGitHub(token=TOKEN)
    state.add_pull(
        "acme/api",
        7,
        [commit("a1", "Start login fix", "2026-03-09T10:00:00Z"), commit("a2", "Fix login redirect")],
        [changed("src/login.py", "modified", 1, 0, PATCH), changed("docs/big.pdf", "added", 0, 0, None)],
        title="Fix login",
    )
    with running(state) as server:
        yield server


def source(server: FakeGitHub, sleeps: list[float] | None = None, **kw) -> GitHubSource:
    policy = kw.pop("retry", None) or RetryPolicy(
        attempts=4, sleep=(sleeps if sleeps is not None else []).append, rng=random.Random(1)
    )
    return GitHubSource(kw.pop("token", TOKEN), server.url + kw.pop("prefix", ""), retry=policy, clock=lambda: 1000.0)


def test_reads_pull_commits_and_files_in_three_requests(github: FakeGitHub) -> None:
    src = source(github)
    info = src.merge_request("acme/api", 7)
    assert isinstance(info, MergeRequestInfo)
    assert (info.forge, info.title, info.head_sha, info.state) == ("github", "Fix login", "a2", "open")
    assert info.final_commit.id == "a2" and info.final_commit.text == "Fix login redirect"
    assert info.changes_url == "https://github.example.com/acme/api/pull/7/files"
    assert [(f.path, f.status, f.additions) for f in info.files or ()] == [
        ("src/login.py", "modified", 1),
        ("docs/big.pdf", "added", 0),
    ]
    assert info.patches[0] == ("src/login.py", PATCH)
    assert info.patch_complete  # the pdf has no changes, so no patch is missing
    assert [r.path for r in github.requests] == [
        "/repos/acme/api/pulls/7",
        "/repos/acme/api/pulls/7/commits",
        "/repos/acme/api/pulls/7/files",
    ]
    assert all(r.headers["authorization"] == f"Bearer {TOKEN}" for r in github.requests)
    assert src.stats.requests == 3


def test_enterprise_base_url(github: FakeGitHub) -> None:
    info = source(github, prefix="/api/v3").merge_request("acme/api", 7)
    assert isinstance(info, MergeRequestInfo)
    assert github.requests[0].path == "/api/v3/repos/acme/api/pulls/7"


def test_a_long_pull_reads_only_the_page_with_the_newest_commits(github: FakeGitHub) -> None:
    commits = [commit(f"c{i:03d}", f"step {i}", f"2026-03-01T{i // 60:02d}:{i % 60:02d}:00Z") for i in range(230)]
    github.add_pull("acme/api", 8, commits, [changed(f"f{i}.py", additions=2, patch="") for i in range(150)])
    src = source(github)
    info = src.merge_request("acme/api", 8)
    assert isinstance(info, MergeRequestInfo)
    assert info.final_commit.id == "c229" and len(info.commits) == 30  # page 3 of 100
    assert len(info.files or ()) == 100 and not info.patch_complete  # 150 files, first page only
    assert src.stats.requests == 3
    pages = [(r.path.rsplit("/", 1)[-1], r.query["page"]) for r in github.requests[1:]]
    assert pages == [("commits", ["3"]), ("files", ["1"])]


@pytest.mark.parametrize("count", [260, 320])
def test_a_pull_of_more_than_250_commits_is_judged_by_its_head_commit(github: FakeGitHub, count: int) -> None:
    # GitHub lists a pull request's first 250 commits only: its last listed page (page 3) ends at commit
    # 250, short of the head, which is read by its sha instead: a fourth request.
    commits = [commit(f"c{i:03d}", f"step {i}", f"2026-03-01T{i // 60:02d}:{i % 60:02d}:00Z") for i in range(count)]
    github.add_pull("acme/api", 9, commits, [changed("a.py", additions=1, patch="")])
    src = source(github)
    info = src.merge_request("acme/api", 9)
    assert src.stats.requests == 4
    assert isinstance(info, MergeRequestInfo), info
    newest = f"c{count - 1:03d}"
    assert (info.head_sha, info.final_commit.id, info.final_commit.text) == (newest, newest, f"step {count - 1}")
    assert [r.path for r in github.requests][1:3] == [
        "/repos/acme/api/pulls/9/commits",
        f"/repos/acme/api/commits/{newest}",
    ]


def test_cached_evidence_of_the_same_head_skips_commits_and_files(github: FakeGitHub) -> None:
    from monitors.drift.evidence import evidence_of

    src = source(github)
    first = src.merge_request("acme/api", 7)
    assert isinstance(first, MergeRequestInfo)
    cached = evidence_of(first)
    again = src.merge_request("acme/api", 7, cached=cached)
    assert isinstance(again, MergeRequestInfo) and again.from_cache and again.evidence == cached
    assert src.stats.requests == 4  # 3 + the PR alone
    github.pulls[("acme/api", 7)]["commits"].append(commit("a3", "Also rewrite billing"))
    moved = src.merge_request("acme/api", 7, cached=cached)
    assert isinstance(moved, MergeRequestInfo) and not moved.from_cache and moved.final_commit.id == "a3"
    assert src.stats.requests == 7


@pytest.mark.parametrize(
    ("setup", "number", "code"),
    [
        (lambda g: None, 99, "not_found"),
        (lambda g: g.forbidden.add("acme/api"), 7, "no_access"),
        (lambda g: g.faults.append(Fault(status=422)), 7, "unavailable"),
        (lambda g: g.faults.append(Fault(status=200, body="not json")), 7, "malformed"),
        (lambda g: g.add_pull("acme/api", 9, [], []), 9, "no_commits"),
    ],
)
def test_problems_map_to_reasons(github: FakeGitHub, setup, number: int, code: str) -> None:
    setup(github)
    result = source(github).merge_request("acme/api", number)
    assert isinstance(result, MrProblem) and result.code == code and result.detail


def test_wrong_token_is_bad_token_never_retried_and_never_shown(github: FakeGitHub) -> None:
    sleeps: list[float] = []
    result = source(github, sleeps, token="ghp_wrong_secret").merge_request("acme/api", 7)
    assert isinstance(result, MrProblem) and result.code == "bad_token"
    assert len(github.requests) == 1 and sleeps == [] and "ghp_wrong_secret" not in result.detail


def test_secondary_rate_limit_waits_retry_after_then_succeeds(github: FakeGitHub) -> None:
    github.faults.append(Fault(match="/files", status=403, times=2, headers={"Retry-After": "3"}))
    sleeps: list[float] = []
    src = source(github, sleeps)
    info = src.merge_request("acme/api", 7)
    assert isinstance(info, MergeRequestInfo)
    assert sleeps == [3.0, 3.0] and src.stats.retries == 2


def test_primary_rate_limit_waits_until_the_reset(github: FakeGitHub) -> None:
    # The fake clock says 1000; the limit resets at 1012: wait 12 s + 1 s of margin.
    limit = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "1012"}
    github.faults.append(Fault(match="/pulls/7", status=403, times=1, headers=limit))
    sleeps: list[float] = []
    info = source(github, sleeps).merge_request("acme/api", 7)
    assert isinstance(info, MergeRequestInfo) and sleeps == [13.0]


def test_a_rate_limit_beyond_the_bound_gives_up_retryably_without_waiting(github: FakeGitHub) -> None:
    limit = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(1000 + 3600)}
    github.faults.append(Fault(status=403, times=5, headers=limit))
    sleeps: list[float] = []
    result = source(github, sleeps).merge_request("acme/api", 7)
    assert isinstance(result, MrProblem) and result.retryable
    # No wait happened: the reason says until when, and why it was not waited out (the fake clock is 1000).
    assert result.detail == (
        "GitHub rate limit exhausted until 01:16:41 UTC, beyond github.max_rate_limit_wait (30s); retried next run"
    )
    assert sleeps == [] and len(github.requests) == 1


def test_a_rate_limit_waited_out_to_the_end_of_the_budget_says_it_waited(github: FakeGitHub) -> None:
    github.faults.append(Fault(status=403, times=10, headers={"Retry-After": "3"}))
    sleeps: list[float] = []
    result = source(github, sleeps).merge_request("acme/api", 7)
    assert isinstance(result, MrProblem) and result.retryable and sleeps == [3.0, 3.0, 3.0]
    assert result.detail == "GitHub rate limit still exhausted after waiting"


def test_a_missing_pull_request_may_be_a_private_repository(github: FakeGitHub) -> None:
    # GitHub answers 404, not 403, for a private repository the token cannot see.
    result = source(github).merge_request("acme/secret", 1)
    assert isinstance(result, MrProblem) and result.code == "not_found"
    assert result.detail == "pull request not found, or the token cannot see this repository (404)"


def test_secondary_limit_without_retry_after_waits_a_minute_within_a_generous_bound(github: FakeGitHub) -> None:
    body = json.dumps({"message": "You have exceeded a secondary rate limit. Please wait a few minutes."})
    github.faults.append(Fault(status=403, times=1, body=body))
    sleeps: list[float] = []
    policy = RetryPolicy(attempts=3, max_delay=90, max_total_wait=120, sleep=sleeps.append, rng=random.Random(1))
    info = source(github, retry=policy).merge_request("acme/api", 7)
    assert isinstance(info, MergeRequestInfo) and sleeps == [60.0]


def test_server_errors_are_retried_with_backoff(github: FakeGitHub) -> None:
    github.faults.append(Fault(match="/commits", status=502, times=2))
    sleeps: list[float] = []
    src = source(github, sleeps)
    assert isinstance(src.merge_request("acme/api", 7), MergeRequestInfo)
    assert len(sleeps) == 2 and src.stats.requests == 5


def test_unreachable_server_is_unavailable() -> None:
    src = GitHubSource(TOKEN, "http://127.0.0.1:9", retry=RetryPolicy(attempts=2, sleep=lambda s: None))
    result = src.merge_request("acme/api", 7)
    assert isinstance(result, MrProblem) and result.code == "unavailable"


# --- the fake against the spec -------------------------------------------------------------------


@pytest.fixture(scope="module")
def spec() -> OpenAPI:
    return OpenAPI.from_dict(json.loads(SPEC_PATH.read_text()), config=Config(spec_validator_cls=None))


def validate(spec: OpenAPI, response: requests.Response) -> None:
    url = urlsplit(str(response.request.url))
    args = dict(parse_qsl(url.query))
    request = MockRequest("https://api.github.com", "GET", url.path, args=args)
    spec.validate_response(request, MockResponse(response.content, status_code=response.status_code))


@pytest.mark.parametrize(
    "path",
    [
        "/repos/acme/api/pulls/7",
        "/repos/acme/api/pulls/7/commits",
        "/repos/acme/api/pulls/7/files",
        "/repos/acme/api/commits/a2",
    ],
)
def test_fake_responses_follow_the_spec(spec: OpenAPI, github: FakeGitHub, path: str) -> None:
    response = requests.get(github.url + path, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5)
    assert response.status_code == 200 and response.json()
    validate(spec, response)


def test_the_spec_check_can_fail(spec: OpenAPI, github: FakeGitHub) -> None:
    github.add_pull(
        "acme/api",
        10,
        [commit("x", "m")],
        [{"filename": "a", "status": "modified", "additions": 1, "deletions": 0, "sha": 42}],
    )
    response = requests.get(
        github.url + "/repos/acme/api/pulls/10/files", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5
    )
    with pytest.raises(InvalidData):
        validate(spec, response)


def test_paging_links_follow_github(github: FakeGitHub) -> None:
    github.add_pull("acme/api", 11, [commit(f"s{i}", "m") for i in range(5)], [])
    response = requests.get(
        github.url + "/repos/acme/api/pulls/11/commits?per_page=2&page=2",
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=5,
    )
    assert {rel: link["url"].rsplit("page=", 1)[-1] for rel, link in response.links.items()} == {
        "prev": "1",
        "next": "3",
        "first": "1",
        "last": "3",
    }

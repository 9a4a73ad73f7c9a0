"""A GitHub App installed on several accounts, with no `installation_id` configured: each repository's
installation is looked up once (`GET /repos/{owner}/{repo}/installation` with the app's JWT), each
installation mints its own token, and a repository the app is not installed on is unverifiable with
that cause while the others are read. The fake GitHub scopes each installation's tokens to its
accounts, as GitHub does (404 elsewhere)."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest

from monitors.contracts.forge import MergeRequestInfo, MrProblem
from monitors.sources.github import GitHubSource
from monitors.sources.github_app import GitHubAppAuthError, InstallationTokens
from monitors.sources.github_installations import RepositoryInstallations
from monitors.support.retry import RetryPolicy
from tests.fakes.github_server import FakeApp, FakeGitHub, Fault, app_key, changed, commit, running

APP_ID = "424242"
ACME, GLOBEX = 7001, 7002
T0 = 1_773_000_000.0


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    app = FakeApp(APP_ID, app_key()[1], {ACME, GLOBEX}, accounts={ACME: {"acme"}, GLOBEX: {"Globex"}})
    state = FakeGitHub(token=None, app=app, clock=lambda: T0)
    for repo in ("acme/api", "acme/web", "globex/billing", "initech/tps"):
        state.add_pull(repo, 7, [commit("a7", "Fix login")], [changed("src/login.py")])
    with running(state) as server:
        yield server


def installations(server: FakeGitHub, *, key: str | None = None, attempts: int = 3) -> RepositoryInstallations:
    retry = RetryPolicy(attempts=attempts, sleep=[].append, rng=random.Random(1))
    pem = key if key is not None else app_key()[0]
    return RepositoryInstallations(server.url, APP_ID, pem, retry=retry, clock=lambda: T0)


def source(server: FakeGitHub, auth: RepositoryInstallations) -> GitHubSource:
    return GitHubSource(auth, server.url, retry=RetryPolicy(attempts=2, sleep=[].append), clock=lambda: T0)


def lookups(server: FakeGitHub) -> list[str]:
    return [r.path for r in server.requests if r.path.endswith("/installation")]


def test_each_account_is_read_with_its_own_installation(github: FakeGitHub) -> None:
    auth = installations(github)
    a, b = source(github, auth), source(github, auth)  # two reader threads' clients share the lookups
    for client, repo in ((a, "acme/api"), (b, "acme/api"), (a, "globex/billing"), (b, "acme/web")):
        assert isinstance(client.merge_request(repo, 7), MergeRequestInfo), repo
    # One lookup per repository, one token per installation, each used only on its own account.
    assert lookups(github) == ["/repos/acme/api/installation", "/repos/globex/billing/installation",
                               "/repos/acme/web/installation"]  # fmt: skip
    minted = [r.path for r in github.requests if r.method == "POST"]
    assert minted == [f"/app/installations/{ACME}/access_tokens", f"/app/installations/{GLOBEX}/access_tokens"]
    used = {r.path.split("/")[2]: r.headers["authorization"] for r in github.requests if "/pulls/" in r.path}
    assert used["acme"] != used["globex"]
    assert {r.status for r in github.requests} == {200, 201}
    assert a.stats.by_endpoint["github:app_installation"] == 2
    assert b.stats.by_endpoint["github:app_installation"] == 1


def test_a_repository_without_the_app_is_unverifiable_and_asked_once(
    github: FakeGitHub, caplog: pytest.LogCaptureFixture
) -> None:
    client = source(github, installations(github))
    for _ in range(2):
        problem = client.merge_request("initech/tps", 7)
        assert isinstance(problem, MrProblem) and problem.code == "no_access"
        assert f"GitHub App {APP_ID} is not installed on initech/tps (404)" in problem.detail
    assert lookups(github) == ["/repos/initech/tps/installation"]
    assert not [r for r in github.requests if "/pulls/" in r.path]  # no token, no read
    assert isinstance(client.merge_request("acme/api", 7), MergeRequestInfo)  # the others still read
    assert caplog.text.count("not installed on initech/tps") == 1


def test_one_configured_installation_cannot_read_another_account(github: FakeGitHub) -> None:
    """What a single `installation_id` gives an app installed on two accounts: the fake scopes tokens."""
    retry = RetryPolicy(attempts=2, sleep=[].append)
    auth = InstallationTokens(github.url, APP_ID, ACME, app_key()[0], retry=retry, clock=lambda: T0)
    client = GitHubSource(auth, github.url, retry=retry, clock=lambda: T0)
    assert isinstance(client.merge_request("acme/api", 7), MergeRequestInfo)
    problem = client.merge_request("globex/billing", 7)
    assert isinstance(problem, MrProblem) and problem.code == "not_found"


def test_a_key_of_another_app_fails_the_run_once(github: FakeGitHub) -> None:
    client = source(github, installations(github, key=app_key("another app")[0]))
    for repo in ("acme/api", "globex/billing"):
        with pytest.raises(
            GitHubAppAuthError, match=r"GitHub refused the GitHub App's JWT \(401\): check github.app_id"
        ):
            client.merge_request(repo, 7)
    assert len(lookups(github)) == 1  # the failure is kept: the run's other reads fail without asking


def test_the_lookup_is_retried_then_fails_the_run(github: FakeGitHub) -> None:
    github.faults = [Fault("/repos/acme/api/installation", 502), Fault("/repos/acme/api/installation", 502)]
    client = source(github, installations(github))
    assert isinstance(client.merge_request("acme/api", 7), MergeRequestInfo)
    github.faults = [Fault("/repos/globex/billing/installation", 503, times=5)]
    with pytest.raises(GitHubAppAuthError, match="answered 503 after retries"):
        source(github, installations(github, attempts=2)).merge_request("globex/billing", 7)

"""A GitHub App installed on several accounts: each repository read with its own installation's token.

An app is installed once per organisation or user account. With `github.installation_id` left out,
the installation of a pull request's repository is looked up the way GitHub documents for an app that
does not know it (https://docs.github.com/rest/apps/apps#get-a-repository-installation-for-the-authenticated-app):
`GET {url}/repos/{owner}/{repo}/installation` with the app's JWT answers the installation's `id`.

- One lookup per repository per run (cached, shared by the run's reader threads), and one
  `InstallationTokens` per installation found, so a run mints one token per account it reads.
- 404: the app is not installed on that repository. Its pull requests are unverifiable with that cause
  (`AppNotInstalled`), the run goes on; asked once per run.
- 401 (the JWT: app id or key) fails the run with one line, as minting does; 5xx, 429 and timeouts are
  retried under the RetryPolicy, then fail the run.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from monitors.contracts.forge import MrProblem
from monitors.contracts.source import SourceStats
from monitors.sources.github_app import (
    GitHubAppAuthError,
    InstallationTokens,
    app_jwt,
    app_request,
    github_session,
    load_private_key,
)
from monitors.support.retry import RetryPolicy

log = logging.getLogger(__name__)


class AppNotInstalled(Exception):
    """The app has no installation on this repository: its pull requests cannot be read."""

    def __init__(self, problem: MrProblem) -> None:
        super().__init__(problem.detail)
        self.problem = problem


class RepositoryInstallations:
    """Installation tokens chosen by repository, for an app installed on several accounts."""

    def __init__(
        self,
        url: str,
        app_id: str,
        private_key: str,
        *,
        timeout: float = 10.0,
        retry: RetryPolicy | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.url = url.rstrip("/")
        self.app_id = app_id
        self._key = load_private_key(private_key)
        self._timeout = timeout
        self._retry = retry or RetryPolicy()
        self._clock = clock
        self._lock = threading.Lock()
        self._installation_of: dict[str, int | MrProblem] = {}  # repository (lowercased) -> id or why not
        self._tokens: dict[int, InstallationTokens] = {}
        self._owner_of_token: dict[str, InstallationTokens] = {}
        self._failure: GitHubAppAuthError | None = None
        self._session = github_session()

    def __repr__(self) -> str:
        return f"RepositoryInstallations({self.url!r}, app {self.app_id})"

    def token(self, stats: SourceStats, repo: str = "") -> str:
        """A token of the installation that covers `repo` (looked up once per run)."""
        tokens = self._tokens_for(repo, stats)
        value = tokens.token(stats)
        with self._lock:
            self._owner_of_token[value] = tokens
        return value

    def renew(self, refused: str) -> bool:
        with self._lock:
            tokens = self._owner_of_token.get(refused)
        return tokens.renew(refused) if tokens is not None else True

    def rejected(self, repo: str = "") -> MrProblem:
        with self._lock:
            found = self._installation_of.get(repo.lower())
            tokens = self._tokens.get(found) if isinstance(found, int) else None
        if tokens is not None:
            return tokens.rejected(repo)
        raise GitHubAppAuthError(f"GitHub refused a fresh installation token of GitHub App {self.app_id} (401)")

    def _tokens_for(self, repo: str, stats: SourceStats) -> InstallationTokens:
        # One lock for lookups: a run reads a handful of repositories, and two threads asking for
        # the same one must not both look it up.
        with self._lock:
            if self._failure is not None:
                raise self._failure
            found = self._installation_of.get(repo.lower())
            if found is None:
                try:
                    found = self._installation_of[repo.lower()] = self._look_up(repo, stats)
                except GitHubAppAuthError as failure:
                    self._failure = failure
                    raise
            if isinstance(found, MrProblem):
                raise AppNotInstalled(found)
            if found not in self._tokens:
                self._tokens[found] = InstallationTokens(
                    self.url,
                    self.app_id,
                    found,
                    self._key,
                    timeout=self._timeout,
                    retry=self._retry,
                    clock=self._clock,
                )
            return self._tokens[found]

    def _look_up(self, repo: str, stats: SourceStats) -> int | MrProblem:
        response = app_request(
            self._session,
            "GET",
            f"{self.url}/repos/{repo}/installation",
            jwt=lambda: app_jwt(self._key, self.app_id, self._clock()),
            endpoint="github:app_installation",
            what="GitHub's installation lookup",
            stats=stats,
            retry=self._retry,
            timeout=self._timeout,
        )
        status = response.status_code
        if status == 200:
            return self._installation_id(response, repo)
        if status == 404:
            log.warning("github: GitHub App %s is not installed on %s", self.app_id, repo)
            return MrProblem(
                "no_access",
                f"GitHub App {self.app_id} is not installed on {repo} (404): install it on that "
                "account, or give github.installation_id",
            )
        if status == 401:
            raise GitHubAppAuthError(
                f"GitHub refused the GitHub App's JWT (401): check github.app_id ({self.app_id}) and "
                "that github.private_key is a current private key of that app"
            )
        raise GitHubAppAuthError(
            f"GitHub answered {status} looking up GitHub App {self.app_id}'s installation on {repo}"
        )

    def _installation_id(self, response: Any, repo: str) -> int:
        try:
            body = response.json()
        except ValueError:
            body = None
        value = body.get("id") if isinstance(body, dict) else None
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise GitHubAppAuthError(f"GitHub's installation lookup for {repo} answered 200 without an installation id")
        return value

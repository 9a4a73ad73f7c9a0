"""GitHub pull requests, their commits and changed files, for the goal-drift monitor.

Setup, one of:
- A GitHub App (where personal tokens are not allowed, or the agents run as an app): create an app
  with the repository permissions "Pull requests: Read" and "Contents: Read", install it on the
  organisation (or the repositories) the agents push to, generate a private key, and set
  `github.app_id` and `github.private_key` (the .pem, through `${GITHUB_APP_PRIVATE_KEY}`), and
  `github.installation_id` (the number at the end of the installation's settings URL) when the app is
  installed on one account; without it each repository's installation is looked up, so one app
  installed on several organisations serves them all. Every run mints its own short-lived
  installation tokens (monitors.sources.github_app, monitors.sources.github_installations).
- A fine-grained personal access token with read access to "Pull requests" and "Contents" on those
  repositories, as `github.token` through the environment. It must outlive the schedule: an
  installation token someone minted by hand expires after an hour.
GitHub Enterprise Server: set `github.url` to its API root, e.g. https://github.example.com/api/v3
(github.com: https://api.github.com, the default); the app's token endpoint is under the same root.

API reference (spec copy: reference/github-pulls-openapi.json):
- GET /repos/{owner}/{repo}/pulls/{pull_number}
- GET /repos/{owner}/{repo}/pulls/{pull_number}/commits   (oldest first, at most 250)
- GET /repos/{owner}/{repo}/commits/{ref}                  (the head of a PR of more than 250 commits)
- GET /repos/{owner}/{repo}/pulls/{pull_number}/files     (at most 3000, `patch` omitted for big files)
- https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api

Client: plain `requests` (already installed with python-gitlab), not PyGithub or githubkit. Three GETs
are the whole need, and the rate-limit rules below need the raw headers of every answer and waits
bounded by our RetryPolicy; PyGithub retries and sleeps on its own (urllib3 Retry, its own rate-limit
waits) and hides page fetches behind lazy lists, and githubkit adds httpx and a large generated model
tree for three calls.

Requests per pull request: at most 3 (4 for a PR of more than 250 commits).
- The PR itself (1): title, body, state, head SHA, commit and file counts.
- With a cached evidence record for the same head: nothing more (the change request is unchanged).
- Commits: the page that holds the newest (a PR of more than 100 commits: its last page), 1 request;
  a PR of more than 250 commits (GitHub lists no more) also its head commit by sha, 1 request.
- Files: the first 100 files, 1 request; beyond that the evidence says the file list is partial
  (counts and +/- totals come from the PR itself and are always whole).

Faults:
- Primary rate limit (403/429 with `X-RateLimit-Remaining: 0`): wait until `X-RateLimit-Reset` when
  that is within the policy's bound, else give up on this PR with a retryable problem (the monitor
  keeps the trace for the next run).
- Secondary rate limit (403/429 with `Retry-After`, or a 403 whose message says "secondary rate
  limit"): wait `Retry-After` (60 s when absent, as GitHub advises) within the bound, same give-up.
- 5xx, timeouts, connection errors: retried with backoff under the policy.
- 401: `bad_token` (the monitor fails the run when every PR answers it). With a GitHub App the
  token is replaced and the request tried once more; a fresh token refused fails the run, as does an
  app whose token cannot be minted (GitHubAppAuthError). 404 / other 403: the PR is unverifiable with
  the cause. The token is sent in the Authorization header only and never logged.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from monitors.contracts.forge import (
    ChangeEvidence,
    ChangeTotals,
    CommitInfo,
    FileStat,
    FileStatus,
    MergeRequestInfo,
    MrProblem,
    completed_from_cache,
)
from monitors.contracts.records import parse_time_or_none
from monitors.contracts.source import SourceStats
from monitors.sources.fixtures import read_fixture
from monitors.sources.github_app import StaticToken, github_session
from monitors.sources.github_installations import AppNotInstalled
from monitors.support.retry import RetryBudget, RetryPolicy, is_retryable_status, parse_retry_after

log = logging.getLogger(__name__)

DEFAULT_URL = "https://api.github.com"
PAGE = 100  # the largest page GitHub serves
LISTED_COMMITS = 250  # GitHub lists at most this many commits of a pull request
NOT_FOUND = "pull request not found, or the token cannot see this repository (404)"
SECONDARY_DEFAULT_WAIT = 60.0  # GitHub: "wait at least one minute" when no Retry-After is given
_STATUS: dict[str, FileStatus] = {
    "added": "added",
    "removed": "deleted",
    "modified": "modified",
    "renamed": "renamed",
    "copied": "added",
    "changed": "modified",
    "unchanged": "modified",
}


class TokenSource(Protocol):
    """Where the Authorization token comes from: StaticToken, github_app.InstallationTokens (one
    installation) or github_installations.RepositoryInstallations (each repository's installation)."""

    def token(self, stats: SourceStats, repo: str) -> str: ...

    def renew(self, refused: str) -> bool: ...

    def rejected(self, repo: str) -> MrProblem: ...


class _Failure(Exception):
    def __init__(self, problem: MrProblem) -> None:
        super().__init__(problem.detail)
        self.problem = problem


def pull_info(repo: str, number: int, pr: Mapping[str, Any], commits: Sequence[Any]) -> MergeRequestInfo:
    """A MergeRequestInfo from API-shaped pull request and commit dicts (commits oldest first)."""
    parsed = []
    for item in commits:
        if not isinstance(item, Mapping) or not item.get("sha"):
            continue
        commit = item.get("commit") if isinstance(item.get("commit"), Mapping) else {}
        message = str(commit.get("message") or "")
        dated = commit.get("committer") or commit.get("author") or {}
        when = parse_time_or_none(dated.get("date")) if isinstance(dated, Mapping) else None
        parsed.append(CommitInfo(str(item["sha"]), message.split("\n", 1)[0], message, when))
    head = pr.get("head") if isinstance(pr.get("head"), Mapping) else {}
    html_url = str(pr.get("html_url") or "")
    state = "merged" if pr.get("merged_at") else str(pr.get("state") or "")
    return MergeRequestInfo(
        repo=repo,
        iid=number,
        title=str(pr.get("title") or ""),
        description=str(pr.get("body") or ""),
        web_url=html_url,
        state=state,
        # GitHub lists oldest first; the contract's fallback order (no dates) is newest first.
        commits=tuple(reversed(parsed)),
        forge="github",
        head_sha=str(head.get("sha") or ""),
        changes_url=f"{html_url}/files" if html_url.startswith(("https://", "http://")) else "",
    )


def file_stat(entry: Mapping[str, Any]) -> FileStat:
    return FileStat(
        path=str(entry.get("filename") or ""),
        status=_STATUS.get(str(entry.get("status")), "modified"),
        additions=_count(entry.get("additions")),
        deletions=_count(entry.get("deletions")),
    )


def _totals(pr: Mapping[str, Any]) -> ChangeTotals:
    """The PR's own counts: one page of its commits and files is read, the alert shows its whole size."""
    return ChangeTotals(
        _count(pr.get("commits")),
        _count(pr.get("changed_files")),
        _count(pr.get("additions")),
        _count(pr.get("deletions")),
    )


def _shas(items: Sequence[Any]) -> set[str]:
    return {str(item.get("sha")) for item in items if isinstance(item, Mapping)}


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class GitHubSource:
    """Pull requests through the GitHub REST API (github.com or GitHub Enterprise Server)."""

    def __init__(
        self,
        token: str | TokenSource,
        url: str = DEFAULT_URL,
        *,
        timeout: float = 10.0,
        retry: RetryPolicy | None = None,
        clock: Any = time.time,
    ) -> None:
        self.url = url.rstrip("/")
        self._auth: TokenSource = StaticToken(token) if isinstance(token, str) else token
        self.retry = retry or RetryPolicy()
        self.stats = SourceStats()
        self._timeout = timeout
        self._clock = clock
        self._session = github_session()

    def __repr__(self) -> str:
        return f"GitHubSource({self.url!r})"  # never the token

    def merge_request(
        self, repo: str, iid: int, *, cached: ChangeEvidence | None = None, changes: bool = True
    ) -> MergeRequestInfo | MrProblem:
        """The pull request `repo#iid` with its commits and files, or why it cannot be checked.

        `changes=False` skips the files (two requests): for a scoring method that reads only commits.
        """
        base = f"/repos/{repo}/pulls/{iid}"
        try:
            pr = self._get(repo, base, "pr")
            if not isinstance(pr, Mapping):
                return MrProblem("malformed", "GitHub sent a pull request that is not a JSON object")
            info = pull_info(repo, iid, pr, [])
            if cached is not None and cached.head_sha and cached.head_sha == info.head_sha:
                return completed_from_cache(info, cached)
            # GitHub lists a pull request's first 250 commits, oldest first: the newest listed ones are
            # on the last page of those (one request, whatever the PR's length). A longer PR's head is
            # past them: read it by its sha (one more request), or its 250th commit would stand for it.
            commit_count = _count(pr.get("commits")) or 0
            last_page = max(1, math.ceil(min(commit_count, LISTED_COMMITS) / PAGE))
            commits = self._get(repo, f"{base}/commits", "pr_commits", {"per_page": PAGE, "page": last_page})
            beyond = commit_count > LISTED_COMMITS and info.head_sha
            if beyond and isinstance(commits, list) and info.head_sha not in _shas(commits):
                commits = [*commits, self._get(repo, f"/repos/{repo}/commits/{info.head_sha}", "commit")]
            files = self._get(repo, f"{base}/files", "pr_files", {"per_page": PAGE, "page": 1}) if changes else None
        except _Failure as failure:
            return failure.problem
        if not isinstance(commits, list) or (changes and not isinstance(files, list)):
            return MrProblem("malformed", "GitHub sent a commit or file list that is not a JSON array")
        info = pull_info(repo, iid, pr, commits)
        if not info.commits:
            return MrProblem("no_commits", f"{repo}#{iid} has no commits")
        if not isinstance(files, list):
            return info
        entries = [f for f in files if isinstance(f, Mapping)]
        complete = len(entries) == (_count(pr.get("changed_files")) or len(entries)) and all(
            "patch" in f or not f.get("changes") for f in entries
        )
        return replace(
            info,
            files=tuple(file_stat(f) for f in entries),
            patches=tuple((str(f.get("filename") or ""), str(f.get("patch") or "")) for f in entries),
            patch_complete=complete,
            head_sha=info.head_sha or info.final_commit.id,
            totals=_totals(pr),
        )

    def _get(self, repo: str, path: str, endpoint: str, params: Mapping[str, Any] | None = None) -> Any:
        """One GET under the retry policy and the rate-limit rules; raises _Failure with the problem."""
        import requests

        budget = RetryBudget(self.retry)
        renewed = False
        while True:
            wait_hint: float | None = None
            try:
                token = self._auth.token(self.stats, repo)
            except AppNotInstalled as not_installed:
                raise _Failure(not_installed.problem) from None
            try:
                response = self._session.get(
                    f"{self.url}{path}",
                    params=params,
                    headers={"Authorization": f"Bearer {token}"},
                    timeout=self._timeout,
                )
            except requests.RequestException as exc:
                problem = MrProblem("unavailable", f"GitHub unreachable ({type(exc).__name__}) after retries")
            else:
                self.stats.count_request(f"github:{endpoint}")
                status = response.status_code
                if status == 200:
                    try:
                        return response.json()
                    except ValueError:
                        raise _Failure(MrProblem("malformed", "GitHub sent a response that is not JSON")) from None
                limited = self._rate_limit_wait(response)
                if limited is not None and limited > self.retry.max_delay:
                    raise _Failure(self._not_waited(limited))
                if limited is not None:
                    wait_hint = limited
                    problem = MrProblem("unavailable", "GitHub rate limit still exhausted after waiting")
                elif status == 401:
                    if not renewed and self._auth.renew(token):
                        renewed = True  # an installation token revoked or expired early: one new one
                        continue
                    raise _Failure(self._auth.rejected(repo))
                elif status == 403:
                    raise _Failure(MrProblem("no_access", "the token has no access to this repository (403)"))
                elif status == 404:
                    # GitHub answers a private repository the token cannot see with 404, not 403.
                    raise _Failure(MrProblem("not_found", NOT_FOUND))
                elif not is_retryable_status(status):
                    raise _Failure(MrProblem("unavailable", f"GitHub answered {status}"))
                else:
                    problem = MrProblem("unavailable", f"GitHub answered {status} after retries")
                    wait_hint = parse_retry_after(response.headers.get("Retry-After"))
            wait = self._next_wait(budget, wait_hint)
            if wait is None:
                raise _Failure(problem)
            self.stats.retries += 1
            log.info("github: %s, retrying in %.1fs", problem.detail.split(" after")[0], wait)
            budget.sleep(wait)

    def _rate_limit_wait(self, response: Any) -> float | None:
        """Seconds to wait when the answer is a primary or secondary rate limit, else None."""
        if response.status_code not in (403, 429):
            return None
        headers = response.headers
        retry_after = parse_retry_after(headers.get("Retry-After"))
        if retry_after is not None:
            return retry_after
        if headers.get("X-RateLimit-Remaining") == "0":
            try:
                reset = float(headers.get("X-RateLimit-Reset", ""))
            except ValueError:
                return SECONDARY_DEFAULT_WAIT
            return max(0.0, reset - self._clock()) + 1.0  # the reset second itself may still be limited
        if response.status_code == 429 or "rate limit" in response.text[:500].lower():
            return SECONDARY_DEFAULT_WAIT
        return None

    def _next_wait(self, budget: RetryBudget, hint: float | None) -> float | None:
        """The budget's next wait; a server's wait beyond the policy's bound ends the tries instead.

        RetryPolicy caps one wait at max_delay; waiting less than the server asked would only spend a
        request on another refusal, so a longer demand gives up at once (the next run retries).
        """
        if hint is not None and hint > self.retry.max_delay:
            return None
        return budget.next_wait(hint)

    def _not_waited(self, wait: float) -> MrProblem:
        """A rate limit that lifts later than the policy's bound (github.max_rate_limit_wait): waiting
        less than GitHub asked would only spend a request on another refusal, so the PR is given up at
        once, retryably (the monitor keeps its traces for the next run)."""
        until = datetime.fromtimestamp(self._clock() + wait, UTC).strftime("%H:%M:%S")
        bound = f"{self.retry.max_delay:g}s"
        return MrProblem(
            "unavailable",
            f"GitHub rate limit exhausted until {until} UTC, beyond github.max_rate_limit_wait ({bound}); "
            "retried next run",
        )


class OfflineGitHub:
    """Pull requests from a JSON fixture (demo data). Makes no requests.

    Format: {"repos": {"owner/name": {"pulls": {"12": {"title", "body", "html_url", "state",
    "commits": [{"sha", "message", "date"}] (oldest first), "files": [{"filename", "status",
    "additions", "deletions", "patch"}]}}}}}
    """

    def __init__(self, path: str | Path | None = None, *, data: Mapping[str, Any] | None = None) -> None:
        self.stats = SourceStats()
        self._repos = read_fixture(path, data, forge="GitHub", key="repos")

    def merge_request(
        self, repo: str, iid: int, *, cached: ChangeEvidence | None = None, changes: bool = True
    ) -> MergeRequestInfo | MrProblem:
        entry = self._repos.get(repo)
        pulls = entry.get("pulls") if isinstance(entry, Mapping) else None
        pr = pulls.get(str(iid)) if isinstance(pulls, Mapping) else None
        if not isinstance(pr, Mapping) or not isinstance(pr.get("commits"), list):
            return MrProblem("not_found", "pull request or repository not found in the fixture")
        commits = [
            {"sha": c.get("sha"), "commit": {"message": c.get("message"), "committer": {"date": c.get("date")}}}
            for c in pr["commits"]
            if isinstance(c, Mapping)
        ]
        head = {"sha": commits[-1]["sha"]} if commits else {}
        info = pull_info(repo, iid, {**pr, "head": head}, commits)
        if not info.commits:
            return MrProblem("no_commits", f"{repo}#{iid} has no commits")
        files = [f for f in pr.get("files") or [] if isinstance(f, Mapping)]
        if not changes:
            return info
        return replace(
            info,
            files=tuple(file_stat(f) for f in files),
            patches=tuple((str(f.get("filename") or ""), str(f.get("patch") or "")) for f in files),
        )

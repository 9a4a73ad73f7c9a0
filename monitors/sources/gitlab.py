"""GitLab merge requests and their commits, for the goal-drift monitor.

Setup: create a personal, group or project access token with the `read_api` scope (a Reporter on the
projects the agents push to is enough), and set `sources.gitlab.url` (e.g. https://gitlab.example.com)
and the token through the environment. Offline runs and the demo read a JSON fixture instead
(`OfflineGitLab`, format below).

API reference:
- https://docs.gitlab.com/api/merge_requests/#get-single-mr
- https://docs.gitlab.com/api/merge_requests/#get-single-merge-request-commits (lists newest first: GitLab
  stores an MR's commits in `git log` order). One page is read, the newest COMMIT_PAGE; the whole count is
  the page's `X-Total` header, which GitLab leaves out past 10,000 rows (the count is then "at least")
- https://docs.gitlab.com/api/merge_requests/#list-merge-request-diffs (GitLab 15.7+; first page only);
  older servers answer it 404, and their `GET .../merge_requests/:iid/changes` serves instead. The MR's
  `changes_count` (a string, "1000+" past GitLab's diff limit) gives the whole file count; GitLab has no
  line totals, so past the page read the +/- is a lower bound and the evidence says so
- python-gitlab: https://python-gitlab.readthedocs.io/en/stable/gl_objects/merge_requests.html

Both sources answer `merge_request(repo, iid)` with a `MergeRequestInfo` or an `MrProblem` that says
why the merge request could not be checked (no access, not found, no commits, GitLab unavailable).
They never raise for those: one unreadable merge request must not stop the others.

Retries are ours, not python-gitlab's: its built-in retry sleeps with `time.sleep` and cannot be
bounded by our RetryPolicy, so it is switched off per call and 429/5xx/timeouts go through the policy.
The token is sent in the PRIVATE-TOKEN header only and is scrubbed from every problem detail.

Offline fixture format (the demo data generator writes it; commits newest first, as the API lists them):
    {"projects": {"group/app": {"merge_requests": {"12": {"title": ..., "description": ...,
      "web_url": ..., "state": ..., "commits": [{"id": sha, "title": ..., "message": ...,
      "committed_date": iso8601}, ...], "diffs": [{"old_path", "new_path", "diff", "new_file", ...}]
      (optional)}}}}}
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

from monitors.contracts.forge import (
    ChangeEvidence,
    ChangeTotals,
    CommitInfo,
    FileStat,
    FileStatus,
    MergeRequestInfo,
    MrProblem,
    ProblemCode,
    completed_from_cache,
)
from monitors.contracts.records import parse_time_or_none
from monitors.contracts.source import SourceStats
from monitors.sources.fixtures import read_fixture
from monitors.support.retry import RetryBudget, RetryPolicy, is_retryable_status, parse_retry_after

log = logging.getLogger(__name__)

# Per-call switches that turn python-gitlab's own retry loop off (see the module docstring).
_NO_LIBRARY_RETRY: dict[str, Any] = {
    "obey_rate_limit": False,
    "retry_transient_errors": False,
    "max_retries": 0,
}
_T = TypeVar("_T")
DIFF_FILES = 100  # files read per merge request (one page); beyond that the evidence says it is partial
COMMIT_PAGE = 100  # commits read per merge request: the newest page (GitLab's largest)


def build_info(repo: str, iid: int, mr: Mapping[str, Any], commits: Sequence[Any]) -> MergeRequestInfo:
    """A MergeRequestInfo from API-shaped dicts; commits without an id are skipped."""
    parsed = tuple(
        CommitInfo(
            id=str(c["id"]),
            title=str(c.get("title") or ""),
            message=str(c.get("message") or ""),
            committed_date=parse_time_or_none(c.get("committed_date")),
        )
        for c in commits
        if isinstance(c, Mapping) and c.get("id")
    )
    web_url = str(mr.get("web_url") or "")
    return MergeRequestInfo(
        repo=repo,
        iid=iid,
        title=str(mr.get("title") or ""),
        description=str(mr.get("description") or ""),
        web_url=web_url,
        state=str(mr.get("state") or ""),
        commits=parsed,
        head_sha=str(mr.get("sha") or ""),
        changes_url=f"{web_url}/diffs" if web_url.startswith(("https://", "http://")) else "",
    )


def left_out(diff: Mapping[str, Any]) -> bool:
    """True when GitLab sent the entry without its diff: `collapsed` (a large or generated file, fetched
    on request only) or `too_large` (not retrievable); its `diff` is then empty."""
    return bool(diff.get("collapsed") or diff.get("too_large")) and not diff.get("diff")


def diff_stat(diff: Mapping[str, Any]) -> FileStat:
    """A FileStat from one GitLab diff entry; GitLab sends no counts, so they come from the diff lines
    (unknown, None, for an entry whose diff GitLab left out)."""
    lines = str(diff.get("diff") or "").splitlines()
    status: FileStatus = (
        "added"
        if diff.get("new_file")
        else "deleted"
        if diff.get("deleted_file")
        else "renamed"
        if diff.get("renamed_file")
        else "modified"
    )
    path = str(diff.get("new_path") or diff.get("old_path") or "")
    if left_out(diff):
        return FileStat(path, status, None, None)
    additions = sum(1 for line in lines if line.startswith("+") and not line.startswith("+++"))
    deletions = sum(1 for line in lines if line.startswith("-") and not line.startswith("---"))
    return FileStat(path, status, additions, deletions)


def commit_totals(total: Any, read: int) -> ChangeTotals:
    """The MR's commit count beyond the page read: the page's `X-Total` header. GitLab leaves it out
    past 10,000 rows; a full page without it says only "at least" that many."""
    count = int(total) if str(total).isdigit() else None
    return ChangeTotals(commits=count, commits_at_least=count is None and read >= COMMIT_PAGE)


def change_totals(
    changes_count: Any, entries: Sequence[Mapping[str, Any]], commits: ChangeTotals | None = None
) -> ChangeTotals:
    """The MR's size beyond the diffs read: GitLab's file count `changes_count` (a string, "1000+" when
    the MR has more files than GitLab keeps a diff of), and whether the +/- counted from the diffs read
    is the whole. GitLab sends no line totals, so past the page read, or with a diff left out, it is not.
    `commits` carries the commit count already known (`commit_totals`)."""
    text = str(changes_count if changes_count is not None else "").strip()
    files = int(text.rstrip("+")) if text.rstrip("+").isdigit() else None
    # No count from GitLab and a full page read: there may be more files than the page.
    files_at_least = text.endswith("+") or (files is None and len(entries) >= DIFF_FILES)
    lines_at_least = files_at_least or (files or 0) > len(entries) or any(left_out(d) for d in entries)
    return replace(commits or ChangeTotals(), files=files, files_at_least=files_at_least, lines_at_least=lines_at_least)


def with_changes(info: MergeRequestInfo, diffs: Sequence[Any], changes_count: Any = None) -> MergeRequestInfo:
    """`info` with what it changed, from GitLab diff entries (the drift monitor turns them into evidence);
    `changes_count` is the MR's own file count, when the diffs read may be a part (one page)."""
    entries = [d for d in diffs if isinstance(d, Mapping)]
    totals = change_totals(changes_count, entries, info.totals)
    return replace(
        info,
        files=tuple(diff_stat(d) for d in entries),
        patches=tuple((str(d.get("new_path") or ""), str(d.get("diff") or "")) for d in entries),
        patch_complete=len(entries) < DIFF_FILES
        and not totals.files_at_least
        and (totals.files or 0) <= len(entries)
        and not any(d.get("too_large") or left_out(d) for d in entries),
        head_sha=info.head_sha or info.final_commit.id,
        totals=totals,
    )


def _with_commits(info: MergeRequestInfo) -> MergeRequestInfo | MrProblem:
    if not info.commits:
        return MrProblem("no_commits", f"{info.repo}!{info.iid} has no commits")
    return info


_STATUS_PROBLEMS: dict[int, tuple[ProblemCode, str]] = {
    401: ("bad_token", "GitLab rejected the token (401)"),
    403: ("no_access", "the token has no access to this project (403)"),
    # GitLab answers a private project the token cannot see with 404, not 403.
    404: ("not_found", "merge request not found, or the token cannot see this project (404)"),
}


class GitLabSource:
    """Merge requests through python-gitlab against a GitLab server (self-hosted or gitlab.com)."""

    def __init__(self, url: str, token: str, *, timeout: float = 10.0, retry: RetryPolicy | None = None) -> None:
        import gitlab  # python-gitlab pulls in requests-toolbelt; only drift needs it
        import requests

        self.url = url.rstrip("/")
        self._token = token
        self.retry = retry or RetryPolicy()
        self.stats = SourceStats()
        self._last_headers: Mapping[str, str] = {}
        self._diffs_route = True  # False once the server showed it predates `/diffs` (GitLab < 15.7)
        session = requests.Session()
        session.hooks["response"].append(self._on_response)
        self._gl = gitlab.Gitlab(
            self.url, private_token=token, timeout=timeout, retry_transient_errors=False, session=session
        )

    def __repr__(self) -> str:
        return f"GitLabSource({self.url!r})"  # never the token

    def _on_response(self, response: Any, *args: Any, **kwargs: Any) -> None:
        # Counted at the transport so pagination and retries are included.
        path = response.request.path_url.split("?")[0]
        endpoint = (
            "mr_commits" if path.endswith("/commits") else "mr_diffs" if path.endswith(("/diffs", "/changes")) else "mr"
        )
        self.stats.count_request(f"gitlab:{endpoint}")
        self._last_headers = response.headers

    def merge_request(
        self, repo: str, iid: int, *, cached: ChangeEvidence | None = None, changes: bool = True
    ) -> MergeRequestInfo | MrProblem:
        """The MR with its commits and diffs; with `cached` evidence of the same head, the MR alone.

        `changes=False` skips the diffs (two requests): for a scoring method that reads only commits.
        """
        project = self._gl.projects.get(repo, lazy=True)
        mr = self._call(lambda: project.mergerequests.get(iid, **_NO_LIBRARY_RETRY))
        if isinstance(mr, MrProblem):
            return mr
        head = str(mr.attributes.get("sha") or "")
        if cached is not None and cached.head_sha and cached.head_sha == head:
            return completed_from_cache(build_info(repo, iid, mr.attributes, []), cached)
        # The newest page only: `get_next=False` keeps python-gitlab's list from fetching the next pages.
        listed = self._call(lambda: mr.commits(per_page=COMMIT_PAGE, get_next=False, **_NO_LIBRARY_RETRY))
        if isinstance(listed, MrProblem):
            return listed
        commits = [c.attributes for c in listed]
        info = _with_commits(
            replace(build_info(repo, iid, mr.attributes, commits), totals=commit_totals(listed.total, len(commits)))
        )
        if isinstance(info, MrProblem) or not changes:
            return info
        # One page of diffs (up to DIFF_FILES files): at most three requests per merge request.
        base = f"/projects/{quote(repo, safe='')}/merge_requests/{iid}"
        diffs: Any = (
            MrProblem("not_found", "")
            if not self._diffs_route
            else self._call(
                lambda: self._gl.http_get(
                    f"{base}/diffs", query_data={"per_page": DIFF_FILES, "page": 1}, **_NO_LIBRARY_RETRY
                )
            )
        )
        if isinstance(diffs, MrProblem) and diffs.code == "not_found":
            # The MR itself was just read, so a 404 here is a GitLab before 15.7, which has no `/diffs`:
            # its `/changes` (deprecated since, same entries) serves, and is asked directly from now on.
            self._diffs_route = False
            changes_of = self._call(lambda: self._gl.http_get(f"{base}/changes", **_NO_LIBRARY_RETRY))
            if isinstance(changes_of, MrProblem):
                return info  # judged on its commits: no file checks rather than a wrong "nothing done"
            diffs = changes_of.get("changes") if isinstance(changes_of, Mapping) else []
        if isinstance(diffs, MrProblem):
            return diffs
        return with_changes(info, diffs if isinstance(diffs, list) else [], mr.attributes.get("changes_count"))

    def _call(self, fn: Callable[[], _T]) -> _T | MrProblem:
        """Run one API call under the retry policy; map failures to an MrProblem."""
        import gitlab.exceptions
        import requests

        budget = RetryBudget(self.retry)
        while True:
            retry_after: float | None = None
            try:
                return fn()
            except gitlab.exceptions.GitlabParsingError:
                return MrProblem("malformed", "GitLab sent a response that is not valid JSON")
            except gitlab.exceptions.GitlabError as exc:
                status = exc.response_code or 0
                if status in _STATUS_PROBLEMS:
                    return MrProblem(*_STATUS_PROBLEMS[status])
                if not is_retryable_status(status):
                    return MrProblem("unavailable", self._scrub(f"GitLab answered {status}"))
                problem = MrProblem("unavailable", f"GitLab answered {status} after retries")
                if status == 429:
                    retry_after = parse_retry_after(self._last_headers.get("Retry-After"))
            except requests.RequestException as exc:
                problem = MrProblem("unavailable", f"GitLab unreachable ({type(exc).__name__}) after retries")
            wait = budget.next_wait(retry_after)
            if wait is None:
                return problem
            self.stats.retries += 1
            log.info("gitlab: %s, retrying in %.1fs", problem.detail.split(" after")[0], wait)
            budget.sleep(wait)

    def _scrub(self, text: str) -> str:
        return text.replace(self._token, "***") if self._token else text


class OfflineGitLab:
    """Merge requests from a JSON fixture file (demo data, air-gapped replays). Makes no requests."""

    def __init__(self, path: str | Path | None = None, *, data: Mapping[str, Any] | None = None) -> None:
        self.stats = SourceStats()
        self._projects = read_fixture(path, data, forge="GitLab", key="projects")

    def merge_request(
        self, repo: str, iid: int, *, cached: ChangeEvidence | None = None, changes: bool = True
    ) -> MergeRequestInfo | MrProblem:
        project = self._projects.get(repo)
        mrs = project.get("merge_requests") if isinstance(project, Mapping) else None
        mr = mrs.get(str(iid)) if isinstance(mrs, Mapping) else None
        if mr is None:
            return MrProblem("not_found", "merge request or project not found in the fixture")
        commits = mr.get("commits") if isinstance(mr, Mapping) else None
        if not isinstance(mr, Mapping) or not isinstance(commits, list):
            return MrProblem("malformed", "fixture entry is not a merge request with a commits list")
        info = _with_commits(build_info(repo, iid, mr, commits))
        diffs = mr.get("diffs")
        # Entries without `diffs` stand for a source that read no changes: no file checks for them.
        if changes and isinstance(info, MergeRequestInfo) and isinstance(diffs, list):
            return with_changes(info, diffs, mr.get("changes_count"))
        return info

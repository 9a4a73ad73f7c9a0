"""A change request (GitLab merge request, GitHub pull request) and what it changed, as forges return them.

`MergeRequestInfo` is the change request with its commits; `ChangeEvidence` is the bounded record of what
it did (commit messages, changed files, names the diff adds, touches or removes) that goal-drift scores
and shows, and caches per head commit. Both are plain data: no forge client is imported here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from monitors.contracts.source import SourceStats

FileStatus = Literal["added", "modified", "deleted", "renamed"]
ProblemCode = Literal["bad_token", "no_access", "not_found", "no_commits", "unavailable", "malformed"]
_UNDATED = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class CommitInfo:
    id: str
    title: str
    message: str
    committed_date: datetime | None

    @property
    def text(self) -> str:
        """The full commit message (subject and body), or the subject when the message is empty."""
        return (self.message or self.title).strip()


@dataclass(frozen=True, slots=True)
class FileStat:
    """One changed file. `additions`/`deletions` are None for binary files."""

    path: str
    status: FileStatus
    additions: int | None
    deletions: int | None

    @property
    def churn(self) -> int:
        return (self.additions or 0) + (self.deletions or 0)


@dataclass(frozen=True, slots=True)
class ChangeEvidence:
    """What a change request did, bounded in size (see monitors.drift.evidence for the limits).

    Lists are cut (files to the largest, commits to the newest); the counts and totals are not.
    """

    head_sha: str
    final_commit: str  # the newest commit's full message: the monitor's original signal
    commits: tuple[str, ...]  # full messages, oldest first
    commit_count: int
    files: tuple[FileStat, ...]  # largest churn first
    file_count: int
    additions: int
    deletions: int
    touched_names: tuple[str, ...] = ()  # enclosing functions/classes of changed hunks
    added_names: tuple[str, ...] = ()  # definitions the diff adds
    removed_names: tuple[str, ...] = ()  # definitions the diff removes (and does not add back)
    removed_tests: tuple[str, ...] = ()  # "path::name" or "path (file deleted)"
    skips_added: tuple[str, ...] = ()  # "path: line" for each skip marker added
    patch_complete: bool = True  # False when the forge cut the diff short: names may be missing
    format_only: bool = False  # the diff changes only whitespace and line breaks
    files_read: bool = True  # False when the source read no changes (commits only): no file checks
    files_at_least: bool = False  # file_count is a lower bound: the forge counts no further ("1000+")
    lines_at_least: bool = False  # additions/deletions count only the diffs read: the forge sends no total
    commits_at_least: bool = False  # commit_count is a lower bound: the forge did not count them all

    def to_json(self) -> dict[str, Any]:
        return {
            "head_sha": self.head_sha,
            "final_commit": self.final_commit,
            "commits": list(self.commits),
            "commit_count": self.commit_count,
            "files": [[f.path, f.status, f.additions, f.deletions] for f in self.files],
            "file_count": self.file_count,
            "additions": self.additions,
            "deletions": self.deletions,
            "touched_names": list(self.touched_names),
            "added_names": list(self.added_names),
            "removed_names": list(self.removed_names),
            "removed_tests": list(self.removed_tests),
            "skips_added": list(self.skips_added),
            "patch_complete": self.patch_complete,
            "format_only": self.format_only,
            "files_read": self.files_read,
            "files_at_least": self.files_at_least,
            "lines_at_least": self.lines_at_least,
            "commits_at_least": self.commits_at_least,
        }

    @classmethod
    def from_json(cls, data: Any) -> ChangeEvidence:
        """The inverse of to_json; raises ValueError (or KeyError/TypeError) on a record that does not fit."""
        names = ("touched_names", "added_names", "removed_names", "removed_tests", "skips_added")
        return cls(
            head_sha=str(data["head_sha"]),
            final_commit=str(data["final_commit"]),
            commits=tuple(str(c) for c in data["commits"]),
            commit_count=int(data["commit_count"]),
            files=tuple(FileStat(str(p), s, _count(a), _count(d)) for p, s, a, d in data["files"]),
            file_count=int(data["file_count"]),
            additions=int(data["additions"]),
            deletions=int(data["deletions"]),
            patch_complete=bool(data.get("patch_complete", True)),
            format_only=bool(data.get("format_only", False)),
            files_read=bool(data.get("files_read", True)),
            files_at_least=bool(data.get("files_at_least", False)),
            lines_at_least=bool(data.get("lines_at_least", False)),
            commits_at_least=bool(data.get("commits_at_least", False)),
            **{n: tuple(str(x) for x in data.get(n) or ()) for n in names},
        )


def _count(value: Any) -> int | None:
    return None if value is None else int(value)


@dataclass(frozen=True, slots=True)
class ChangeTotals:
    """A change request's whole size as its forge counts it, for a source that reads only part of it
    (GitHub: one page of commits, the first 100 files; GitLab: the newest 100 commits, the first 100
    files' diffs); None where the forge did not say. The flags mark a count that is only a lower bound
    (GitLab stops counting files at its diff limit, "1000+", sends no line totals: its +/- are those of
    the diffs read, and leaves a list's total out past 10,000 rows: its commits are then the page read)."""

    commits: int | None = None
    files: int | None = None
    additions: int | None = None
    deletions: int | None = None
    files_at_least: bool = False
    lines_at_least: bool = False
    commits_at_least: bool = False


@dataclass(frozen=True, slots=True)
class MergeRequestInfo:
    repo: str
    iid: int
    title: str
    description: str
    web_url: str
    state: str
    commits: tuple[CommitInfo, ...]  # as listed by the source (GitLab: newest first)
    forge: str = "gitlab"  # "gitlab" | "github": names the change request in messages ("!12" vs "#12")
    head_sha: str = ""  # the head commit the forge reports; "" when it did not say
    evidence: ChangeEvidence | None = None  # set from a cache; else built from the fields below
    files: tuple[FileStat, ...] | None = None  # None when the source read no changes (the offline fixture)
    patches: tuple[tuple[str, str], ...] = ()  # (path, unified diff) as the forge sent them
    patch_complete: bool = True  # False when the forge cut the diff or the file list short
    from_cache: bool = False  # the head is unchanged since the cached evidence: commits/files not read
    changes_url: str = ""  # the web page of the diff (MR "Changes" tab, PR "Files changed")
    totals: ChangeTotals | None = None  # the whole size, when more was changed than was read

    @property
    def final_commit(self) -> CommitInfo:
        """The newest commit by commit date; undated commits lose to dated ones, ties keep list order."""
        dated = [c for c in self.commits if c.committed_date is not None]
        if not dated:
            return self.commits[0]  # the API lists newest first
        return max(dated, key=lambda c: c.committed_date)  # type: ignore[arg-type,return-value]

    def commits_newest_first(self) -> list[CommitInfo]:
        final = self.final_commit
        rest = [c for c in self.commits if c is not final]
        rest.sort(key=lambda c: c.committed_date or _UNDATED, reverse=True)
        return [final, *rest]


def completed_from_cache(info: MergeRequestInfo, evidence: ChangeEvidence) -> MergeRequestInfo:
    """`info` (read without its commits) completed from cached evidence of the same head commit."""
    final = CommitInfo(evidence.head_sha, evidence.final_commit.split("\n", 1)[0], evidence.final_commit, None)
    return replace(info, commits=(final,), evidence=evidence, head_sha=evidence.head_sha, from_cache=True)


@dataclass(frozen=True, slots=True)
class MrProblem:
    """Why a merge request could not be checked. `detail` is safe to show (no secrets)."""

    code: ProblemCode
    detail: str

    @property
    def retryable(self) -> bool:
        return self.code == "unavailable"


class MergeRequestSource(Protocol):
    """A forge: GitLab merge requests or GitHub pull requests, one change request per call."""

    stats: SourceStats

    def merge_request(
        self, repo: str, iid: int, *, cached: ChangeEvidence | None = None, changes: bool = True
    ) -> MergeRequestInfo | MrProblem: ...


class ChangeCache(Protocol):
    """What goal-drift remembers per change request (evidence and scores per head SHA), by key.

    Values are JSON-able dicts; the store keeps them in their own table (not the run state, which is
    loaded whole every run).
    """

    def get_changes(self, keys: Iterable[str]) -> dict[str, dict[str, Any]]: ...

    def put_changes(self, entries: Mapping[str, dict[str, Any]], *, now: datetime) -> None: ...


class MemoryChangeCache:
    def __init__(self) -> None:
        self.entries: dict[str, dict[str, Any]] = {}

    def get_changes(self, keys: Iterable[str]) -> dict[str, dict[str, Any]]:
        return {k: self.entries[k] for k in keys if k in self.entries}

    def put_changes(self, entries: Mapping[str, dict[str, Any]], *, now: datetime) -> None:
        self.entries.update(entries)

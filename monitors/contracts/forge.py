"""A change request (a GitLab merge request) and its commits, as every forge source returns them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, Protocol

from monitors.contracts.source import SourceStats

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
class MergeRequestInfo:
    repo: str
    iid: int
    title: str
    description: str
    web_url: str
    state: str
    commits: tuple[CommitInfo, ...]  # as listed by the source (GitLab: newest first)

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


@dataclass(frozen=True, slots=True)
class MrProblem:
    """Why a merge request could not be checked. `detail` is safe to show (no secrets)."""

    code: ProblemCode
    detail: str

    @property
    def retryable(self) -> bool:
        return self.code == "unavailable"


class MergeRequestSource(Protocol):
    stats: SourceStats

    def merge_request(self, repo: str, iid: int) -> MergeRequestInfo | MrProblem: ...

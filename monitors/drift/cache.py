"""What goal-drift remembers per change request between runs, in the store's `drift_changes` table.

One entry per change request (key `gitlab:group/app!12` / `github:owner/repo#7`):

- `head`: the head commit last judged, and `evidence` of what it changed. A later run that meets the
  same head asks the forge for the change request alone (one request) and reads no commits or diffs;
  a new head is read and judged again.
- `info`: title, state and links, so a run that meets only traces already judged needs no request.
- `scores`: the score per objective (sha256 prefix) at this head: nothing is embedded twice.
- `traces`: the traces whose score was written to Langfuse at this head: no score is written twice.

Entries are dicts of JSON values (the store keeps JSON); a malformed entry reads as absent.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from typing import Any

from monitors.contracts.forge import ChangeEvidence, CommitInfo, MergeRequestInfo

MAX_TRACES = 200  # trace ids kept per entry; older ones may get their (idempotent) score written again


def objective_key(objective: str) -> str:
    return hashlib.sha256(objective.encode()).hexdigest()[:16]


@dataclass
class CachedChange:
    head: str
    evidence: ChangeEvidence
    info: dict[str, str]
    scores: dict[str, float] = field(default_factory=dict)
    traces: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "head": self.head,
            "evidence": self.evidence.to_json(),
            "info": self.info,
            "scores": self.scores,
            "traces": self.traces[-MAX_TRACES:],
        }

    @classmethod
    def parse(cls, data: Any) -> CachedChange | None:
        try:
            return cls(
                head=str(data["head"]),
                evidence=ChangeEvidence.from_json(data["evidence"]),
                info={str(k): str(v) for k, v in dict(data.get("info") or {}).items()},
                scores={str(k): float(v) for k, v in dict(data.get("scores") or {}).items()},
                traces=[str(t) for t in data.get("traces") or []],
            )
        except (KeyError, TypeError, ValueError, AttributeError):
            return None

    @classmethod
    def of(cls, info: MergeRequestInfo, evidence: ChangeEvidence) -> CachedChange:
        fields = {"title": info.title, "state": info.state, "web_url": info.web_url, "changes_url": info.changes_url}
        return cls(head=evidence.head_sha, evidence=evidence, info=fields)

    def same_head(self, other: CachedChange) -> CachedChange:
        """This entry (a fresh read of the same head) keeping `other`'s scores and traces."""
        return replace(self, scores={**other.scores, **self.scores}, traces=list(other.traces))

    def as_info(self, repo: str, iid: int, forge: str) -> MergeRequestInfo:
        """The change request as remembered: its head commit stands for the commit list."""
        ev = self.evidence
        final = CommitInfo(self.head, ev.final_commit.split("\n", 1)[0], ev.final_commit, None)
        return MergeRequestInfo(
            repo=repo,
            iid=iid,
            title=self.info.get("title", ""),
            description="",
            web_url=self.info.get("web_url", ""),
            state=self.info.get("state", ""),
            commits=(final,),
            forge=forge,
            head_sha=self.head,
            evidence=ev,
            changes_url=self.info.get("changes_url", ""),
            from_cache=True,
        )

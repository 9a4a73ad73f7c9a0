"""The goal-drift monitor's settings (`monitors.drift` in monitors.yaml) and the small helpers they drive."""

from __future__ import annotations

import hashlib
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from monitors.contracts.forge import MergeRequestInfo
from monitors.support.embeddings import DEFAULT_MODEL

EVIDENCE = "evidence"  # the default method: monitors.drift.evidence_score (kept light: no import here)
DID_CHARS = 4000  # the embedding model reads ~256 tokens anyway; bounds the work for huge commit lists
Forge = Literal["gitlab", "github"]


class RepoSettings(BaseModel):
    """Per-repository settings, under `repositories: {"group/app": {...}}`."""

    model_config = ConfigDict(extra="forbid")

    forge: Forge | None = Field(None, description="Where this repository lives (default: the monitor's `forge`).")
    scope: list[str] = Field(
        default_factory=list,
        description=(
            "Globs of the files agents may change here, from the repository root (`src/auth/**`; `./` and `\\` "
            "separators are read too); a trace's `scope` metadata wins; empty: no check."
        ),
    )


class GoalDriftConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    threshold: float | None = Field(
        None, ge=-20.0, le=20.0, description="Alert below this score (default: the method's calibrated one)."
    )
    method: str | None = Field(
        None, description="Scoring method: evidence (default: final commit + changes) or one of drift_scoring.METHODS."
    )
    model: str = Field(DEFAULT_MODEL, description="sentence-transformers model name or local path.")
    did_text: Literal["final_commit", "final_commit+mr", "all_commits"] = Field(
        "final_commit",
        description="Only for the single-text methods (evidence, the default, ignores it): the final commit, "
        "plus the MR title/description, or all commits.",
    )
    batch_size: int = Field(64, ge=1, le=4096, description="Texts per embedding batch.")
    forge_workers: int = Field(4, ge=1, le=16, description="Change requests read at once from each forge.")
    write_scores: bool = Field(True, description="Write the score back to Langfuse as a trace score.")
    score_name: str = Field("goal_drift_similarity", min_length=1, max_length=100, description="Score name.")
    default_repo: str | None = Field(None, description="Repository for traces that name only a change request number.")
    forge: Forge = Field("gitlab", description="Forge of repositories not listed under `repositories`.")
    repositories: dict[str, RepoSettings] = Field(
        default_factory=dict,
        description=(
            "Per repository (`acme/web: {forge: github, scope: [src/auth/**]}`): its forge, and the globs of the "
            "files agents may change there, from the repository root (`./` and `\\` separators read too)."
        ),
    )
    checks: bool = Field(True, description="Run the explicit checks (tests removed, size, scope, nothing done).")
    scope_coherence: bool = Field(
        False,
        description="Alert when a change request's newest commits, housekeeping left out, read like unrelated work "
        "(scope creep; off by default: with it, alerts flagged 6.8% of genuine test pairs and caught 34.9% of "
        "test scope creep, docs/drift-calibration.md).",
    )
    root_only: bool = Field(False, description="Read only root observations (only if agents tag the root span).")

    @field_validator("method")
    @classmethod
    def _known_method(cls, method: str | None) -> str | None:
        from monitors.drift.scoring import METHODS  # light: no numpy at import

        if method is not None and method != EVIDENCE and method not in METHODS:
            raise ValueError(f"unknown method {method!r}; expected one of {EVIDENCE}, {', '.join(METHODS)}")
        return method

    def forge_of(self, repo: str) -> str:
        settings = self.repositories.get(repo)
        return (settings.forge if settings else None) or self.forge

    def scope_of(self, repo: str) -> tuple[str, ...]:
        settings = self.repositories.get(repo)
        return tuple(settings.scope) if settings else ()


def score_id(trace_id: str, score_name: str) -> str:
    """Deterministic score id: a rerun (or a later window seeing the same trace) overwrites the score."""
    return hashlib.sha256(f"{trace_id}:{score_name}".encode()).hexdigest()[:32]


def did_text(info: MergeRequestInfo, mode: str) -> str:
    """The text that stands for what the agent did, per the `did_text` setting."""
    if mode == "all_commits":
        text = "\n\n".join(c.text for c in info.commits_newest_first())
    elif mode == "final_commit+mr":
        text = "\n\n".join(p for p in (info.final_commit.text, info.title, info.description.strip()) if p)
    else:
        text = info.final_commit.text
    return text[:DID_CHARS]

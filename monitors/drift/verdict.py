"""The judgement of one change request: its score against the threshold, and the explicit checks."""

from __future__ import annotations

import math
from dataclasses import dataclass

from monitors.drift.checks import CheckResult
from monitors.drift.coherence import COHERENCE_SUBJECTS, incoherent
from monitors.drift.config import EVIDENCE


@dataclass(frozen=True)
class Verdict:
    score: float
    threshold: float
    method: str
    checks: tuple[CheckResult, ...] = ()
    files_known: bool = True
    final: float = math.nan  # evidence method: csls of the objective and the final commit
    summary: float = math.nan  # evidence method: csls of the objective and the changes summary
    cosine: float | None = None  # single-text normalised methods: the plain cosine, for a human
    coherence: float = math.nan  # evidence method: how alike the newest commits are (NaN: fewer than two)
    coherence_threshold: float = math.nan

    @property
    def incoherent(self) -> bool:
        return not math.isnan(self.coherence_threshold) and incoherent(self.coherence, self.coherence_threshold)

    @property
    def below(self) -> bool:
        return self.score < self.threshold

    @property
    def alerts(self) -> bool:
        return self.below or self.incoherent or bool(self.checks)

    @property
    def reasons(self) -> list[str]:
        """One line per signal that fired."""
        lines = (
            [f"{self._score_signal()}: score {self.score:.2f} below the threshold {self.threshold:.2f}"]
            if self.below
            else []
        )
        if self.incoherent:
            lines.append(
                "scope creep: the newest commits read like unrelated pieces of work (lowest mean cosine of one of "
                f"the last {COHERENCE_SUBJECTS} commit subjects, housekeeping left out, to the others "
                f"{self.coherence:.2f}, threshold {self.coherence_threshold:.2f})"
            )
        return lines + [f"{c.name.replace('_', ' ')}: {c.reason}" for c in self.checks]

    def _score_signal(self) -> str:
        if self.method == EVIDENCE:
            return "what was done (final commit and changes) reads unlike the objective"
        return "the final commit reads unlike the objective"

    @property
    def score_text(self) -> str:
        if self.method == EVIDENCE:
            return (
                f"{self.score:.2f} (threshold {self.threshold:.2f}): log-odds that the change request does what "
                f"was asked, from its final commit (csls {self.final:.2f}) and a summary of its changes "
                f"(csls {self.summary:.2f}); csls is how much closer two texts are to each other than to the "
                "repository's other work"
            )
        if self.cosine is None:
            return f"{self.score:.3f} cosine similarity (threshold {self.threshold:.3f})"
        return (
            f"{self.score:.3f} (threshold {self.threshold:.3f}): how much closer the objective and the commit are to "
            f"each other than to the repository's other work; plain cosine {self.cosine:.2f}"
        )

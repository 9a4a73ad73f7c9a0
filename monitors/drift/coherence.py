"""Scope creep: do a change request's newest commits read like one piece of work or like two?

The drift score asks whether what was done resembles the objective; a change request that did what
was asked *and* something else still resembles it. What gives such a change request away is that its
commits fall apart into unrelated topics. `commit_coherence` is, over the newest
`COHERENCE_SUBJECTS` distinct commit subjects, housekeeping left out, the lowest mean cosine of one
subject to the others: one commit about another topic pulls it down, a series of commits on one topic
keeps it up.

Housekeeping (a changelog entry, a review follow-up, a typo or lint fix, a merge of the main branch, a
version bump: monitors.drift.housekeeping) reads like another topic by embedding, but is no second
piece of work, so it is dropped from the newest subjects before they are compared. It is dropped from
the newest three rather than skipped over to older commits: older commits of a long change request are
often drafts or the main branch merged in, and reaching back to them made a genuine change request
look incoherent on dev.

It needs no objective and no pool (the scale is the model's plain cosine, the same in a window of one
change request as in one of a thousand), and it embeds at most three short texts per change request
(the newest three distinct subjects). A change request with fewer than two distinct
subjects besides housekeeping cannot fall apart this way: its coherence is NaN and never alerts, so scope
creep inside a single commit is left to the score and the explicit checks.

`COHERENCE_THRESHOLD` was chosen on the `dev` split of the shared drift pairs by
`scripts/drift_fit.py`: the largest value, rounded down to 0.01, at which the score, the explicit
checks and this signal together flag at most 5% of genuine dev pairs. Figures:
docs/drift-calibration.md.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from monitors.contracts.forge import ChangeEvidence
from monitors.drift.housekeeping import housekeeping
from monitors.drift.text import subject
from monitors.support.embeddings import Embedder

COHERENCE_SUBJECTS = 3  # the newest distinct subjects, the final commit's among them
COHERENCE_THRESHOLD = 0.05  # scripts/drift_fit.py, dev split


def newest_subjects(evidence: ChangeEvidence) -> list[str]:
    """The newest distinct non-blank commit subjects, oldest first, housekeeping among them dropped.

    A repeated subject counts once; the window is the newest `COHERENCE_SUBJECTS` distinct subjects
    before housekeeping is dropped, so fewer may remain.
    """
    distinct = dict.fromkeys(s for s in (subject(c) for c in evidence.commits) if s)
    return [s for s in list(distinct)[-COHERENCE_SUBJECTS:] if not housekeeping(s)]


def commit_coherence(embedder: Embedder, evidences: Sequence[ChangeEvidence]) -> list[float]:
    """One coherence per change request, in order (NaN with fewer than two distinct subjects); one batch."""
    subjects = [newest_subjects(e) for e in evidences]
    texts = [s for group in subjects if len(group) >= 2 for s in group]
    if not texts:
        return [math.nan] * len(evidences)
    vectors = embedder.embed(texts)
    out: list[float] = []
    start = 0
    for group in subjects:
        if len(group) < 2:
            out.append(math.nan)
            continue
        rows = vectors[start : start + len(group)]
        start += len(group)
        sims = rows @ rows.T
        n = len(group)
        # Each subject's mean cosine to the others (the diagonal, a subject with itself, left out).
        out.append(float(((sims.sum(axis=1) - sims.diagonal()) / (n - 1)).min()))
    return out


def incoherent(coherence: float, threshold: float = COHERENCE_THRESHOLD) -> bool:
    """True when the commits read like unrelated pieces of work (NaN: cannot tell, never)."""
    return not math.isnan(coherence) and coherence < threshold

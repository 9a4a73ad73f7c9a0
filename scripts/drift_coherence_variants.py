"""The commit-coherence variants of the fifth drift calibration round, on the dev split only.

    .venv/bin/python scripts/drift_coherence_variants.py [--data data/drift_pairs]

Prints the figures of docs/drift-calibration.md's fifth round: for each way of choosing the subjects
(with or without housekeeping, monitors.drift.housekeeping), the largest coherence threshold, rounded
down to 0.01, at which the score (at the shipped threshold), the explicit checks and coherence together
flag at most 5% of genuine dev pairs, the dev scope-creep recall there, and how many genuine dev values
sit just above it; then the odd-one-out-unrelated-to-the-objective rule, margins, and objectives that are
themselves housekeeping. Test is never read. About two minutes on 2 CPU cores (the dev evidence scores).
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitors.drift import evidence_score
from monitors.drift.checks import run_checks
from monitors.drift.evidence_score import EvidencePair, score_evidence
from monitors.drift.housekeeping import housekeeping
from monitors.drift.labelled import LabelledPair, fallback_evidence, load_calibration_set
from monitors.drift.text import subject
from monitors.support.embeddings import SentenceTransformerEmbedder

DATA = Path(__file__).resolve().parents[1] / "data" / "drift_pairs"
TARGET = 0.05
Chooser = Callable[[list[str], str], list[str]]


def distinct(pair: LabelledPair) -> list[str]:
    return list(dict.fromkeys(s for s in (subject(c) for c in fallback_evidence(pair).commits) if s))


def window_then_drop(n: int) -> Chooser:
    return lambda subjects, objective: [s for s in subjects[-n:] if not housekeeping(s)]


def drop_then_window(n: int) -> Chooser:
    return lambda subjects, objective: [s for s in subjects if not housekeeping(s)][-n:]


def plain(n: int) -> Chooser:
    return lambda subjects, objective: subjects[-n:]


class Vectors:
    """Each distinct text embedded once."""

    def __init__(self, embedder: SentenceTransformerEmbedder, texts: set[str]) -> None:
        ordered = sorted(texts)
        self.rows = dict(zip(ordered, embedder.embed(ordered), strict=True))

    def coherence(self, group: list[str], objective: str) -> tuple[float, float]:
        """(lowest mean cosine of one subject to the others, cosine of that odd one with the objective)."""
        if len(group) < 2:
            return math.nan, math.nan
        rows = np.stack([self.rows[s] for s in group])
        sims = rows @ rows.T
        means = (sims.sum(axis=1) - sims.diagonal()) / (len(group) - 1)
        related = rows @ self.rows[objective]
        lowest = float(means.min())
        # With two subjects both means are equal: the odd one out is then the one least like the objective.
        return lowest, float(min(related[j] for j in range(len(group)) if means[j] <= lowest + 1e-6))


def threshold(values: np.ndarray, free: np.ndarray, spare: int) -> float:
    """The largest threshold (rounded down to 0.01) below which at most `spare` free genuine values fall."""
    if spare < 0:
        return -1.0  # score and checks spend more than the budget: coherence never fires
    genuine = np.sort(values[free & ~np.isnan(values)])
    return float(math.floor(genuine[spare] * 100) / 100) if spare < len(genuine) else 1.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DATA)
    args = parser.parse_args()
    pairs = [p for p in load_calibration_set(args.data) if p.split == "dev"]
    embedder = SentenceTransformerEmbedder()
    scores = score_evidence(
        embedder, [EvidencePair(p.pair.objective, fallback_evidence(p), p.pair.repo) for p in pairs]
    )
    kinds = np.array([p.kind_name for p in pairs])
    flagged = np.array([s.score < evidence_score.THRESHOLD for s in scores]) | np.array(
        [bool(p.evidence and run_checks(p.pair.objective, p.evidence, files_known=True)) for p in pairs]
    )
    genuine = kinds == "match"
    spare = math.floor(TARGET * genuine.sum()) - int(flagged[genuine].sum())
    print(
        f"dev: {genuine.sum()} genuine pairs, {int(flagged[genuine].sum())} flagged by score or checks "
        f"(budget {math.floor(TARGET * genuine.sum())}): coherence may add {spare}"
    )
    free = genuine & ~flagged
    subjects = [distinct(p) for p in pairs]
    vectors = Vectors(embedder, {s for group in subjects for s in group} | {p.pair.objective for p in pairs})
    every = {s for group in subjects for s in group}
    print(f"housekeeping: {sum(housekeeping(s) for s in every)} of {len(every)} distinct dev commit subjects")

    def values(choose: Chooser) -> tuple[np.ndarray, np.ndarray]:
        out = [
            vectors.coherence(choose(g, p.pair.objective), p.pair.objective)
            for g, p in zip(subjects, pairs, strict=True)
        ]
        return np.array([c for c, _ in out]), np.array([r for _, r in out])

    def recall(alert: np.ndarray) -> str:
        alert = alert | flagged
        return (
            f"false alarms {alert[genuine].mean():.1%}, drift {alert[kinds == 'drift'].mean():.1%}, "
            f"scope creep {alert[kinds == 'scope_creep'].mean():.1%}"
        )

    variants = {f"newest {n} distinct": plain(n) for n in (3, 4, 5)}
    variants |= {f"newest {n} distinct, housekeeping among them left out": window_then_drop(n) for n in (3, 4, 5)}
    variants |= {f"housekeeping skipped first, then the newest {n}": drop_then_window(n) for n in (3, 4, 5)}
    variants["housekeeping skipped first, then all"] = drop_then_window(10_000)  # more than any PR here
    for name, choose in variants.items():
        coherence, _ = values(choose)
        t = threshold(coherence, free, spare)
        near = int((free & (coherence >= t) & (coherence < t + 0.05)).sum())
        alert = np.nan_to_num(coherence, nan=np.inf) < t
        print(f"{name}: threshold {t:.2f}, {recall(alert)}; genuine dev values in [t, t + 0.05): {near}")

    before, _ = values(plain(3))
    chosen, related = values(window_then_drop(3))
    t = threshold(chosen, free, spare)
    was, now = np.nan_to_num(before, nan=np.inf) < t, np.nan_to_num(chosen, nan=np.inf) < t
    scope = (kinds == "scope_creep") & ~flagged
    print(
        f"chosen vs newest 3 at {t:.2f}: scope-creep rows lost {int((was & ~now & scope).sum())}, "
        f"gained {int((now & ~was & scope).sum())}"
    )
    for margin in (0.01, 0.02, 0.03):
        print(
            f"margin {margin:.2f} (threshold {t - margin:.2f}): "
            f"{recall(np.nan_to_num(chosen, nan=np.inf) < t - margin)}"
        )
    for u in (0.5, 0.3, 0.2, 0.1, 0.05, 0.0):
        odd = np.where(related < u, chosen, np.nan)
        tu = threshold(odd, free, spare)
        print(
            f"odd one out's cosine with the objective below {u}: threshold {tu:.2f}, "
            f"{recall(np.nan_to_num(odd, nan=np.inf) < tu)}"
        )
    asked = np.array([housekeeping(p.pair.objective) for p in pairs])
    kept, _ = values(lambda g, objective: g[-3:] if housekeeping(objective) else window_then_drop(3)(g, objective))
    for name, coherence in (
        ("housekeeping kept when asked for", kept),
        ("not judged when asked for", np.where(asked, np.nan, chosen)),
    ):
        tk = threshold(coherence, free, spare)
        print(
            f"objective itself housekeeping, {name}: threshold {tk:.2f}, "
            f"{recall(np.nan_to_num(coherence, nan=np.inf) < tk)}"
        )


if __name__ == "__main__":
    main()

"""Fit the `evidence` drift score's weights on dev and print the figures of docs/drift-calibration.md.

    .venv/bin/python scripts/drift_fit.py [--data data/drift_pairs]

Reads pairs.jsonl, scope_pairs.jsonl and changes.jsonl through the shipped loader
(monitors.drift.labelled) and scores them with the shipped code (monitors.drift.evidence_score), one
split at a time so no text crosses dev and test, even as background. The two weights and the bias are
a logistic regression (scikit-learn, C=1) of match vs drift on the `dev` split only, over the two csls
scores; the threshold is the largest, rounded down to 0.01, that flags at most 5% of genuine dev pairs.
Test is scored with those constants and never used for a choice.

Scope creep has a signal of its own (monitors.drift.coherence): the newest commits, housekeeping
(monitors.drift.housekeeping) left out, falling apart into unrelated topics. Its threshold is the
largest, rounded down to 0.01, at which the score, the explicit checks and it together flag at most 5%
of genuine dev pairs; the last lines print what the monitor alerts on (any of the three) per split.

The hard subset drops the match pairs whose objective equals one of their own PR's commit subjects
(compared lowercased with everything but letters and digits dropped: 203 of the 300 match pairs): a
shortcut real agents' objectives rarely offer.

Takes about a minute on 2 CPU cores (about 4,000 distinct texts through all-MiniLM-L6-v2).
"""

from __future__ import annotations

import argparse
import math
import re
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitors.drift import evidence_score
from monitors.drift.calibrate import summarize
from monitors.drift.coherence import COHERENCE_THRESHOLD, commit_coherence
from monitors.drift.evidence_score import EvidencePair, score_evidence
from monitors.drift.labelled import LabelledPair, fallback_evidence, load_calibration_set
from monitors.drift.scoring import METHOD_THRESHOLDS, score_pairs
from monitors.drift.text import subject
from monitors.support.embeddings import SentenceTransformerEmbedder

DATA = Path(__file__).resolve().parents[1] / "data" / "drift_pairs"
TARGET = 0.05


def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "", text.lower())


def shortcut(pair: LabelledPair) -> bool:
    """A match pair whose objective is one of its own PR's commit subjects (the easy case)."""
    commits = pair.evidence.commits if pair.evidence else (pair.pair.did,)
    return pair.is_match and _norm(pair.pair.objective) in {_norm(subject(c)) for c in commits}


def dev_threshold(scores: np.ndarray, pairs: list[LabelledPair]) -> float:
    genuine = np.sort([s for s, p in zip(scores, pairs, strict=True) if p.split == "dev" and p.is_match])
    return float(math.floor(genuine[math.floor(TARGET * len(genuine))] * 100) / 100)


def coherence_dev_threshold(coherence: np.ndarray, flagged: np.ndarray, pairs: list[LabelledPair]) -> float:
    """The largest coherence threshold (rounded down to 0.01) keeping dev false alarms, with `flagged`, <= 5%."""
    genuine = [i for i, p in enumerate(pairs) if p.split == "dev" and p.is_match]
    budget = math.floor(TARGET * len(genuine)) - int(flagged[genuine].sum())
    free = np.sort([coherence[i] for i in genuine if not flagged[i] and not math.isnan(coherence[i])])
    if budget < 0:
        return -1.0  # the other signals spend the budget already: the coherence signal never fires
    return float(math.floor(free[budget] * 100) / 100) if budget < len(free) else 1.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DATA)
    args = parser.parse_args()
    pairs = load_calibration_set(args.data)
    embedder = SentenceTransformerEmbedder()

    final, summary, cosine = (np.zeros(len(pairs)) for _ in range(3))
    for split in ("dev", "test"):
        idx = [i for i, p in enumerate(pairs) if p.split == split]
        chosen = [pairs[i] for i in idx]
        scored = score_evidence(
            embedder, [EvidencePair(p.pair.objective, fallback_evidence(p), p.pair.repo) for p in chosen]
        )
        final[idx] = [s.final for s in scored]
        summary[idx] = [s.summary for s in scored]
        cosine[idx] = score_pairs(embedder, [p.pair for p in chosen], method="cosine")

    from sklearn.linear_model import LogisticRegression

    fit_rows = [i for i, p in enumerate(pairs) if p.split == "dev" and p.kind_name in ("match", "drift")]
    model = LogisticRegression(C=1.0).fit(
        np.column_stack([final[fit_rows], summary[fit_rows]]), [pairs[i].is_match for i in fit_rows]
    )
    w_final, w_summary = (round(float(w), 3) for w in model.coef_[0])
    bias = round(float(model.intercept_[0]), 3)
    combined = w_final * final + w_summary * summary + bias
    threshold = dev_threshold(combined, pairs)
    print(f"W_FINAL = {w_final}\nW_SUMMARY = {w_summary}\nBIAS = {bias}\nTHRESHOLD = {threshold}")
    shipped = (evidence_score.W_FINAL, evidence_score.W_SUMMARY, evidence_score.BIAS, evidence_score.THRESHOLD)
    if shipped != (w_final, w_summary, bias, threshold):
        print(f"(the shipped constants differ: {shipped})")

    methods = {
        "cosine of the final commit": (cosine, METHOD_THRESHOLDS["cosine"]),
        "csls of the final commit (previous default)": (final, METHOD_THRESHOLDS["csls"]),
        "csls of the changes summary alone": (summary, dev_threshold(summary, pairs)),
        "evidence (default)": (combined, threshold),
    }
    print(
        "\n| method | threshold | split | ROC AUC | hard-subset AUC | false alarms | drift recall | "
        "scope-creep recall |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name, (scores, thr) in methods.items():
        for split in ("dev", "test"):
            idx = [i for i, p in enumerate(pairs) if p.split == split]
            report = summarize([pairs[i] for i in idx], scores[idx], threshold=thr, method=name)
            kinds = {k.kind: k for k in report.kinds}
            hard = [i for i in idx if pairs[i].kind_name != "scope_creep" and not shortcut(pairs[i])]
            hard_report = summarize([pairs[i] for i in hard], scores[hard], threshold=thr)
            print(
                f"| {name} | {thr:.2f} | {split} | {kinds['drift'].auc:.3f} | {hard_report.auc:.3f} | "
                f"{report.false_alarm_rate:.1%} | {kinds['drift'].recall:.1%} | {kinds['scope_creep'].recall:.1%} |"
            )
    # What the monitor alerts on: the score below the threshold, the commits falling apart (scope creep) or
    # an explicit check (no scope, no history). The coherence threshold is the largest, rounded down to
    # 0.01, at which the three together flag at most 5% of genuine dev pairs.
    from monitors.drift.checks import run_checks

    checked = np.array([bool(p.evidence and run_checks(p.pair.objective, p.evidence, files_known=True)) for p in pairs])
    coherence = np.array(commit_coherence(embedder, [fallback_evidence(p) for p in pairs]))
    coherence_threshold = coherence_dev_threshold(coherence, (combined < threshold) | checked, pairs)
    print(f"COHERENCE_THRESHOLD = {coherence_threshold}")
    if coherence_threshold != COHERENCE_THRESHOLD:
        print(f"(the shipped coherence threshold differs: {COHERENCE_THRESHOLD})")
    incoherent = np.nan_to_num(coherence, nan=np.inf) < coherence_threshold
    for name, signal in (
        ("evidence or checks", (combined < threshold) | checked),
        ("evidence or coherence", (combined < threshold) | incoherent),
        ("evidence, coherence or checks (what the monitor alerts on)", (combined < threshold) | incoherent | checked),
    ):
        for split in ("dev", "test"):
            idx = [i for i, p in enumerate(pairs) if p.split == split]
            alert = signal[idx]
            kinds = np.array([pairs[i].kind_name for i in idx])
            print(
                f"{name}, {split}: false alarms {alert[kinds == 'match'].mean():.1%}, drift recall "
                f"{alert[kinds == 'drift'].mean():.1%}, scope-creep recall {alert[kinds == 'scope_creep'].mean():.1%}"
            )
    for split in ("dev", "test"):
        idx = [i for i, p in enumerate(pairs) if p.split == split]
        kinds = np.array([pairs[i].kind_name for i in idx])
        multi = (kinds == "match") & ~np.isnan(coherence[idx])
        print(
            f"coherence alone, {split}: flags {incoherent[idx][kinds == 'match'].mean():.1%} of genuine pairs "
            f"({incoherent[idx][multi].mean():.1%} of the {int(multi.sum())} "
            f"with two or more of the newest three distinct commit subjects besides housekeeping), "
            f"{incoherent[idx][kinds == 'scope_creep'].mean():.1%} of "
            f"scope creep, {incoherent[idx][kinds == 'drift'].mean():.1%} of drift"
        )
    dropped = sum(shortcut(p) for p in pairs)
    print(f"\nhard subset: {dropped} of {sum(p.is_match for p in pairs)} match pairs dropped")
    print(f"pairs judged on changes: {sum(p.evidence is not None for p in pairs)} of {len(pairs)}")


if __name__ == "__main__":
    main()

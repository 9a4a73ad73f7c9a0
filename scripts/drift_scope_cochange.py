"""The eighth drift calibration round's candidate scope-creep rule, frozen on dev; `--test` scores test once.

    .venv/bin/python scripts/drift_scope_cochange.py [--data data/drift_pairs] [--test]

The rule (the only one of scripts/drift_scope_history.py to meet the round's dev decision rule): commit
coherence as shipped (monitors.drift.coherence) counts only where the second-largest group of changed
files holds over 20% of the churn. Files besides changelog/news/authors/lock files are joined when they
share a path part or an identifier of their changed lines that is not common in the repository's history
(in more than 2% of its files), or when their two directories were changed together by at least 8 of the
history's change requests. A pair's history is the other change requests of the same repository in its
own split (leave-one-out: never the pair's own change requests), as the monitor's store would hold the
evidence of the change requests it judged before.

Its threshold is the largest, rounded down to 0.01, at which the score (shipped threshold), the explicit
checks and the rule together flag at most 5% of genuine dev pairs. Without `--test` only dev is read: the
threshold, its dev figures, and the held-out estimate (100 random halves) under five seeds. With `--test`
the test split is scored once with that threshold, its history drawn from test change requests alone.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from drift_scope_history import Bench, cochange_share, pct, threshold_for
from drift_scope_signals import FileCache, History, load_changes, own_changes

from monitors.drift import evidence_score
from monitors.drift.checks import run_checks
from monitors.drift.coherence import commit_coherence
from monitors.drift.evidence_score import EvidencePair, score_evidence
from monitors.drift.labelled import fallback_evidence, load_calibration_set
from monitors.support.embeddings import SentenceTransformerEmbedder

DATA = Path(__file__).resolve().parents[1] / "data" / "drift_pairs"
TARGET = 0.05
SECOND_GROUP = 0.2
COCHANGED = 8


def split_signals(data: Path, split: str, embedder: SentenceTransformerEmbedder) -> dict[str, np.ndarray]:
    """Score, checks and the gated coherence of one split, nothing from the other split (not even as pool)."""
    pairs = [p for p in load_calibration_set(data) if p.split == split]
    evidences = [fallback_evidence(p) for p in pairs]
    items = [EvidencePair(p.pair.objective, e, p.pair.repo) for p, e in zip(pairs, evidences, strict=True)]
    owns = [own_changes(p) for p in pairs]
    files = load_changes(data, {k for own in owns for k in own})  # this split's change requests only
    share = cochange_share(pairs, owns, owns, files, History(files), COCHANGED, False)
    coherence = np.nan_to_num(np.array(commit_coherence(embedder, evidences)), nan=math.inf)
    return {
        "kinds": np.array([p.kind_name for p in pairs]),
        "keys": np.array([f"{p.pair.repo}#{p.commit_pr}" for p in pairs]),
        "score": np.array([s.score for s in score_evidence(embedder, items)]),
        "checks": np.array(
            [bool(p.evidence and run_checks(p.pair.objective, p.evidence, files_known=True)) for p in pairs]
        ),
        "coherence": coherence,
        "signal": np.where(share > SECOND_GROUP, coherence, math.inf),
    }


def figures(s: dict[str, np.ndarray], threshold: float) -> str:
    kinds = s["kinds"]
    genuine, drift, scope = kinds == "match", kinds == "drift", kinds == "scope_creep"
    shipped = (s["score"] < evidence_score.THRESHOLD) | s["checks"]
    alert = shipped | (s["signal"] < threshold)
    auc = roc_auc_score(
        np.r_[np.ones(genuine.sum()), np.zeros(drift.sum())], np.r_[s["score"][genuine], s["score"][drift]]
    )
    return (
        f"ROC AUC (match vs drift, the score) {math.floor(auc * 1000) / 1000:.3f}; "
        f"score and checks: false alarms {pct(shipped[genuine].mean())} ({shipped[genuine].sum()}/{genuine.sum()}), "
        f"scope creep {pct(shipped[scope].mean())}; with the rule: false alarms {pct(alert[genuine].mean())} "
        f"({alert[genuine].sum()}/{genuine.sum()}), drift recall {pct(alert[drift].mean())} "
        f"({alert[drift].sum()}/{drift.sum()}), scope-creep recall {pct(alert[scope].mean())} "
        f"({alert[scope].sum()}/{scope.sum()}); the rule alone flags {pct((s['signal'] < threshold)[genuine].mean())} "
        f"of genuine pairs"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--test", action="store_true", help="score the test split once with the dev threshold")
    args = parser.parse_args()
    embedder = SentenceTransformerEmbedder(cache=FileCache())
    dev = split_signals(args.data, "dev", embedder)
    genuine = dev["kinds"] == "match"
    shipped = (dev["score"] < evidence_score.THRESHOLD) | dev["checks"]
    spare = math.floor(TARGET * genuine.sum()) - int(shipped[genuine].sum())
    threshold = threshold_for(dev["signal"], genuine & ~shipped, spare)
    print(f"threshold (dev): gated coherence below {threshold:.2f}")
    print(f"dev: {figures(dev, threshold)}")
    for seed in range(5):
        bench = Bench(dev["kinds"], shipped, list(dev["keys"]), 100, seed)
        fa, p90, drift, scope = bench.judge(bench.single(dev["signal"]))
        print(
            f"dev held out, seed {seed}: false alarms {pct(fa, 2)} (one half in ten over {pct(p90)}), "
            f"drift {pct(drift)}, scope creep {pct(scope)}"
        )
    if args.test:
        print(f"test: {figures(split_signals(args.data, 'test', embedder), threshold)}")


if __name__ == "__main__":
    main()

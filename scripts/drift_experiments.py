"""Reproduce the goal-drift calibration figures in docs/drift-calibration.md.

    .venv/bin/python scripts/drift_experiments.py [PAIRS.jsonl] [--cache /tmp/drift-emb.pkl]

Scores every pair of the dataset with each method of monitors.drift.scoring (the shipped code, not a
copy), one split at a time: a pair's background pool is the other pairs of its repository in its
split, the production analogue of "the other objectives of this repository in the window and recent
history". Thresholds are chosen on dev only; test figures use the dev threshold. It also prints two
variants that were tried and not shipped (commit-side z-score, dual softmax) and how the default
method behaves when a pair has only a few reference pairs (the window-of-one case).

Pool ablation: in production a task has one merge request, so the drifted pair's objective never meets
its own genuine commit in the pool. The dataset holds both pairs of each objective; `leaky` rows let
the pool keep the pair that shares the objective, to show how much a method would gain from that leak.
(The other direction cannot leak here: no drift commit's own PR is among the dataset's objectives.)

Embeddings are cached in a pickle (text hashes to vectors) so reruns take seconds.
"""

from __future__ import annotations

import argparse
import pickle
import random
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitors.contracts.monitor import MemoryEmbeddingCache
from monitors.drift.calibrate import LabelledPair, load_labelled_pairs, summarize
from monitors.drift.scoring import CSLS_FRACTION, METHODS, score_pairs
from monitors.drift.text import clean_message
from monitors.support.embeddings import SentenceTransformerEmbedder

DEFAULT_PAIRS = str(Path(__file__).resolve().parents[1] / "data" / "drift_pairs" / "pairs.jsonl")
TARGET_FALSE_ALARM = 0.05


def scores_by_split(embedder, pairs: list[LabelledPair], method: str) -> np.ndarray:
    """Score each split separately so no text crosses dev and test, even as background."""
    out = np.zeros(len(pairs))
    for split in sorted({p.split for p in pairs}):
        idx = [i for i, p in enumerate(pairs) if p.split == split]
        scored = score_pairs(embedder, [pairs[i].pair for i in idx], method=method)
        out[idx] = scored
    return out


def dev_threshold(scores: np.ndarray, pairs: list[LabelledPair]) -> float:
    """The largest threshold (rounded down to 0.01) flagging at most 5% of genuine dev pairs."""
    genuine = np.sort([s for s, p in zip(scores, pairs, strict=True) if p.split == "dev" and p.is_match])
    allowed = int(np.floor(TARGET_FALSE_ALARM * len(genuine)))
    # Flag strictly below the threshold: at most `allowed` genuine scores may lie under it.
    return float(np.floor(genuine[allowed] * 100) / 100)


def row(name: str, scores: np.ndarray, pairs: list[LabelledPair], threshold: float) -> str:
    cells = [name, f"{threshold:.2f}"]
    for split in ("dev", "test"):
        idx = [i for i, p in enumerate(pairs) if p.split == split]
        s = summarize([pairs[i] for i in idx], scores[idx], threshold=threshold)
        cells += [f"{s.auc:.3f}", f"{s.false_alarm_rate:.1%}", f"{s.recall:.1%}", f"{s.recall_at_target:.1%}"]
    return "| " + " | ".join(cells) + " |"


def variant_scores(embedder, pairs: list[LabelledPair], kind: str) -> np.ndarray:
    """Methods tried and not shipped: commit-side z-score and dual softmax (T=0.05)."""
    out = np.zeros(len(pairs))
    objectives = embedder.embed([p.pair.objective for p in pairs])
    dids = embedder.embed([clean_message(p.pair.did) for p in pairs])
    for i, p in enumerate(pairs):
        pool = [
            j
            for j, q in enumerate(pairs)
            if q.split == p.split and q.pair.repo == p.pair.repo and q.pair.objective != p.pair.objective
        ]
        own = float(objectives[i] @ dids[i])
        to_objectives = objectives[pool] @ dids[i]
        if kind == "zscore":
            out[i] = (own - to_objectives.mean()) / (to_objectives.std() + 1e-6)
        else:
            to_dids = dids[pool] @ objectives[i]
            out[i] = sum(
                own / 0.05 - np.log(np.exp(np.r_[sims, own] / 0.05).sum()) for sims in (to_objectives, to_dids)
            )
    return out


def pool_scores(embedder, pairs: list[LabelledPair], kind: str, leaky: bool) -> np.ndarray:
    """csls (top third) or margin (top one), no prior, with or without same-objective pairs in the pool."""
    out = np.zeros(len(pairs))
    objectives = embedder.embed([p.pair.objective for p in pairs])
    dids = embedder.embed([clean_message(p.pair.did) for p in pairs])
    for i, p in enumerate(pairs):
        same_repo = [j for j, q in enumerate(pairs) if j != i and q.split == p.split and q.pair.repo == p.pair.repo]
        other_tasks = [j for j in same_repo if pairs[j].pair.objective != p.pair.objective]
        did_pool = [j for j in (same_repo if leaky else other_tasks) if pairs[j].pair.did != p.pair.did]
        backgrounds = [np.sort(objectives[other_tasks] @ dids[i])[::-1], np.sort(dids[did_pool] @ objectives[i])[::-1]]
        keep = (lambda n: 1) if kind == "margin" else (lambda n: max(1, int(np.ceil(CSLS_FRACTION * n))))
        out[i] = float(objectives[i] @ dids[i]) - np.mean([b[: keep(len(b))].mean() for b in backgrounds])
    return out


def few_references(embedder, pairs: list[LabelledPair], method: str, sizes: list[int], threshold: float):
    """Each pair scored alone with only n random other pairs of its repository as reference."""
    rng = random.Random(7)
    for n in sizes:
        scores = np.zeros(len(pairs))
        for i, p in enumerate(pairs):
            others = [
                q.pair
                for q in pairs
                if q.split == p.split and q.pair.repo == p.pair.repo and q.pair.objective != p.pair.objective
            ]
            ref = rng.sample(others, min(n, len(others)))
            scores[i] = score_pairs(embedder, [p.pair], method=method, reference=ref)[0]
        print(row(f"{method}, {n} reference pairs", scores, pairs, threshold))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pairs", nargs="?", default=DEFAULT_PAIRS)
    parser.add_argument("--cache", default="/tmp/drift-experiments-embeddings.pkl")
    args = parser.parse_args()
    pairs, problems = load_labelled_pairs(args.pairs)
    for problem in problems:
        print("skipped:", problem, file=sys.stderr)
    cache = MemoryEmbeddingCache()
    cache_path = Path(args.cache)
    if cache_path.exists():
        cache.vectors = pickle.loads(cache_path.read_bytes())
    embedder = SentenceTransformerEmbedder(cache=cache)
    print(
        "| method | threshold | dev AUC | dev FA | dev recall | dev recall@5%FA "
        "| test AUC | test FA | test recall | test recall@5%FA |"
    )
    print("|---" * 10 + "|")
    chosen = {}
    for method in METHODS:
        scores = scores_by_split(embedder, pairs, method)
        chosen[method] = dev_threshold(scores, pairs)
        print(row(method, scores, pairs, chosen[method]))
    for kind in ("zscore", "dual_softmax"):
        scores = variant_scores(embedder, pairs, kind)
        print(row(f"{kind} (not shipped)", scores, pairs, dev_threshold(scores, pairs)))
    print("\npool ablation (no prior; leaky = the pool keeps the pair that shares the objective):")
    for kind in ("csls", "margin"):
        for leaky in (False, True):
            scores = pool_scores(embedder, pairs, kind, leaky)
            print(
                row(
                    f"{kind}, {'leaky pool' if leaky else 'production pool'}",
                    scores,
                    pairs,
                    dev_threshold(scores, pairs),
                )
            )
    print(f"\ncsls with few reference pairs (threshold {chosen['csls']:.2f}, top {CSLS_FRACTION:.0%}):")
    few_references(embedder, pairs, "csls", [0, 1, 3, 10, 30], chosen["csls"])
    print(f"\nmargin with few reference pairs (threshold {chosen['margin']:.2f}):")
    few_references(embedder, pairs, "margin", [0, 1, 3, 10, 30], chosen["margin"])
    print(f"\nembedded {embedder.embedded} texts, {embedder.cache_hits} cache hits")
    cache_path.write_bytes(pickle.dumps(cache.vectors))


if __name__ == "__main__":
    main()

"""How far scope creep can be pushed on dev: the seventh drift calibration round (nothing shipped).

    .venv/bin/python scripts/drift_scope_limits.py [--data data/drift_pairs]

Prints every figure of docs/drift-calibration.md's seventh round, on the dev split only (test is never
read):

1. the score's threshold traded against commit coherence's: for each score threshold, the coherence
   threshold that spends what is left of the 5% false-alarm budget, and the recalls there;
2. other scope-creep signals over all distinct commit subjects besides housekeeping: how far the most
   foreign subject is from every other subject (and from the objective), the weakest contiguous split
   of the commits into an earlier and a later block, the same over whole messages;
3. a lexical signal from the diff: changed files joined when they share identifiers, and the churn
   share of the second-largest group (a change request doing two unrelated things falls into two);
4. a held-out estimate: 100 random halves of dev (a genuine pair and its scope-creep row always on the
   same side), each rule's threshold chosen on one half and judged on the other.

Every threshold is the largest (rounded down to 0.01 where the scale allows) at which the score at the
shipped threshold, the explicit checks and the signal together flag at most 5% of genuine dev pairs.
About a minute on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitors.drift import evidence_score
from monitors.drift.checks import run_checks
from monitors.drift.coherence import commit_coherence
from monitors.drift.evidence_score import EvidencePair, score_evidence
from monitors.drift.housekeeping import housekeeping
from monitors.drift.labelled import LabelledPair, fallback_evidence, load_calibration_set
from monitors.drift.text import subject
from monitors.support.embeddings import SentenceTransformerEmbedder

DATA = Path(__file__).resolve().parents[1] / "data" / "drift_pairs"
TARGET = 0.05
HALVES = 100
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{3,}")
HOUSEKEEPING_FILE = re.compile(r"(changelog|changes|news|history|authors|contributors|release|lock)", re.I)
COMMON = 0.02  # an identifier in more than this share of all changed files joins nothing
KEYWORDS = {"self", "return", "import", "from", "none", "true", "false", "class"}


def budget_threshold(values: np.ndarray, free: np.ndarray, spare: int) -> float:
    """The largest threshold (rounded down to 0.01) below which at most `spare` free genuine values fall."""
    if spare < 0:
        return -math.inf
    genuine = np.sort(values[free & np.isfinite(values)])
    return math.floor(genuine[spare] * 100) / 100 if spare < len(genuine) else math.inf


class Signals:
    """Scope-creep signals over the dev pairs; lower means more likely two pieces of work (inf: cannot tell)."""

    def __init__(self, pairs: list[LabelledPair], embedder: SentenceTransformerEmbedder) -> None:
        self.pairs = pairs
        self.units = [self._units(p) for p in pairs]
        texts = {u for group in self.units for _, whole in group for u in whole} | {p.pair.objective for p in pairs}
        ordered = sorted(texts)
        self.vectors = dict(zip(ordered, embedder.embed(ordered), strict=True))

    @staticmethod
    def _units(pair: LabelledPair) -> list[tuple[str, tuple[str, str]]]:
        """Distinct non-housekeeping commits, oldest first: (subject, (subject, message's first 400 chars))."""
        seen: dict[str, str] = {}
        for message in fallback_evidence(pair).commits:
            first = subject(message)
            if first and not housekeeping(first):
                seen[first] = message.strip()[:400]
        return [(s, (s, m)) for s, m in seen.items()]

    def _rows(self, index: int, whole: bool) -> np.ndarray | None:
        group = self.units[index]
        if len(group) < 2:
            return None
        return np.stack([self.vectors[texts[1] if whole else texts[0]] for _, texts in group])

    def _each(self, whole: bool, measure: Callable[[np.ndarray, np.ndarray], float]) -> np.ndarray:
        """measure(commit rows, objective) per pair; inf where fewer than two commits remain."""
        out = []
        for i, pair in enumerate(self.pairs):
            rows = self._rows(i, whole)
            out.append(math.inf if rows is None else measure(rows, self.vectors[pair.pair.objective]))
        return np.array(out)

    def foreign(self, whole: bool, with_objective: bool) -> np.ndarray:
        """The most foreign commit: its best cosine with any other commit (or the objective), lowest over commits."""

        def measure(rows: np.ndarray, objective: np.ndarray) -> float:
            sims = rows @ rows.T
            np.fill_diagonal(sims, -math.inf)
            nearest = sims.max(axis=1)
            return float((np.maximum(nearest, rows @ objective) if with_objective else nearest).min())

        return self._each(whole, measure)

    def split(self, whole: bool) -> np.ndarray:
        """The weakest contiguous split: an earlier and a later block that neither resemble each other
        (mean cosine across) nor both touch the objective (the block least like it, by its best commit)."""

        def measure(rows: np.ndarray, objective: np.ndarray) -> float:
            related = rows @ objective
            return min(
                max(float((rows[:k] @ rows[k:].T).mean()), min(related[:k].max(), related[k:].max()))
                for k in range(1, len(rows))
            )

        return self._each(whole, measure)


def per_file_lines(patch: str) -> dict[str, list[str]]:
    """Changed lines and hunk headers of a unified diff, per file (the b/ path)."""
    out: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in patch.splitlines():
        if line.startswith("diff --git"):
            match = re.search(r" b/(.*)$", line)
            current = out.setdefault(match.group(1), []) if match else None
        elif current is not None and line.startswith("@@"):
            current.append(line.rsplit("@@", 1)[-1])
        elif current is not None and line[:1] in "+-" and not line.startswith(("+++", "---")):
            current.append(line[1:])
    return out


def file_tokens(path: str, lines: Iterable[str]) -> set[str]:
    tokens = {part.lower() for part in re.split(r"[/._-]", path) if len(part) >= 4}
    for line in lines:
        tokens.update(word.lower() for word in IDENTIFIER.findall(line))
    return tokens


def second_group_share(rows: list[dict], common: set[str]) -> float:
    """Churn share of the second-largest group of changed files, joined when they share an identifier."""
    files = []
    for row in rows:
        lines = per_file_lines(row.get("patch") or "")
        for f in row["files"]:
            if not HOUSEKEEPING_FILE.search(f["path"]):
                churn = (f["additions"] or 0) + (f["deletions"] or 0) + 1
                files.append((churn, file_tokens(f["path"], lines.get(f["path"], ())) - common))
    parent = list(range(len(files)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(len(files)):
        for j in range(i + 1, len(files)):
            if files[i][1] & files[j][1]:
                parent[root(i)] = root(j)
    groups: Counter[int] = Counter()
    for i, (churn, _) in enumerate(files):
        groups[root(i)] += churn
    sizes = sorted(groups.values(), reverse=True)
    return sizes[1] / sum(sizes) if len(sizes) > 1 else 0.0


def file_groups(data: Path, pairs: list[LabelledPair]) -> np.ndarray:
    """second_group_share per pair, from the raw changes file (the evidence record keeps no per-file diff);
    which identifiers are common is counted over these pairs' own change requests."""
    changes = {(r["repo"], r["pr"]): r for r in map(json.loads, (data / "changes.jsonl").open())}
    wanted = {(p.pair.repo, n) for p in pairs for n in (p.commit_pr, p.extra_pr) if n is not None}
    changes = {key: row for key, row in changes.items() if key in wanted}  # dev PRs only
    seen: Counter[str] = Counter()
    for row in changes.values():
        lines = per_file_lines(row.get("patch") or "")
        for f in row["files"]:
            seen.update(file_tokens(f["path"], lines.get(f["path"], ())))
    total = sum(len(r["files"]) for r in changes.values())
    common = {t for t, n in seen.items() if n > COMMON * total} | KEYWORDS
    out = []
    for p in pairs:
        numbers = [p.commit_pr, p.extra_pr] if p.kind_name == "scope_creep" else [p.commit_pr]
        rows = [changes[(p.pair.repo, n)] for n in numbers if (p.pair.repo, n) in changes]
        out.append(second_group_share(rows, common) if rows else 0.0)
    return np.array(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DATA)
    args = parser.parse_args()
    pairs = [p for p in load_calibration_set(args.data) if p.split == "dev"]
    embedder = SentenceTransformerEmbedder()
    evidences = [fallback_evidence(p) for p in pairs]
    score = np.array(
        [
            s.score
            for s in score_evidence(
                embedder,
                [EvidencePair(p.pair.objective, e, p.pair.repo) for p, e in zip(pairs, evidences, strict=True)],
            )
        ]
    )
    checks = np.array([bool(p.evidence and run_checks(p.pair.objective, p.evidence, files_known=True)) for p in pairs])
    coherence = np.nan_to_num(np.array(commit_coherence(embedder, evidences)), nan=math.inf)
    kinds = np.array([p.kind_name for p in pairs])
    genuine, drift, scope = kinds == "match", kinds == "drift", kinds == "scope_creep"
    budget = math.floor(TARGET * genuine.sum())

    def beside(values: np.ndarray, flagged: np.ndarray, within: np.ndarray) -> tuple[float, np.ndarray]:
        spare = budget if within is genuine else math.floor(TARGET * (genuine & within).sum())
        spare -= int(flagged[genuine & within].sum())
        t = budget_threshold(values, genuine & within & ~flagged, spare)
        return t, flagged | (values < t)

    def line(alert: np.ndarray, within: np.ndarray | None = None) -> str:
        w = np.ones(len(pairs), bool) if within is None else within
        return (
            f"false alarms {alert[genuine & w].mean():.1%}, drift {alert[drift & w].mean():.1%}, "
            f"scope creep {alert[scope & w].mean():.1%}"
        )

    shipped = (score < evidence_score.THRESHOLD) | checks
    print(f"dev: {genuine.sum()} genuine pairs, budget {budget}; score and checks: {line(shipped)}")

    print("\n1. score threshold traded against commit coherence (shipped opt-in signal)")
    for ts in np.round(np.arange(-1.5, evidence_score.THRESHOLD + 0.01, 0.1), 2):
        flagged = (score < ts) | checks
        t, alert = beside(coherence, flagged, genuine)
        print(f"   score < {ts:.2f}, coherence < {t:.2f}: {line(alert)}")

    signals = Signals(pairs, embedder)
    labels = np.r_[np.zeros(genuine.sum()), np.ones(scope.sum())]

    def judge(name: str, values: np.ndarray) -> None:
        finite = np.where(np.isfinite(values), values, 2.0)
        auc = roc_auc_score(labels, -np.r_[finite[genuine], finite[scope]])
        alone = np.sort(values[genuine])[budget]
        t, alert = beside(values, shipped, genuine)
        print(
            f"   {name}: AUC vs genuine {auc:.3f}; alone at 5% false alarms "
            f"{(values[scope] < alone).mean():.1%} of scope creep; beside the score (< {t:.2f}): {line(alert)}"
        )

    print("\n2. other signals over all distinct commit subjects besides housekeeping")
    judge("commit coherence as shipped (newest 3)", coherence)
    for whole in (False, True):
        what = "whole messages" if whole else "subjects"
        judge(f"most foreign commit, {what}, objective counts", signals.foreign(whole, True))
        judge(f"most foreign commit, {what}, commits only", signals.foreign(whole, False))
        judge(f"weakest contiguous split, {what}", signals.split(whole))

    print("\n3. changed files joined by shared identifiers (churn share of the second group)")
    groups = file_groups(args.data, pairs)
    judge("second group share (negated)", -groups)
    rules: dict[str, Callable[[], np.ndarray]] = {"coherence as shipped": lambda: coherence}
    for share in (0.0, 0.2):
        rules[f"coherence where the second group holds over {share:.0%} of the churn"] = lambda s=share: np.where(
            groups > s, coherence, math.inf
        )
    for name, rule in rules.items():
        t, alert = beside(rule(), shipped, genuine)
        print(f"   {name} (< {t:.2f}): {line(alert)}")

    print(f"\n4. held out: threshold on a random half of dev, judged on the other half ({HALVES} halves)")
    keys = [f"{p.pair.repo}#{p.commit_pr}" for p in pairs]  # a genuine pair and its scope-creep row share it
    distinct_keys = sorted(set(keys))
    rng = np.random.default_rng(0)
    halves = []
    for _ in range(HALVES):
        chosen = {distinct_keys[i] for i in rng.permutation(len(distinct_keys))[: len(distinct_keys) // 2]}
        halves.append(np.array([k in chosen for k in keys]))
    for name, rule in rules.items():
        values, false_alarms, recalls = rule(), [], []
        for half in halves:
            _, alert = beside(values, shipped, half)
            false_alarms.append(alert[genuine & ~half].mean())
            recalls.append(alert[scope & ~half].mean())
        print(
            f"   {name}: held-out false alarms {np.mean(false_alarms):.1%} (one half in ten over "
            f"{np.percentile(false_alarms, 90):.1%}), scope creep {np.mean(recalls):.1%}"
        )


if __name__ == "__main__":
    main()

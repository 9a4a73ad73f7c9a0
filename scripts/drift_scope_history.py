"""Scope creep with the repository's history: the eighth drift calibration round (dev only, test never read).

    .venv/bin/python scripts/drift_scope_history.py [--data data/drift_pairs] [--halves 100]

Prints every figure of docs/drift-calibration.md's eighth round. Every rule is judged as the seventh
round judged its rules: its thresholds (and any other choice it makes) are picked on a random half of dev
and it is judged on the other half, 100 times, a genuine pair and its scope-creep row always on the same
side; the score (at the shipped threshold) and the explicit checks alert in every rule.

What a rule may know about a repository is what the monitor's store would hold: the evidence of the
change requests it judged before. For a dev pair that "history" is the other dev change requests of the
same repository (leave-one-out: never the pair's own change requests, never a test row). From it comes
which identifiers are too common to join changed files into one group (seventh round: counted over all
dev change requests at once, the pair's own among them).

Signals, each lower = more like scope creep:

- commit coherence as shipped (monitors.drift.coherence);
- coherence gated on a second file group holding over a share of the churn (the seventh round's rule,
  now with leave-one-out history), and the same with files also joined when the history changed their
  two directories together often (the candidate frozen in scripts/drift_scope_cochange.py);
- objective-anchored file groups: each group's short text (largest paths, rarest names) embedded, and
  how much further from the objective a sizeable group is than the group nearest it;
- a tiny logistic model over those signals (fitted on the tuning half only).

A second table judges every rule again with another budget on the tuning half: the signal may add no
genuine tuning pair (a sensitivity check; the round's decision used the first). Embeddings are cached in
/tmp (see drift_scope_signals.CACHE). About a minute on 2 CPU cores the first time, seconds after.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from drift_scope_limits import file_groups as seventh_round_shares
from drift_scope_signals import (
    ChangedFile,
    ChangeKey,
    FileCache,
    History,
    anchored_gap,
    directory,
    families,
    file_groups,
    group_text,
    load_changes,
    own_changes,
    second_share,
)

from monitors.drift import evidence_score
from monitors.drift.checks import run_checks
from monitors.drift.coherence import commit_coherence
from monitors.drift.evidence_score import EvidencePair, score_evidence
from monitors.drift.labelled import LabelledPair, fallback_evidence, load_calibration_set
from monitors.support.embeddings import SentenceTransformerEmbedder

DATA = Path(__file__).resolve().parents[1] / "data" / "drift_pairs"
TARGET = 0.05
COMMON = 0.02  # an identifier in more than this share of the history's files joins nothing
SHARES = (0.0, 0.1, 0.2, 0.3)
COCHANGED = (1, 2, 3, 5, 8, 13)
Rule = Callable[[np.ndarray], np.ndarray]  # tuning half (bool mask) -> alerts over all pairs


def pct(x: float, decimals: int = 1) -> str:
    """A share as a percentage cut (never rounded up) to `decimals` decimals."""
    scale = 10**decimals
    return f"{math.floor(x * 100 * scale + 1e-9) / scale:.{decimals}f}%"


def threshold_for(values: np.ndarray, free: np.ndarray, spare: int) -> float:
    """The largest threshold (rounded down to 0.01) below which at most `spare` free genuine values fall."""
    if spare < 0:
        return -math.inf
    genuine = np.sort(values[free & np.isfinite(values)])
    return math.floor(genuine[spare] * 100) / 100 if spare < len(genuine) else math.inf


class Bench:
    """The dev pairs' labels, the shipped alerts, and held-out judging of rules."""

    def __init__(self, kinds: np.ndarray, shipped: np.ndarray, keys: list[str], halves: int, seed: int = 0) -> None:
        # False: the seventh round's budget, 5% of the tuning half's genuine pairs less what the score and
        # checks flag there. True: the signal may add no genuine pair of the tuning half (how every
        # whole-dev threshold of the fourth to seventh rounds came out, the budget being spent there).
        self.none_added = False
        self.genuine, self.drift, self.scope = kinds == "match", kinds == "drift", kinds == "scope_creep"
        self.shipped = shipped
        distinct = sorted(set(keys))
        rng = np.random.default_rng(seed)
        self.halves = []
        for _ in range(halves):
            chosen = {distinct[i] for i in rng.permutation(len(distinct))[: len(distinct) // 2]}
            self.halves.append(np.array([k in chosen for k in keys]))

    def spare(self, half: np.ndarray, flagged: np.ndarray, headroom: int) -> int:
        g = self.genuine & half
        allowed = int(self.shipped[g].sum()) if self.none_added else math.floor(TARGET * g.sum())
        return allowed - int(flagged[g].sum()) - headroom

    def single(self, values: np.ndarray, headroom: int = 0, margin: float = 0.0) -> Rule:
        def rule(half: np.ndarray) -> np.ndarray:
            t = threshold_for(values, self.genuine & half & ~self.shipped, self.spare(half, self.shipped, headroom))
            return self.shipped | (values < t - margin)

        return rule

    def best_of(self, options: list[Rule]) -> Rule:
        """Each option tuned on the half; the one with the most scope creep there (then fewest genuine)."""

        def rule(half: np.ndarray) -> np.ndarray:
            alerts = [option(half) for option in options]
            return max(alerts, key=lambda a: (a[self.scope & half].sum(), -a[self.genuine & half].sum()))

        return rule

    def either(self, first: np.ndarray, second: np.ndarray, headroom: int = 0) -> Rule:
        """Two signals share the budget; the split that catches the most scope creep on the half."""

        def rule(half: np.ndarray) -> np.ndarray:
            spare = self.spare(half, self.shipped, headroom)
            best = self.shipped
            for own in range(max(spare, -1) + 1):
                t2 = threshold_for(second, self.genuine & half & ~self.shipped, own)
                flagged = self.shipped | (second < t2)
                left = self.spare(half, flagged, headroom)
                t1 = threshold_for(first, self.genuine & half & ~flagged, left)
                alert = flagged | (first < t1)
                if alert[self.scope & half].sum() > best[self.scope & half].sum():
                    best = alert
            return best

        return rule

    def with_score(self, values: np.ndarray, score: np.ndarray, checks: np.ndarray) -> Rule:
        """The score's threshold lowered with the signal's on the tuning half (drift recall kept >= 70%
        there): pairs the score no longer flags free budget for the signal."""

        def rule(half: np.ndarray) -> np.ndarray:
            best = self.shipped
            for ts in np.round(np.arange(-1.5, evidence_score.THRESHOLD + 0.001, 0.05), 2):
                flagged = (score < ts) | checks
                if flagged[self.drift & half].mean() < 0.70:
                    continue
                spare = self.spare(half, flagged, 0)
                alert = flagged | (values < threshold_for(values, self.genuine & half & ~flagged, spare))
                if alert[self.scope & half].sum() > best[self.scope & half].sum():
                    best = alert
            return best

        return rule

    def judge(self, rule: Rule) -> tuple[float, float, float, float]:
        fa, drift, scope = [], [], []
        for half in self.halves:
            alert, out = rule(half), ~half
            fa.append(alert[self.genuine & out].mean())
            drift.append(alert[self.drift & out].mean())
            scope.append(alert[self.scope & out].mean())
        return float(np.mean(fa)), float(np.percentile(fa, 90)), float(np.mean(drift)), float(np.mean(scope))

    def whole_dev(self, rule: Rule) -> str:
        alert = rule(np.ones(len(self.shipped), bool))
        return (
            f"false alarms {pct(alert[self.genuine].mean())}, drift {pct(alert[self.drift].mean())}, "
            f"scope creep {pct(alert[self.scope].mean())}"
        )


def model_rule(bench: Bench, features: np.ndarray, headroom: int = 0) -> Rule:
    """A logistic model of scope creep vs genuine, fitted on the tuning half only; its threshold too."""

    def rule(half: np.ndarray) -> np.ndarray:
        fit = half & (bench.genuine | bench.scope)
        mean, std = features[fit].mean(axis=0), features[fit].std(axis=0) + 1e-9
        model = LogisticRegression(C=1.0).fit((features[fit] - mean) / std, bench.scope[fit])
        values = -model.decision_function((features - mean) / std)
        return bench.single(values, headroom)(half)

    return rule


def cochange_share(
    pairs: list[LabelledPair],
    owns: list[list[ChangeKey]],
    leave_outs: list[list[ChangeKey]],
    files: dict[ChangeKey, list[ChangedFile]],
    history: History,
    times: int,
    same: bool,
) -> np.ndarray:
    """The second group's churn share, files also joined when the history (leave_outs left out) changed
    their directories together in at least `times` change requests (with `same`: one directory joins)."""
    out = []
    for p, own, leave_out in zip(pairs, owns, leave_outs, strict=True):
        repo = p.pair.repo or ""
        together = history.cochanged(repo, leave_out)

        def linked(a: str, b: str, together: Counter[tuple[str, str]] = together) -> bool:
            x, y = sorted((directory(a), directory(b)))
            return (same and x == y) or together[(x, y)] >= times

        pair_files = [f for key in own for f in files.get(key, ())]
        out.append(second_share(file_groups(pair_files, history.common(repo, leave_out, COMMON), linked)))
    return np.array(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--halves", type=int, default=100)
    args = parser.parse_args()
    pairs = [p for p in load_calibration_set(args.data) if p.split == "dev"]
    embedder = SentenceTransformerEmbedder(cache=FileCache())
    evidences = [fallback_evidence(p) for p in pairs]
    items = [EvidencePair(p.pair.objective, e, p.pair.repo) for p, e in zip(pairs, evidences, strict=True)]
    score = np.array([s.score for s in score_evidence(embedder, items)])
    checks = np.array([bool(p.evidence and run_checks(p.pair.objective, p.evidence, files_known=True)) for p in pairs])
    coherence = np.nan_to_num(np.array(commit_coherence(embedder, evidences)), nan=math.inf)
    kinds = np.array([p.kind_name for p in pairs])
    shipped = (score < evidence_score.THRESHOLD) | checks
    bench = Bench(kinds, shipped, [f"{p.pair.repo}#{p.commit_pr}" for p in pairs], args.halves)

    owns = [own_changes(p) for p in pairs]
    files = load_changes(args.data, {k for own in owns for k in own})  # dev change requests only
    history = History(files)
    loo = [
        file_groups([f for key in own for f in files.get(key, ())], history.common(p.pair.repo or "", own, COMMON))
        for p, own in zip(pairs, owns, strict=True)
    ]
    share = np.array([second_share(g) for g in loo])
    # The same groups, also joined where the history changed both directories together at least `times`
    # (and, with `same`, files of one directory always joined).
    cochange_shares = {
        (same, times): cochange_share(pairs, owns, owns, files, history, times, same)
        for same in (True, False)
        for times in COCHANGED
    }
    # Stricter history: every change request of the pair's family (the asked-for one and its drift
    # partner) left out, for the genuine, drift and scope-creep rows alike.
    strict = families(args.data, pairs)
    strict_share = cochange_share(pairs, owns, strict, files, history, 8, False)
    share7 = seventh_round_shares(args.data, pairs)  # common: over all dev change requests, own included

    g, s = bench.genuine, bench.scope
    labels = np.r_[np.zeros(g.sum()), np.ones(s.sum())]

    def auc(values: np.ndarray) -> float:
        finite = np.where(np.isfinite(values), values, 10.0)
        return float(roc_auc_score(labels, -np.r_[finite[g], finite[s]]))

    print(
        f"dev: {g.sum()} genuine, {bench.drift.sum()} drift, {s.sum()} scope-creep rows; {len(files)} change requests"
    )
    print(f"score and checks alone: {bench.whole_dev(lambda h: shipped)}")
    print(
        f"second group share, AUC scope creep vs genuine: seventh round's common set {auc(-share7):.3f}; "
        f"leave-one-out history {auc(-share):.3f}"
    )

    # Objective-anchored groups: embed each group's text, cosine with the objective.
    texts = sorted({group_text(grp) for groups in loo for grp in groups} | {p.pair.objective for p in pairs})
    vectors = dict(zip(texts, embedder.embed(texts), strict=True))
    cosines = [
        [float(vectors[group_text(grp)] @ vectors[p.pair.objective]) for grp in groups]
        for p, groups in zip(pairs, loo, strict=True)
    ]
    gaps = {m: np.array([anchored_gap(gr, c, m) for gr, c in zip(loo, cosines, strict=True)]) for m in SHARES}
    for m, values in gaps.items():
        print(f"anchored gap, sizeable over {m:.0%}: AUC {auc(values):.3f}")

    def gated(values: np.ndarray, shares: np.ndarray, over: float) -> np.ndarray:
        return np.where(shares > over, values, math.inf)

    rules: dict[str, Rule] = {
        "coherence as shipped": bench.single(coherence),
        "coherence as shipped, one genuine pair of headroom": bench.single(coherence, 1),
        "coherence gated on a second group over 20%, seventh round's common set": bench.single(
            gated(coherence, share7, 0.2)
        ),
    }
    for over in SHARES:
        rules[f"coherence gated on a second group over {over:.0%}, leave-one-out history"] = bench.single(
            gated(coherence, share, over)
        )
    rules["the same, share picked on the tuning half"] = bench.best_of(
        [bench.single(gated(coherence, share, o)) for o in SHARES]
    )
    rules["the same, one genuine pair of headroom"] = bench.best_of(
        [bench.single(gated(coherence, share, o), 1) for o in SHARES]
    )
    for (same, times), values in cochange_shares.items():
        rules[
            f"coherence gated on a second group over 20%, directories the history changed together "
            f"{times}+ times joined{', one directory joined' if same else ''}"
        ] = bench.single(gated(coherence, values, 0.2))
    rules["the same 8+ without one directory joined, the pair's whole family left out of the history"] = bench.single(
        gated(coherence, strict_share, 0.2)
    )
    rules["the same, how often and whether one directory joins picked on the tuning half"] = bench.best_of(
        [bench.single(gated(coherence, values, 0.2)) for values in cochange_shares.values()]
    )
    for m in SHARES:
        rules[f"anchored gap alone, sizeable over {m:.0%}"] = bench.single(gaps[m])
    rules["anchored gap alone, sizeable picked on the tuning half"] = bench.best_of(
        [bench.single(gaps[m]) for m in SHARES]
    )
    rules["coherence or anchored gap (over 20%), budget split on the tuning half"] = bench.either(coherence, gaps[0.2])
    rules["coherence gated on a second group over 20% or anchored gap (over 20%)"] = bench.either(
        gated(coherence, share, 0.2), gaps[0.2]
    )
    rules["coherence where a sizeable group is far (gap counts, coherence decides)"] = bench.best_of(
        [bench.single(np.where(gaps[0.2] < q, coherence, math.inf)) for q in (-0.05, -0.1, -0.15, -0.2, -0.3)]
    )

    has_coh = np.isfinite(coherence)
    features = np.c_[
        np.where(has_coh, coherence, 1.0), has_coh, share, np.where(np.isfinite(gaps[0.2]), gaps[0.2], 0.0), score
    ]
    rules["tiny logistic model (coherence, second share, anchored gap, score)"] = model_rule(bench, features)
    rules["tiny logistic model, one genuine pair of headroom"] = model_rule(bench, features, 1)
    rules["tiny logistic model without the score"] = model_rule(bench, features[:, :4])

    rules["coherence as shipped, the score's threshold lowered with it"] = bench.with_score(coherence, score, checks)
    rules["coherence gated on a second group over 20%, the score's threshold lowered with it"] = bench.with_score(
        gated(coherence, share, 0.2), score, checks
    )
    for margin in (0.01, 0.02, 0.03, 0.05):
        rules[f"coherence gated on a second group over 20%, threshold {margin:.2f} lower"] = bench.single(
            gated(coherence, share, 0.2), margin=margin
        )
    for none_added in (False, True):
        bench.none_added = none_added
        how = "the signal adds no genuine tuning pair" if none_added else "5% of the tuning half's genuine pairs"
        print(
            f"\nheld out ({args.halves} halves; tuned on one, judged on the other; budget: {how}): "
            "false alarms mean (one half in ten over), drift recall, scope-creep recall | whole dev"
        )
        for name, rule in rules.items():
            fa, p90, drift, scope = bench.judge(rule)
            passes = fa <= 0.05 and scope >= 0.40 and drift >= 0.70
            print(
                f"   {name}: {pct(fa, 2)} ({pct(p90)}), drift {pct(drift)}, scope {pct(scope)}"
                f"{'  PASSES' if passes else ''} | {bench.whole_dev(rule)}"
            )


if __name__ == "__main__":
    main()

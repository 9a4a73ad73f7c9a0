"""Calibrate the goal-drift threshold on labelled history: `run-monitor drift calibrate PAIRS.jsonl`.

Input (pairs and, optionally, the changes that give them evidence) is read by monitors.drift.labelled.
The report gives the ROC AUC, the false-alarm rate (genuine pairs flagged) and the drift recall at the
configured threshold, per kind of drift (plain drift, scope creep) and all kinds together, and the
threshold that keeps false alarms at the target rate. The evidence method was fitted on pairs judged
with their changes: a pair no change matched is judged on its did-text alone, and the report warns that
such figures are not comparable with the shipped ones.

Pairs are scored together, so for the normalising methods each pair's background is the other pairs of
its repository in the file, as it would be the other objectives of the window in production.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from monitors.contracts.errors import ConfigError
from monitors.drift.evidence_score import METHOD as EVIDENCE
from monitors.drift.evidence_score import THRESHOLD as EVIDENCE_THRESHOLD
from monitors.drift.evidence_score import EvidencePair, score_evidence
from monitors.drift.labelled import LabelledPair, fallback_evidence
from monitors.drift.scoring import METHOD_THRESHOLDS, score_pairs
from monitors.support.embeddings import Embedder

DEFAULT_METHOD = EVIDENCE
ALL_METHODS = (EVIDENCE, *METHOD_THRESHOLDS)


@dataclass(frozen=True)
class KindFigures:
    """One kind of drift against all genuine pairs."""

    kind: str
    count: int
    auc: float
    recall: float  # at the report's threshold
    recall_at_target: float


@dataclass(frozen=True)
class CalibrationReport:
    method: str
    threshold: float
    matches: int
    drifts: int
    unscorable: int  # pairs with a blank objective or did-text, left out of every figure
    auc: float  # NaN when one of the two labels is missing
    false_alarm_rate: float  # genuine pairs scored below the threshold
    recall: float  # drift pairs scored below the threshold
    target_false_alarm: float
    threshold_at_target: float  # the largest threshold whose false-alarm rate is <= the target
    false_alarm_at_target: float
    recall_at_target: float
    kinds: tuple[KindFigures, ...] = ()  # per kind of drift when there is more than one
    without_changes: int = 0  # pairs judged on their did-text alone (no match in the changes file)
    evidence_pairs: int = 0  # pairs judged on their changes

    @property
    def warnings(self) -> tuple[str, ...]:
        """Why these figures may mislead, in plain words (empty: nothing known)."""
        found: list[str] = []
        needed = math.ceil(1 / self.target_false_alarm) if self.target_false_alarm > 0 else 1
        if 0 < self.matches < needed:
            found.append(
                f"only {self.matches} genuine pairs: a threshold for a {self.target_false_alarm:.0%} false-alarm "
                f"rate needs at least {needed} (with fewer it is simply the lowest genuine score), so "
                "threshold_at_target is no estimate: label more genuine pairs"
            )
        if self.method == EVIDENCE and self.without_changes:
            judged = self.without_changes + self.evidence_pairs
            found.append(
                f"{self.without_changes} of {judged} pairs were judged on their did-text alone (no changes matched "
                "them); the evidence score's weights and threshold were fitted on pairs judged with their changes, "
                "so these figures are not comparable with the shipped ones: pass --changes with what each change "
                "request changed"
            )
        return tuple(found)

    def as_json(self) -> dict[str, object]:
        out = {k: v for k, v in self.__dict__.items() if k != "kinds"}
        out["kinds"] = {k.kind: {x: y for x, y in k.__dict__.items() if x != "kind"} for k in self.kinds}
        out["warnings"] = list(self.warnings)
        return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in out.items()}


def calibrate(
    pairs: Sequence[LabelledPair],
    embedder: Embedder,
    *,
    method: str = DEFAULT_METHOD,
    threshold: float | None = None,
    target_false_alarm: float = 0.05,
) -> CalibrationReport:
    """Score `pairs` with `method` and measure it; threshold None means the method's default."""
    if method not in ALL_METHODS:
        raise ConfigError(f"unknown drift method {method!r}; valid: {', '.join(ALL_METHODS)}")
    if threshold is None:
        threshold = EVIDENCE_THRESHOLD if method == EVIDENCE else METHOD_THRESHOLDS[method]
    if method == EVIDENCE:
        scored = score_evidence(
            embedder, [EvidencePair(p.pair.objective, fallback_evidence(p), p.pair.repo) for p in pairs]
        )
        scores = [s.score for s in scored]
    else:
        scores = score_pairs(embedder, [p.pair for p in pairs], method=method)
    return summarize(pairs, scores, threshold=threshold, target_false_alarm=target_false_alarm, method=method)


def summarize(
    pairs: Sequence[LabelledPair],
    scores: Sequence[float],
    *,
    threshold: float,
    target_false_alarm: float = 0.05,
    method: str = DEFAULT_METHOD,
) -> CalibrationReport:
    """The figures for given scores (higher = more on-goal; drift when score < threshold)."""
    if not 0 <= target_false_alarm < 1:
        raise ConfigError(f"target false-alarm rate must be in [0, 1), got {target_false_alarm}")
    kept = [(float(s), p.is_match) for s, p in zip(scores, pairs, strict=True) if not math.isnan(s)]
    genuine = sorted(s for s, is_match in kept if is_match)
    drift = [s for s, is_match in kept if not is_match]
    at_target = _threshold_for_rate(genuine, target_false_alarm)
    kinds = sorted({p.kind_name for p in pairs if not p.is_match})
    per_kind = tuple(
        _kind_figures(
            kind,
            genuine,
            [float(s) for s, p in zip(scores, pairs, strict=True) if p.kind_name == kind and not math.isnan(s)],
            threshold,
            at_target,
        )
        for kind in (kinds if len(kinds) > 1 else [])
    )
    return CalibrationReport(
        method=method,
        threshold=threshold,
        matches=len(genuine),
        drifts=len(drift),
        unscorable=len(pairs) - len(kept),
        auc=_auc(genuine, drift),
        false_alarm_rate=_share_below(genuine, threshold),
        recall=_share_below(drift, threshold),
        target_false_alarm=target_false_alarm,
        threshold_at_target=at_target,
        false_alarm_at_target=_share_below(genuine, at_target),
        recall_at_target=_share_below(drift, at_target),
        kinds=per_kind,
        without_changes=sum(p.evidence is None for p in pairs),
        evidence_pairs=sum(p.evidence is not None for p in pairs),
    )


def _kind_figures(
    kind: str, genuine: list[float], scores: list[float], threshold: float, at_target: float
) -> KindFigures:
    return KindFigures(
        kind, len(scores), _auc(genuine, scores), _share_below(scores, threshold), _share_below(scores, at_target)
    )


def _share_below(values: Sequence[float], threshold: float) -> float:
    if not values:
        return math.nan
    return sum(v < threshold for v in values) / len(values)


def _threshold_for_rate(genuine_sorted: Sequence[float], rate: float) -> float:
    """Largest t with at most `rate` of genuine scores strictly below t: the (floor(rate*n)+1)-th lowest."""
    if not genuine_sorted:
        return math.nan
    return genuine_sorted[math.floor(rate * len(genuine_sorted))]


def _auc(genuine: Sequence[float], drift: Sequence[float]) -> float:
    if not genuine or not drift:
        return math.nan
    from sklearn.metrics import roc_auc_score

    labels = [1] * len(genuine) + [0] * len(drift)
    return float(roc_auc_score(labels, [*genuine, *drift]))


def format_report(report: CalibrationReport) -> str:
    """Plain-text lines for the terminal: warnings first, then per kind of drift when there are several
    (the figures docs/drift-calibration.md and the README quote), then the pooled figures, named so."""
    r = report
    judged = (
        f"{r.evidence_pairs} judged on their changes, {r.without_changes} on their did-text alone (no changes found)"
        if r.evidence_pairs
        else "judged on their did-text"
    )
    kind_lines = [
        f"  {k.kind}: {k.count} pairs, ROC AUC {_num(k.auc, '.3f')}, recall {_pct(k.recall)} at the threshold, "
        f"{_pct(k.recall_at_target)} at the target"
        for k in r.kinds
    ]
    pooled = " (all drift kinds together)" if kind_lines else ""
    return "\n".join(
        [
            *(f"warning: {w}" for w in r.warnings),
            f"method {r.method}: {r.matches} genuine pairs, {r.drifts} drift pairs"
            + (f", {r.unscorable} unscorable (blank text)" if r.unscorable else "")
            + f"; {judged}",
            *([_kinds_header(r), *kind_lines] if kind_lines else []),
            f"ROC AUC {_num(r.auc, '.3f')}{pooled}",
            f"at threshold {_num(r.threshold, '.3f')}: false alarms {_pct(r.false_alarm_rate)} of genuine pairs, "
            f"drift recall {_pct(r.recall)}{pooled}",
            f"for false alarms <= {_pct(r.target_false_alarm)}: threshold {_num(r.threshold_at_target, '.3f')} "
            f"(false alarms {_pct(r.false_alarm_at_target)}, drift recall {_pct(r.recall_at_target)}"
            + (", all drift kinds together)" if kind_lines else ")"),
        ]
    )


def _kinds_header(r: CalibrationReport) -> str:
    return (
        f"per kind of drift, each against all {r.matches} genuine pairs (threshold {_num(r.threshold, '.3f')}; "
        f"target: {_num(r.threshold_at_target, '.3f')} for false alarms <= {_pct(r.target_false_alarm)}):"
    )


def _num(value: float, spec: str) -> str:
    return "n/a" if math.isnan(value) else format(value, spec)


def _pct(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.1%}"

"""Calibrate the goal-drift threshold on labelled history: `run-monitor drift calibrate PAIRS.jsonl`.

Input is JSON lines, one pair per line:

    {"objective": "Fix keyset pagination", "did": "fix: honour next link", "label": "match",
     "repo": "group/app", "split": "dev"}

`did` may be spelled `commit_message`; `repo` and `split` are optional. `label` is `match` (the work
fits the objective) or `drift`. A line that is not such an object is reported with its line number and
skipped. The report gives the ROC AUC, the false-alarm rate (genuine pairs flagged) and the drift recall
at the configured threshold, and the threshold that keeps false alarms at the target rate.

Pairs are scored together, so for the normalising methods each pair's background is the other pairs of
its repository in the file, as it would be the other objectives of the window in production.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from monitors.contracts.errors import ConfigError
from monitors.drift.scoring import DEFAULT_METHOD, METHOD_THRESHOLDS, DriftPair, score_pairs
from monitors.support.embeddings import Embedder

LABELS = ("match", "drift")


@dataclass(frozen=True)
class LabelledPair:
    pair: DriftPair
    label: str  # "match" or "drift"
    split: str | None = None

    @property
    def is_match(self) -> bool:
        return self.label == "match"


class LoadedPairs(NamedTuple):
    pairs: list[LabelledPair]
    problems: list[str]  # "line N: reason" for each skipped line


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


def load_labelled_pairs(path: str | Path) -> LoadedPairs:
    """Read labelled pairs; malformed lines become problems with their line number, never a crash."""
    pairs: list[LabelledPair] = []
    problems: list[str] = []
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise ConfigError(f"cannot read labelled pairs {path}: {exc.strerror or exc}") from exc
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            pairs.append(_parse_line(line))
        except ValueError as exc:
            problems.append(f"line {number}: {exc}")
    return LoadedPairs(pairs, problems)


def _parse_line(line: str) -> LabelledPair:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON ({exc.msg})") from None
    if not isinstance(record, dict):
        raise ValueError("not a JSON object")
    did = record.get("did", record.get("commit_message"))
    objective, label = record.get("objective"), record.get("label")
    repo, split = record.get("repo"), record.get("split")
    if not isinstance(objective, str) or not isinstance(did, str):
        raise ValueError("objective and did (or commit_message) must be strings")
    if label not in LABELS:
        raise ValueError(f"label must be one of {', '.join(LABELS)}")
    if not isinstance(repo, str | None) or not isinstance(split, str | None):
        raise ValueError("repo and split must be strings when present")
    return LabelledPair(DriftPair(objective, did, repo), label, split)


def calibrate(
    pairs: Sequence[LabelledPair],
    embedder: Embedder,
    *,
    method: str = DEFAULT_METHOD,
    threshold: float | None = None,
    target_false_alarm: float = 0.05,
) -> CalibrationReport:
    """Score `pairs` with `method` and measure it; threshold None means the method's default."""
    if threshold is None:
        threshold = METHOD_THRESHOLDS.get(method, math.nan)
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
    """Plain-text lines for the terminal."""
    r = report
    return "\n".join(
        [
            f"method {r.method}: {r.matches} genuine pairs, {r.drifts} drift pairs"
            + (f", {r.unscorable} unscorable (blank text)" if r.unscorable else ""),
            f"ROC AUC {_num(r.auc, '.3f')}",
            f"at threshold {_num(r.threshold, '.3f')}: false alarms {_pct(r.false_alarm_rate)} of genuine pairs, "
            f"drift recall {_pct(r.recall)}",
            f"for false alarms <= {_pct(r.target_false_alarm)}: threshold {_num(r.threshold_at_target, '.3f')} "
            f"(false alarms {_pct(r.false_alarm_at_target)}, drift recall {_pct(r.recall_at_target)})",
        ]
    )


def _num(value: float, spec: str) -> str:
    return "n/a" if math.isnan(value) else format(value, spec)


def _pct(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.1%}"

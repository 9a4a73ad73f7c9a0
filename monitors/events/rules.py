"""The rules, as pure functions of one day's tallies: signature bursts, error share, failing scores.

The usual error share is robust, as the cost monitor's spike baseline is: the median of an agent's daily
shares over recent days, its spread the MAD scaled to a standard deviation and floored, so one bad day
in the history moves neither. A day alerts when its share clears median + k·spread, is at least
`min_ratio` times the median and above `min_share` (which keeps a usually-perfect agent's 1-in-200 day
quiet), with at least `min_errors` errors.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import date, timedelta

from monitors.events.config import ErrorRules, Evaluator, ShareRule
from monitors.events.tally import Counts, Group, Groups

MAD_SCALE = 1.4826
MIN_SPREAD_FRACTION = 0.1  # a flat history has MAD 0: floor the spread at 10% of the median


@dataclass(frozen=True)
class Usual:
    """An agent's usual daily error share (errors / observations)."""

    median: float
    spread: float
    days: int


@dataclass(frozen=True)
class Burst:
    agent: str
    signature: str
    group: Group
    usual_count: float | None = None  # the signature's median daily count, when there is history


@dataclass(frozen=True)
class ShareExcess:
    agent: str
    errors: int
    observations: int
    usual: Usual
    threshold: float
    multiplier: float
    min_ratio: float

    @property
    def share(self) -> float:
        return self.errors / self.observations


@dataclass(frozen=True)
class Failing:
    evaluator: Evaluator
    agent: str
    group: Group
    scores: int  # all of the agent's scores from this evaluator that day (at least the failing ones)

    @property
    def share(self) -> float:
        return self.group.count / self.scores


def errors_of(groups: Groups, day: date, agent: str) -> int:
    return sum(g.count for g in groups.get(day.isoformat(), {}).get(agent, {}).values())


def usual_share(errors: Groups, volume: Counts, agent: str, day: date, rules: ErrorRules) -> Usual | None:
    """The agent's usual share from the days before `day` with enough observations; None if too few."""
    shares = []
    for back in range(1, rules.share.baseline_days + 1):
        earlier = day - timedelta(days=back)
        total = volume.get(earlier.isoformat(), {}).get(agent, 0)
        if total >= max(rules.min_observations, 1):
            shares.append(errors_of(errors, earlier, agent) / total)
    if len(shares) < rules.share.min_days:
        return None
    median = statistics.median(shares)
    mad = statistics.median(abs(s - median) for s in shares)
    return Usual(median, max(MAD_SCALE * mad, MIN_SPREAD_FRACTION * median), len(shares))


def enough_volume(volume: Counts | None, day: date, agent: str, rules: ErrorRules) -> bool:
    """The minimum-volume gate; without observation counts (share rule off) it cannot apply."""
    if volume is None:
        return True
    return volume.get(day.isoformat(), {}).get(agent, 0) >= rules.min_observations


def usual_signature_count(
    errors: Groups, volume: Counts, agent: str, signature: str, day: date, rules: ErrorRules
) -> float | None:
    """Median daily count of one signature over the agent's baseline days (a day without it counts 0)."""
    counts = []
    for back in range(1, rules.share.baseline_days + 1):
        earlier = (day - timedelta(days=back)).isoformat()
        if volume.get(earlier, {}).get(agent, 0) >= max(rules.min_observations, 1):
            group = errors.get(earlier, {}).get(agent, {}).get(signature)
            counts.append(group.count if group else 0)
    return statistics.median(counts) if len(counts) >= rules.share.min_days else None


def bursts(errors: Groups, volume: Counts | None, day: date, rules: ErrorRules) -> list[Burst]:
    """Signatures with at least `min_count` errors for one agent that day, and (with history) at least
    `signature_ratio` times their usual daily count."""
    found = []
    for agent, sigs in sorted(errors.get(day.isoformat(), {}).items()):
        if not enough_volume(volume, day, agent, rules):
            continue
        for signature, group in sorted(sigs.items()):
            if group.count < rules.min_count:
                continue
            usual = usual_signature_count(errors, volume, agent, signature, day, rules) if volume is not None else None
            if usual is None or rules.signature_ratio == 0 or group.count >= rules.signature_ratio * usual:
                found.append(Burst(agent, signature, group, usual))
    return found


def share_threshold(usual: Usual, rule: ShareRule) -> float:
    return max(usual.median + rule.multiplier * usual.spread, usual.median * rule.min_ratio, rule.min_share)


def share_excess(errors: Groups, volume: Counts, day: date, agent: str, rules: ErrorRules) -> ShareExcess | None:
    """The agent's error share that day when it clears its usual share by the configured margins."""
    total = volume.get(day.isoformat(), {}).get(agent, 0)
    count = errors_of(errors, day, agent)
    if total < max(rules.min_observations, 1) or count < rules.share.min_errors:
        return None
    usual = usual_share(errors, volume, agent, day, rules)
    if usual is None:
        return None
    threshold = share_threshold(usual, rules.share)
    if count / total > threshold:
        return ShareExcess(agent, count, total, usual, threshold, rules.share.multiplier, rules.share.min_ratio)
    return None


def failing(evaluator: Evaluator, agent: str, group: Group, scores: int) -> Failing | None:
    """A Failing verdict: any failure of a critical evaluator, else a failure share above the maximum."""
    scores = max(scores, group.count)  # counts can lag the rows by a little: never a share above 100%
    if group.count == 0:
        return None
    if evaluator.critical:
        return Failing(evaluator, agent, group, scores)
    if scores >= evaluator.min_scores and group.count / scores > evaluator.max_failing_share:
        return Failing(evaluator, agent, group, scores)
    return None

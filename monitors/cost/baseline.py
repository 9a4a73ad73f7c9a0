"""Robust baseline, spike test and end-of-day projection for daily spend.

The baseline is the median of recent daily spend and its spread the MAD (median absolute deviation,
scaled by 1.4826 to match a standard deviation on normal data): one runaway day does not move either,
unlike a mean. With enough history the baseline uses the same weekday only, because agents that run
on weekdays would otherwise make every Monday look like a spike.

A usual day of $0 cannot size a spike: median and MAD are both $0, so any day `min_dollars` above
nothing would be a "spike", and a user active a few days a fortnight would alert on each of them. So:
- same weekdays whose median is $0 (a Saturday of an agent that rests at weekends) are not used; the
  last `days` days are, as when there are too few same weekdays;
- when the median of those is $0 too (at least half of them had no spend), the series is asked what a
  day WITH spend usually costs: the baseline is the median of its days with spend among them, and needs
  MIN_ACTIVE_DAYS such days before it gives a verdict (until then the budget caps still apply).
A day is then a spike when it is well above that usual, by the same multiplier, ratio and dollar guards
as any other series; a day that merely has spend is not. The alert says which days "usual" is the
median of, and how many of the recent days had no spend. This rule (rather than, say, a larger spread
floor) leaves every series whose median day has spend exactly as it was, and its "usual" is a figure the
alert can print and a reader can check.

The projection divides today's spend so far by the share of a day's spend that usually has happened by
this time of day (the hourly profile of recent closed days); with no history it assumes an even spread.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from monitors.contracts.findings import utc

MAD_SCALE = 1.4826
# A perfectly flat history has MAD 0; a floor on the spread keeps cents of noise from being "spikes".
MIN_SPREAD_FRACTION = 0.1
# Days with spend a sparse series needs before its usual day with spend means anything: the median of
# fewer than 3 values is the mean of at most two, which one runaway day moves as far as it likes.
MIN_ACTIVE_DAYS = 3


@dataclass(frozen=True)
class UsualDays:
    """The closed days whose median is a series' usual day (see the module docstring)."""

    days: tuple[date, ...]
    weekday: bool  # True when only the same weekday was used
    idle: int = 0  # days without spend left out: > 0 only when the usual is a day with spend
    span: int = 0  # calendar days the recent days were looked for in (the last `days`)


@dataclass(frozen=True)
class Baseline:
    median: float
    spread: float  # scaled MAD, floored
    samples: int
    weekday: bool  # True when only the same weekday was used
    idle: int = 0  # days without spend left out (the median is of days with spend; see UsualDays)


@dataclass(frozen=True)
class Spike:
    observed: float
    baseline: Baseline
    threshold: float

    @property
    def excess(self) -> float:
        return self.observed - self.baseline.median


def usual_days(
    history: dict[date, float],
    day: date,
    *,
    days: int,
    weekday_aware: bool,
    weekday_weeks: int,
    min_weekday_samples: int = 3,
) -> UsualDays:
    """The days "usual" means for `day`, from `history` (closed days only, {day: usd}): the same weekday
    of the last `weekday_weeks` weeks when at least `min_weekday_samples` are known and their median is
    above $0, else the last `days` days when their median is above $0, else the days with spend among
    those (a sparse series: the usual is a day with spend; `idle` counts the days left out)."""
    if weekday_aware:
        same = tuple(d for w in range(1, weekday_weeks + 1) if (d := day - timedelta(weeks=w)) in history)
        if len(same) >= min_weekday_samples and _median_of(history, same) > 0:
            return UsualDays(same, weekday=True)
    recent = tuple(d for i in range(1, days + 1) if (d := day - timedelta(days=i)) in history)
    if not recent or _median_of(history, recent) > 0:
        return UsualDays(recent, weekday=False)
    active = tuple(d for d in recent if history[d] > 0)
    return UsualDays(active, weekday=False, idle=len(recent) - len(active), span=days)


def _median_of(history: dict[date, float], days: Sequence[date]) -> float:
    return statistics.median(history[d] for d in days)


def robust_baseline(
    history: dict[date, float],
    day: date,
    *,
    days: int,
    min_days: int,
    weekday_aware: bool,
    weekday_weeks: int,
    min_weekday_samples: int = 3,
) -> Baseline | None:
    """Baseline for `day` over usual_days; None when too little history: fewer than `min_days` recent
    days, or a sparse series with fewer than MIN_ACTIVE_DAYS days with spend."""
    usual = usual_days(
        history,
        day,
        days=days,
        weekday_aware=weekday_aware,
        weekday_weeks=weekday_weeks,
        min_weekday_samples=min_weekday_samples,
    )
    if not usual.weekday and len(usual.days) + usual.idle < min_days:
        return None
    if usual.idle and len(usual.days) < MIN_ACTIVE_DAYS:
        return None
    return _baseline([history[d] for d in usual.days], weekday=usual.weekday, idle=usual.idle)


def _baseline(values: Sequence[float], *, weekday: bool, idle: int) -> Baseline:
    median = statistics.median(values)
    mad = statistics.median(abs(v - median) for v in values)
    return Baseline(median, max(MAD_SCALE * mad, MIN_SPREAD_FRACTION * median), len(values), weekday, idle)


def spike_check(
    observed: float, baseline: Baseline, *, multiplier: float, min_dollars: float, min_ratio: float = 1.0
) -> Spike | None:
    """A Spike when `observed` is above median + multiplier * spread AND at least `min_dollars` above
    the median (so $0.02 -> $0.09 is never an alert, however many MADs it is) AND at least `min_ratio`
    times the median (a steady series has a tiny MAD: +50% would otherwise count as a spike)."""
    threshold = max(baseline.median + multiplier * baseline.spread, baseline.median * min_ratio)
    if observed > threshold and observed - baseline.median >= min_dollars:
        return Spike(observed, baseline, threshold)
    return None


def hourly_profile(days_hours: Sequence[Sequence[float]]) -> list[float] | None:
    """Cumulative share of a day's spend by the end of each local hour (24 values, last is 1.0),
    averaged over days with spend; None when no day had any."""
    shares: list[list[float]] = []
    for hours in days_hours:
        total = sum(hours)
        if total <= 0 or len(hours) != 24:
            continue
        running, cumulative = 0.0, []
        for value in hours:
            running += max(value, 0.0)
            cumulative.append(running / total)
        shares.append(cumulative)
    if not shares:
        return None
    return [sum(day[h] for day in shares) / len(shares) for h in range(24)]


def expected_fraction(profile: list[float] | None, local_now: datetime, day_start: datetime) -> float:
    """The share of the day's spend that has usually happened by `local_now`."""
    if profile is None:
        # An even spread over the day's real length: a DST day is 23 or 25 hours. Subtracted in UTC, since
        # two times in one zone subtract as wall clocks (12:00 is 12 hours into a 23-hour day, not 11).
        # (The hour-of-day profile below goes by the wall clock: an approximation on those days.)
        next_midnight = datetime.combine(day_start.date() + timedelta(days=1), time(0), tzinfo=day_start.tzinfo)
        elapsed = (utc(local_now) - utc(day_start)).total_seconds()
        length = (utc(next_midnight) - utc(day_start)).total_seconds()
        return min(max(elapsed / length, 0.0), 1.0)
    hour = local_now.hour
    before = profile[hour - 1] if hour > 0 else 0.0
    within = (local_now.minute * 60 + local_now.second) / 3600.0
    # Rounded so float noise in summed costs cannot move a projection across its threshold.
    return round(min(max(before + (profile[hour] - before) * within, 0.0), 1.0), 6)


def project(spend: float, fraction: float, min_fraction: float) -> float | None:
    """End-of-day spend at today's pace, or None while too little of the usual day has passed."""
    if fraction < min_fraction or fraction <= 0:
        return None
    return spend / fraction

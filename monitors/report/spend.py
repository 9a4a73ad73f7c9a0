"""Spend for the report week and the week before, from the source's cost aggregates.

Four queries per report (total, per agent, per model, per user), each spanning both weeks so the
week-on-week delta needs no second request. Against Langfuse the first three are one Metrics v2
request each; per user is summed from observation rows (Metrics v2 cannot group by user). Day buckets
are UTC days, so a report in another time zone asks for hours and folds them into local days.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Literal

from monitors.contracts.errors import MonitorsError
from monitors.contracts.records import CostBucket
from monitors.contracts.source import CostQuery, TraceSource
from monitors.report.fmt import delta, money
from monitors.report.period import ReportWeek

log = logging.getLogger(__name__)

# Report label -> the source's cost dimension.
DIMENSIONS = {"agent": "traceName", "model": "model", "user": "user"}
# Below half a cent both weeks a row would read "$0.00 $0.00": observations that carry no cost.
NEGLIGIBLE = 0.005


@dataclass(frozen=True)
class Ranked:
    """One agent/model/user's spend this week and the week before."""

    name: str
    cost: float
    previous: float


@dataclass
class Spend:
    """What the week cost: per local day, in total, and per agent/model/user (sorted, costliest first)."""

    daily: list[tuple[date, float]]
    total: float
    previous_total: float
    by: dict[str, list[Ranked]] = field(default_factory=dict)
    cap: float | None = None
    errors: list[str] = field(default_factory=list)
    requests: int = 0
    known: bool = False  # the total was read; when it was not, the zeros above are not the week's spend

    def headline(self) -> str:
        """'$195.71 (+34% vs the week before)', or 'unknown' when the total could not be read: a failed
        read must not read as a $0.00 week."""
        if not self.known:
            return "unknown (could not be read, see below)"
        return f"{money(self.total)} ({delta(self.total, self.previous_total)} vs the week before)"

    def days_over_cap(self) -> list[date]:
        if not self.cap:
            return []
        return [day for day, cost in self.daily if cost > self.cap]


def granularity_for(week: ReportWeek) -> Literal["day", "hour"]:
    """Day buckets are UTC days: only usable when local midnight is UTC midnight all week."""
    offsets = {week.tz.utcoffset(week.start.replace(tzinfo=None) + timedelta(days=i)) for i in range(8)}
    return "day" if offsets == {timedelta(0)} else "hour"


def gather_spend(source: TraceSource, week: ReportWeek, *, cap: float | None = None) -> Spend:
    """Query the source for the week's spend; a query that fails is noted in `errors`, never raised."""
    before = source.stats.requests
    previous = week.previous()
    grain = granularity_for(week)
    spend = Spend(daily=[(day, 0.0) for day in week.days], total=0.0, previous_total=0.0, cap=cap)
    buckets = _query(source, CostQuery(previous.start, week.end, granularity=grain), spend, "total spend")
    if buckets is not None:
        this, prev = _split(buckets, week)
        spend.daily = [(day, this.get(day, 0.0)) for day in week.days]
        spend.total, spend.previous_total = sum(this.values()), sum(prev.values())
        spend.known = True
    for label, dimension in DIMENSIONS.items():
        query = CostQuery(previous.start, week.end, granularity=grain, group_by=dimension)
        grouped = _query(source, query, spend, f"spend by {label}")
        if grouped is not None:
            spend.by[label] = _rank(grouped, week, f"(no {label})")
    spend.requests = source.stats.requests - before
    return spend


def _query(source: TraceSource, query: CostQuery, spend: Spend, what: str) -> list[CostBucket] | None:
    try:
        return source.costs(query)
    except MonitorsError as exc:
        log.warning("report: could not read %s: %s", what, exc)
        spend.errors.append(f"{what}: {exc}")
        return None


def _split(buckets: list[CostBucket], week: ReportWeek) -> tuple[dict[date, float], dict[date, float]]:
    """Sum buckets per local day, separately for the report week and the week before."""
    this: dict[date, float] = defaultdict(float)
    prev: dict[date, float] = defaultdict(float)
    for bucket in buckets:
        if not _finite(bucket.cost):
            continue
        target = this if week.start <= bucket.start < week.end else prev
        target[week.local_day(bucket.start)] += bucket.cost
    return this, prev


def _rank(buckets: list[CostBucket], week: ReportWeek, no_value: str) -> list[Ranked]:
    """Spend per name, costliest first; `no_value` names spend without one (a span with no model)."""
    this: dict[str, float] = defaultdict(float)
    prev: dict[str, float] = defaultdict(float)
    for bucket in buckets:
        if not _finite(bucket.cost):
            continue
        name = bucket.group or no_value
        (this if week.start <= bucket.start < week.end else prev)[name] += bucket.cost
    names = {n for n in set(this) | set(prev) if max(this.get(n, 0.0), prev.get(n, 0.0)) >= NEGLIGIBLE}
    ranked = [Ranked(name, this.get(name, 0.0), prev.get(name, 0.0)) for name in names]
    return sorted(ranked, key=lambda r: (-r.cost, -r.previous, r.name))


def _finite(value: float) -> bool:
    return isinstance(value, int | float) and value == value and abs(value) != float("inf")

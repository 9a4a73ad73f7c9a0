"""The cost monitor's query plan: bring the ledger up to date with as few requests as possible.

Every run:
1. reads only the NEW cost-bearing observations since the ledger's cursor (one Observations v2
   page per 1000 rows; a 15-minute window rarely needs more than one) and adds them to the ledger;
   this is the only source for user, tag and metadata budgets, which Metrics v2 cannot group by;
2. closes each local day that has ended (plus `settle_delay`) with exact Metrics v2 aggregates, once:
   a closed day is never asked for again;
3. backfills history days the ledger lacks (first run, or after a long outage), once;
4. refreshes today's aggregates when a refresh is due, which corrects what late-arriving rows missed.
Steps 2-4 each cost one request per aggregate dimension (the hourly total plus agent/model/environment
when used) and are rationed to `metrics_requests_per_day` per rolling 24 hours. docs/cost-query-plan.md
has the arithmetic.

Langfuse Cloud also rations Metrics v2 per organisation (Hobby 100 a day, Core 100 an hour, Pro 500 an
hour), shared with everything else the organisation runs. When that budget is spent the source raises
BudgetSpent with the server's Retry-After: the run keeps the ledger's row totals (step 1 still runs),
leaves steps 2-4 for later, remembers when the budget returns so no run spends a request to hear "429"
again, says so in its summary (`cost.metrics_budget_back_in_min`), and resumes aggregates after that.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from monitors.contracts.errors import BudgetSpent, SourceError
from monitors.contracts.findings import RunWindow
from monitors.contracts.monitor import RunContext
from monitors.contracts.records import CostBucket
from monitors.contracts.source import CostQuery, ObservationQuery
from monitors.cost.budgets import AGGREGATE_DIMENSIONS, METADATA_PREFIX, dimension_values
from monitors.cost.ledger import Ledger, day_bounds, days_between, local_date

BUDGET_BACK = "metrics_budget_back"  # ledger key: when Langfuse said the Metrics budget returns

ROW_FIELDS = frozenset({"core", "basic", "usage", "model", "trace_context"})
MIN_COST = 1e-12  # "cost > 0": zero-cost spans are most rows and add nothing
# Refunds and credits (a negative cost) are not spend: rows are read with totalCost >= MIN_COST, so they
# never reach the ledger. Metrics v2 sums them in with the spend of their bucket, so an hour (or an
# agent's or model's day) holding more credit than spend sums below $0; such a bucket is booked as $0,
# never as negative spend, and counted under this name in the run summary so the user can see it (only
# buckets of a set that is booked: a set with a failed query is not).
NEGATIVE_COST = "cost.negative_cost_buckets"


@dataclass(frozen=True)
class Tracking:
    """What the ledger tracks, derived from the config once per run."""

    row_dims: tuple[str, ...]  # every dimension summed from rows
    agg_dims: tuple[str, ...]  # the subset Metrics v2 can also aggregate
    cross: dict[str, list[str]]  # scoped-budget dimension -> contributor dimensions inside it
    max_values: int = 200

    @property
    def requests_per_set(self) -> int:
        return 1 + len(self.agg_dims)  # the hourly total plus one grouped query per dimension


@dataclass
class SyncReport:
    rows: int = 0
    closed: list[date] = field(default_factory=list)
    backfilled: list[date] = field(default_factory=list)
    refreshed: bool = False
    metrics_requests: int = 0
    skipped_for_budget: list[str] = field(default_factory=list)
    budget_back_in: timedelta | None = None  # Langfuse's Metrics budget is spent for this long


@dataclass(frozen=True)
class Rationing:
    per_day: int
    settle: timedelta


def read_new_rows(ctx: RunContext, ledger: Ledger, track: Tracking) -> int:
    """Step 1: add observations in [cursor, window end) to the ledger; return how many."""
    end = ctx.window.end
    first_day = local_date(ctx.window.start, ledger.tz)
    start = day_bounds(first_day, ledger.tz)[0]
    if ledger.cursor is not None:
        start = max(start, ledger.cursor)
    if start >= end:
        return 0
    meta_keys = tuple(d.removeprefix(METADATA_PREFIX) for d in track.row_dims if d.startswith(METADATA_PREFIX))
    query = ObservationQuery(
        window=RunWindow(start, end),
        fields=ROW_FIELDS | ({"metadata"} if meta_keys else set()),
        expand_metadata=meta_keys,
        min_total_cost=MIN_COST,
    )
    count = 0
    for obs in ctx.source.observations(query):
        if obs.total_cost < 0 and start <= obs.start_time < end:
            # A refund or credit from a source that ignored the filter: budgets cap spend, and Langfuse
            # never sends these rows (see NEGATIVE_COST), but the run says it saw one.
            ctx.count("cost.negative_rows_skipped")
        if not start <= obs.start_time < end or obs.total_cost <= 0:
            continue  # a source that ignored the filter must not double count
        dims = {dim: dimension_values(obs, dim) for dim in track.row_dims}
        ledger.add_observation(obs, dims, track.cross, track.max_values)
        count += 1
    ledger.note_rows_read(start, end)
    ledger.cursor = end
    return count


def _granularity_exact(ledger: Ledger) -> Literal["hour", "day"]:
    # Metrics v2 day buckets are UTC days: only in UTC do they match local days exactly.
    return "day" if ledger.tz.key in ("UTC", "Etc/UTC", "Etc/UCT", "UCT", "Zulu") else "hour"


def _bucket_time(bucket: CostBucket, granularity: str, query_start: datetime, tz: ZoneInfo) -> datetime:
    """The local time a UTC bucket's spend is booked at.

    A coarse UTC-day bucket goes to the local day holding its middle. An hour bucket goes to its start,
    but never before the query's: in a timezone half an hour off UTC (Asia/Kolkata) a local day starts
    mid-hour, and the first bucket, which the server labels with the whole hour, holds only spend from
    the query's start on, which belongs to the day being read, not the one before.
    """
    if granularity == "day":
        return (bucket.start + timedelta(hours=12)).astimezone(tz)
    return max(bucket.start, query_start).astimezone(tz)


def _spread(ledger: Ledger, buckets: Iterable[CostBucket], query_start: datetime) -> dict[date, list[float]]:
    """Map UTC hour buckets onto local days and hours."""
    out: dict[date, list[float]] = {}
    for bucket in buckets:
        local = _bucket_time(bucket, "hour", query_start, ledger.tz)
        out.setdefault(local.date(), [0.0] * 24)[local.hour] += max(bucket.cost, 0.0)
    return out


def fetch_set(
    ctx: RunContext, ledger: Ledger, track: Tracking, start: datetime, end: datetime, exact: bool
) -> dict[str, dict[date, dict[str, float]]] | None:
    """One aggregate set over [start, end): {"": {day: {"hours": ...}}, dim: {day: {value: usd}}}.

    Returns None when the source fails (counted); nothing is applied then, so a set is all or nothing.
    """
    group_gran: Literal["hour", "day"] = _granularity_exact(ledger) if exact else "day"
    before = ctx.source.stats.requests
    calls = negative = 0
    result: dict[str, dict[date, dict[str, float]]] = {}
    try:
        if budget_back_at(ledger, ctx.now) is not None:
            raise BudgetSpent("the Metrics API budget is still spent", 0)
        calls += 1
        totals = list(ctx.source.costs(CostQuery(start, end, granularity="hour")))
        negative += _negative(totals)
        spread = _spread(ledger, totals, start)
        result[""] = {d: {str(h): c for h, c in enumerate(hours)} for d, hours in spread.items()}
        for dim in track.agg_dims:
            calls += 1
            query = CostQuery(start, end, granularity=group_gran, group_by=AGGREGATE_DIMENSIONS[dim])
            per_day: dict[date, dict[str, float]] = {}
            grouped = list(ctx.source.costs(query))
            negative += _negative(grouped)
            for bucket in grouped:
                table = per_day.setdefault(_bucket_time(bucket, group_gran, start, ledger.tz).date(), {})
                key = (bucket.group or "")[:200]
                table[key] = table.get(key, 0.0) + max(bucket.cost, 0.0)
            result[dim] = per_day
    except BudgetSpent as exc:
        if exc.retry_after:
            back = ctx.now + timedelta(seconds=exc.retry_after)
            ledger.data[BUDGET_BACK] = back.isoformat()
            ctx.log.warning("cost: %s; using the ledger's row totals until %s", exc, back.isoformat())
        result_ok = False
    except SourceError as exc:
        ctx.count("cost.aggregate_errors")
        ctx.log.warning("cost: aggregate query failed, using observation rows only: %s", exc)
        result_ok = False
    else:
        result_ok = True
        # Only a set that is used books its negative buckets as $0; a failed one's buckets are not counted.
        if negative:
            ctx.count(NEGATIVE_COST, negative)
    # The source counts requests (retries and pages included); never count fewer than the calls made.
    ledger.record_metrics(ctx.now, max(ctx.source.stats.requests - before, calls))
    return result if result_ok else None


def _negative(buckets: Iterable[CostBucket]) -> int:
    return sum(bucket.cost < 0 for bucket in buckets)


def apply_set(ledger: Ledger, track: Tracking, data: dict[str, dict[date, dict[str, float]]], days: list[date]) -> None:
    for day in days:
        hours_map = data[""].get(day, {})
        hours = [hours_map.get(str(h), 0.0) for h in range(24)]
        ledger.replace_totals(day, sum(hours), hours)
        for dim in track.agg_dims:
            ledger.replace_dim(day, dim, dict(data[dim].get(day, {})), track.max_values)


def _span(days: list[date], ledger: Ledger) -> tuple[datetime, datetime]:
    return day_bounds(min(days), ledger.tz)[0], day_bounds(max(days), ledger.tz)[1]


def _affordable(ledger: Ledger, ctx: RunContext, track: Tracking, per_day: int, reserve: int = 0) -> bool:
    return ledger.metrics_used(ctx.now) + track.requests_per_set + reserve <= per_day


def budget_back_at(ledger: Ledger, now: datetime) -> datetime | None:
    """When Langfuse said the spent Metrics budget returns, if that is still ahead of `now`."""
    text = ledger.data.get(BUDGET_BACK)
    try:
        back = datetime.fromisoformat(text) if isinstance(text, str) else None
    except ValueError:
        back = None
    if back is None or back <= now:
        ledger.data.pop(BUDGET_BACK, None)
        return None
    return back


def sync(ctx: RunContext, ledger: Ledger, track: Tracking, ration: Rationing, history_days: int) -> SyncReport:
    """Steps 1-4 of the module docstring."""
    report = SyncReport(rows=read_new_rows(ctx, ledger, track))
    today = local_date(ctx.window.end - timedelta(microseconds=1), ledger.tz)
    _close_days(ctx, ledger, track, ration, report, today)
    _backfill(ctx, ledger, track, ration.per_day, report, history_days)
    report.refreshed = _refresh_today(ctx, ledger, track, ration.per_day, today)
    report.metrics_requests = ledger.metrics_used(ctx.now)
    if (back := budget_back_at(ledger, ctx.now)) is not None:
        report.budget_back_in = back - ctx.now
    return report


def _close_days(
    ctx: RunContext, ledger: Ledger, track: Tracking, ration: Rationing, report: SyncReport, today: date
) -> None:
    """Step 2: every ended and settled day the run touched, or that the ledger holds open, is closed."""
    end = ctx.window.end
    candidates = [d for d in days_between(ctx.window.start, end, ledger.tz) if d != today]
    candidates += [d for d in ledger.days() if d < today]
    to_close = sorted(
        {d for d in candidates if not ledger.is_closed(d) and day_bounds(d, ledger.tz)[1] + ration.settle <= end}
    )
    if not to_close:
        return
    if ration.per_day:
        data = _fetch(ctx, ledger, track, to_close, True) if _affordable(ledger, ctx, track, ration.per_day) else None
        if data is None:
            report.skipped_for_budget.append("close")
            return  # stays open; the next run retries and the day's row totals still alert meanwhile
        apply_set(ledger, track, data, to_close)
    # With no Metrics ration a day is closed on its row totals alone.
    for day in to_close:
        ledger.close(day)
    report.closed = to_close


def _backfill(
    ctx: RunContext, ledger: Ledger, track: Tracking, per_day: int, report: SyncReport, history_days: int
) -> None:
    """Step 3: history days the ledger never saw, in one coarse set (baselines and the hourly profile)."""
    first = local_date(ctx.window.start, ledger.tz)
    missing = sorted(d for i in range(1, history_days + 1) if not ledger.has(d := first - timedelta(days=i)))
    if not missing or not per_day:
        return
    data = _fetch(ctx, ledger, track, missing, False) if _affordable(ledger, ctx, track, per_day) else None
    if data is None:
        report.skipped_for_budget.append("backfill")
        return
    apply_set(ledger, track, data, missing)
    for day in missing:
        ledger.close(day)
    report.backfilled = missing


def _refresh_today(ctx: RunContext, ledger: Ledger, track: Tracking, per_day: int, today: date) -> bool:
    """Step 4: re-aggregate today when due, keeping one set in reserve for tomorrow's close."""
    if not per_day or not _refresh_due(ctx.now, ledger, track, per_day):
        return False
    if not _affordable(ledger, ctx, track, per_day, reserve=track.requests_per_set):
        return False
    start, end = day_bounds(today, ledger.tz)[0], ctx.window.end
    if start >= end or (data := fetch_set(ctx, ledger, track, start, end, True)) is None:
        return False
    apply_set(ledger, track, data, [today])
    ledger.refreshed = ctx.now
    return True


def _fetch(
    ctx: RunContext, ledger: Ledger, track: Tracking, days: list[date], exact: bool
) -> dict[str, dict[date, dict[str, float]]] | None:
    start, end = _span(days, ledger)
    return fetch_set(ctx, ledger, track, start, end, exact)


def refresh_interval(track: Tracking, per_day: int) -> timedelta | None:
    """How often today may be re-aggregated: the daily ration minus two sets (a close and a spare)."""
    spare = per_day - 2 * track.requests_per_set
    if spare < track.requests_per_set:
        return None
    return timedelta(days=1) * track.requests_per_set / spare


def _refresh_due(now: datetime, ledger: Ledger, track: Tracking, per_day: int) -> bool:
    interval = refresh_interval(track, per_day)
    last = ledger.refreshed
    return interval is not None and (last is None or now - last >= interval)

"""The "why" of a cost alert: top contributors against their baseline, and the costliest traces.

Contributors come from the ledger (no request): for a global budget, the day's spend per agent,
model and user; for a scoped budget, the cross-tab kept for its values ("which agents drove alice").
The costliest traces need observation rows, so they are fetched only for a finding being raised, in
one query bounded to `max_rows` rows, and remembered in the state by dedupe key and rank so a rerun
that raises the same finding asks for nothing.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from monitors.contracts.findings import Link, RunWindow
from monitors.contracts.monitor import RunContext
from monitors.contracts.source import ObservationQuery
from monitors.cost.budgets import METADATA_PREFIX, BudgetConfig, dimension_values, display_value, usd
from monitors.cost.ledger import OTHER, Ledger
from monitors.cost.sync import MIN_COST, ROW_FIELDS

CACHE_KEY = "cost.explained"
LABELS = {"agent": "agent", "model": "model", "user": "user", "environment": "environment", "tag": "tag"}


@dataclass(frozen=True)
class Usual:
    """What a series usually spends, computed one way for every figure an alert shows.

    The median over `days` (the closed days the spike baseline uses: the same weekday of recent weeks
    when there are enough of them, else the last days; for a series whose median day had no spend, the
    days with spend among the last days, `idle` counting the others: monitors/cost/baseline.py). On a
    day still in progress it is scaled to `share`, the part of a day's spend that has usually happened by
    `as_of` (the hourly profile), so spend so far is never set against whole days.
    """

    days: tuple[date, ...]
    weekday: bool
    share: float | None = None  # None: the day is complete, compare with whole days
    as_of: datetime | None = None  # local time the share is for
    idle: int = 0  # recent days without spend, left out of `days`
    span: int = 0  # calendar days "recent" covers (with `idle`)

    def of(self, daily: dict[date, float]) -> float | None:
        """The usual amount of a series given its spend per day (days missing from `daily` are skipped)."""
        values = [daily[d] for d in self.days if d in daily]
        if not values:
            # No recent day had spend at all: the usual is $0, not unknown.
            return 0.0 if self.idle and not self.days else None
        return statistics.median(values) * (self.share if self.share is not None else 1.0)

    def label(self) -> str:
        if self.idle:
            known = len(self.days) + self.idle
            # Days the ledger lacks (not closed, rows not all read) are neither with spend nor without.
            where = f"the last {self.span} days"
            if known != self.span:
                where = f"{known} known days of the last {self.span}"
            if self.days:
                basis = f"median of {len(self.days)} days with spend; the other {self.idle} of {where} had none"
            else:
                basis = f"no spend on any of {where}"
        else:
            basis = f"median of {len(self.days)} " + ("same weekdays" if self.weekday else "days")
        if self.share is None or self.as_of is None:
            return basis
        return f"{basis}, by {self.as_of:%H:%M}"

    def by(self) -> str:
        """' by 10:15' on a day in progress: the usual is for the same time of day."""
        return f" by {self.as_of:%H:%M}" if self.share is not None and self.as_of is not None else ""


@dataclass(frozen=True)
class Contributor:
    dim: str
    value: str
    spend: float
    baseline: float | None  # usual spend (see Usual); None when never seen before
    by: str = ""  # " by 10:15" when the usual is for the same time of a day in progress
    no_usual: str = "no history yet"  # why `baseline` is None

    def describe(self) -> str:
        label = LABELS.get(self.dim, self.dim)
        name = "(other values)" if self.value == OTHER else display_value(self.value)
        text = f"{label} {name}: {usd(self.spend)}"
        if self.baseline is None:
            return text + f" ({self.no_usual})"
        if self.baseline < 0.005:  # under a cent: a percentage of it would be noise
            return text + f" (usually {usd(self.baseline)}{self.by})"
        change = round((self.spend / self.baseline - 1) * 100)  # an int: float noise never shows as "-0%"
        return text + f" ({change:+d}% vs usual {usd(self.baseline)}{self.by})"

    def to_json(self) -> dict[str, Any]:
        return {"dim": self.dim, "value": self.value, "spend": round(self.spend, 6), "baseline": self.baseline}


def _table(ledger: Ledger, day: date, budget: BudgetConfig, value: str, cdim: str) -> dict[str, float] | None:
    record = ledger.get(day)
    if record is None:
        return None
    if budget.scope == "none":
        table = record["dims"].get(cdim)
    else:
        table = record["cross"].get(budget.scope, {}).get(value, {}).get(cdim)
    return table if isinstance(table, dict) else None


def contributors(
    ledger: Ledger, budget: BudgetConfig, value: str, day: date, dims: list[str], usual: Usual, top: int = 3
) -> list[Contributor]:
    """The `top` biggest values per contributor dimension on `day`, with their usual spend."""
    out: list[Contributor] = []
    for cdim in dims:
        if cdim == budget.scope:
            continue
        today = _table(ledger, day, budget, value, cdim) or {}
        # Days whose table the ledger kept; on those a value with no spend spent $0.
        history = {d: t for d in usual.days if (t := _table(ledger, d, budget, value, cdim)) is not None}
        ranked = sorted(today.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
        for cvalue, spend in ranked:
            if spend <= 0:
                continue
            base = usual.of({d: t.get(cvalue, 0.0) for d, t in history.items()})
            # Past days can exist without this breakdown: closed days read as aggregates keep no users.
            why = f"no {LABELS.get(cdim, cdim)} breakdown of past days" if usual.days else "no history yet"
            out.append(Contributor(cdim, cvalue, spend, base, usual.by(), why))
    return out


@dataclass(frozen=True)
class TopTrace:
    trace_id: str
    cost: float
    name: str

    def to_json(self) -> dict[str, Any]:
        return {"trace_id": self.trace_id, "cost": round(self.cost, 6), "name": self.name}


def fetch_top_traces(
    ctx: RunContext, budget: BudgetConfig, value: str, start: datetime, end: datetime, *, max_rows: int, top: int
) -> list[TopTrace]:
    """The `top` traces by summed cost in [start, end) within the budget's scope (one bounded query)."""
    if end <= start:
        return []
    meta = budget.scope.removeprefix(METADATA_PREFIX) if budget.scope.startswith(METADATA_PREFIX) else None
    query = ObservationQuery(
        window=RunWindow(start, end),
        fields=ROW_FIELDS | ({"metadata"} if meta else set()),
        expand_metadata=(meta,) if meta else (),
        # Users are the one scope the API filters on; the rest are matched here.
        user_id=value if budget.scope == "user" else None,
        min_total_cost=MIN_COST,
    )
    sums: dict[str, float] = {}
    names: dict[str, str] = {}
    for seen, obs in enumerate(ctx.source.observations(query), start=1):
        if obs.total_cost <= 0:
            pass  # a source that ignored the filter: a refund is not a costly trace (see sync.NEGATIVE_COST)
        elif budget.scope == "none" or value in dimension_values(obs, budget.scope):
            sums[obs.trace_id] = sums.get(obs.trace_id, 0.0) + obs.total_cost
            names.setdefault(obs.trace_id, obs.trace_name or "")
        if seen >= max_rows:
            ctx.count("cost.explain_rows_truncated")
            break
    ranked = sorted(sums.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
    return [TopTrace(tid, cost, names[tid][:200]) for tid, cost in ranked]


def cached_top_traces(ctx: RunContext, key: str, rank: int, fetch: Any, keep_from: date) -> list[TopTrace]:
    """Top traces for finding `key` at `rank`: from the state when already fetched at this rank.

    `fetch` returns None when it did not ask (the run's look-ups are spent): nothing is remembered then,
    so the next run asks, instead of the alert keeping "no traces" for good."""
    cache = ctx.state.get(CACHE_KEY)
    cache = dict(cache) if isinstance(cache, dict) else {}
    entry = cache.get(key)
    if isinstance(entry, dict) and entry.get("rank") == rank and isinstance(entry.get("traces"), list):
        try:
            return [TopTrace(str(t["trace_id"]), float(t["cost"]), str(t["name"])) for t in entry["traces"]]
        except (KeyError, TypeError, ValueError):
            ctx.count("cost.explain_cache_malformed")
    traces: list[TopTrace] | None = fetch()
    if traces is None:
        return []
    cache[key] = {"rank": rank, "day": keep_from.isoformat(), "traces": [t.to_json() for t in traces]}
    ctx.state.put(CACHE_KEY, cache)
    return traces


def prune_cache(ctx: RunContext, keep_from: date) -> None:
    cache = ctx.state.get(CACHE_KEY)
    if not isinstance(cache, dict):
        return
    kept = {k: v for k, v in cache.items() if isinstance(v, dict) and str(v.get("day", "")) >= keep_from.isoformat()}
    if len(kept) != len(cache):
        ctx.state.put(CACHE_KEY, kept)


def trace_links(ctx: RunContext, traces: list[TopTrace]) -> tuple[Link, ...]:
    links = []
    for trace in traces:
        url = ctx.source.trace_url(trace.trace_id)
        if url:
            label = f"{usd(trace.cost)} {trace.name or trace.trace_id[:12]}"
            links.append(Link(label[:80], url))
    return tuple(links)

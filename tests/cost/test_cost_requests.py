"""Requests per run: independent of trace volume, and within half of Langfuse Cloud Hobby's limits."""

from __future__ import annotations

from datetime import datetime, timedelta

from monitors.contracts.errors import BudgetSpent
from monitors.contracts.monitor import MemoryState
from monitors.contracts.records import CostBucket
from monitors.contracts.source import CostQuery
from tests.cost.helpers import CountingSource, at, monitor, obs, run

# The example budgets: a global cap, one per agent, and every user $5/day.
BUDGETS = [
    {"name": "daily", "daily_cap": 100},
    {"name": "per-agent", "daily_cap": 40, "scope": "agent", "per_value": True},
    {"name": "per-user", "daily_cap": 5, "scope": "user", "per_value": True},
]


def traffic(scale: int) -> list:
    """Three UTC days (Nov 18-20) of steady traffic: six calls per 15 minutes, each split into `scale`
    rows of the same total, so 10x the rows is the same spend. On the 20th user "heavy" goes over its
    $5 cap, so alerts (and their trace look-ups) are part of the runs."""
    rows = []
    start = at("2026-11-18 00:00")
    for slot in range(3 * 96):
        when = start + timedelta(minutes=15 * slot + 1)
        for k in range(6):
            heavy = slot >= 192 and k == 0
            cost, user = (0.06, "heavy") if heavy else (0.02, f"u{k % 3}")
            rows += [obs(when, cost / scale, agent=f"agent{k % 3}", user=user) for _ in range(scale)]
    return rows


def day_of_runs(scale: int) -> list[int]:
    source = CountingSource(traffic(scale))
    mon, state = monitor(budgets=BUDGETS), MemoryState()
    run(mon, source, state, "2026-11-18 00:00", "2026-11-20 00:00")  # first run: backfill, catch-up
    counts = []
    end = at("2026-11-20 00:00")
    for _ in range(96):
        source.reset()
        run(mon, source, state, end, end + timedelta(minutes=15))
        end += timedelta(minutes=15)
        counts.append(source.stats.requests)
        metrics = state.values["cost.ledger"]["metrics"]
    return [*counts, len(metrics)]


def test_requests_per_run_do_not_grow_with_trace_volume():
    one, ten = day_of_runs(1), day_of_runs(10)
    assert one == ten
    runs, metrics_in_24h = one[:-1], one[-1]
    # Half of Hobby: 50 Metrics v2 requests a day, 15 general requests a minute (one run per 15 min).
    assert metrics_in_24h <= 50
    assert max(runs) <= 15
    assert sorted(set(runs))[0] == 1  # most runs are one page of new rows


def test_alert_trace_lookup_is_one_bounded_page():
    source = CountingSource(traffic(10))
    mon = monitor(budgets=[{"name": "daily", "daily_cap": 1}], metrics_requests_per_day=0)
    findings = run(mon, source, MemoryState(), "2026-11-20 00:00", "2026-11-21 00:00")
    assert {f.rank for f in findings} == {80, 100}
    # One page of rows for the window (5760 rows: 6 pages) plus one bounded page for the trace look-up.
    assert source.stats.by_endpoint["observations"] == 6 + 1


class SpentBudgetSource(CountingSource):
    """Langfuse Cloud's Metrics v2 budget, spent from `spent_from` until `back`: a Metrics request in
    that time gets 429 with the seconds left as Retry-After (counted, as the real source counts it)."""

    def __init__(self, observations: list, spent_from: datetime, back: datetime) -> None:
        super().__init__(observations)
        self.spent_from, self.back = spent_from, back
        self.now = spent_from
        self.refused = 0

    def costs(self, query: CostQuery) -> list[CostBucket]:
        if self.spent_from <= self.now < self.back:
            self.stats.count_request("metrics")
            self.refused += 1
            raise BudgetSpent("Metrics budget spent", (self.back - self.now).total_seconds())
        return super().costs(query)


def test_a_spent_metrics_budget_costs_one_refused_request_then_none_until_it_returns():
    spent_from, back = at("2026-11-20 06:00"), at("2026-11-20 12:00")
    source = SpentBudgetSource(traffic(1), spent_from, back)
    mon, state = monitor(budgets=BUDGETS), MemoryState()
    source.now = at("2026-11-20 00:15")
    run(mon, source, state, "2026-11-18 00:00", "2026-11-20 00:00")
    metrics_by_hour: dict[int, int] = {}
    end = at("2026-11-20 00:00")
    for _ in range(96):
        source.reset()
        source.now = end + timedelta(minutes=30)  # the run's `now`: window end plus the query delay
        run(mon, source, state, end, end + timedelta(minutes=15))
        hour = source.now.hour
        metrics_by_hour[hour] = metrics_by_hour.get(hour, 0) + source.stats.by_endpoint["metrics"]
        end += timedelta(minutes=15)
    assert source.refused == 1  # one 429, then no request until Langfuse said the budget is back
    assert sum(n for h, n in metrics_by_hour.items() if 6 <= h < 12) == 1
    assert sum(n for h, n in metrics_by_hour.items() if h >= 12) >= 1  # aggregates resume

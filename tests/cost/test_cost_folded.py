"""`cost.values_folded` counts observations whose spend went to "other", as docs/counters.md says."""

from __future__ import annotations

from datetime import timedelta

from monitors.contracts.findings import RunWindow
from monitors.contracts.monitor import MemoryState, RunContext
from tests.cost.helpers import CountingSource, at, monitor, obs


def _counters(rows: list, **config: object) -> dict[str, int]:
    mon = monitor(metrics_requests_per_day=0, max_values_per_dimension=10, **config)
    start, end = at("2026-11-20 00:00"), at("2026-11-20 06:00")
    ctx = RunContext(window=RunWindow(start, end), now=end + timedelta(minutes=15), source=CountingSource(rows))
    ctx.state = MemoryState()
    list(mon.run(ctx))
    return ctx.counters


def test_an_observation_folded_in_two_dimensions_counts_once():
    # The day's first 10 users and agents fill both tables; each of the 3 later rows has a new user and a
    # new agent: 3 observations folded, though each lands in "other" of two tables.
    first = [obs(f"2026-11-20 01:{i:02d}", 1.0, user=f"u{i}", agent=f"a{i}") for i in range(10)]
    late = [obs(f"2026-11-20 02:{i:02d}", 1.0, user=f"late{i}", agent=f"late{i}") for i in range(3)]
    budgets = [{"name": "per-user", "scope": "user", "per_value": True, "daily_cap": 5}]
    counters = _counters(first + late, budgets=budgets, contributors=["agent"])
    assert counters["cost.rows"] == 13
    assert counters["cost.values_folded"] == 3


def test_no_counter_while_every_value_fits():
    rows = [obs(f"2026-11-20 01:{i:02d}", 1.0, user=f"u{i}", agent=f"a{i}") for i in range(10)]
    budgets = [{"name": "per-user", "scope": "user", "per_value": True, "daily_cap": 5}]
    assert "cost.values_folded" not in _counters(rows, budgets=budgets, contributors=["agent"])


def test_aggregates_keep_the_ledgers_cap_on_distinct_values_and_the_values_rows_named():
    # 15 agents spend $6 each on the 19th and on the 20th, against a $5 per-agent cap; the ledger keeps 10
    # values a day. The rows of the 20th name the first 10 agents read (newest first: a05 to a14); today's
    # refresh, the day's close and the backfill of the 19th replace the agent table with Metrics v2
    # aggregates, which must not bring back the 5 the rows folded, nor swap the 10 paged for others.
    rows = [obs(f"2026-11-{d} 01:{i:02d}", 6.0, agent=f"a{i:02d}") for d in (19, 20) for i in range(15)]
    budget = {"name": "per-agent", "scope": "agent", "per_value": True, "daily_cap": 5}
    mon = monitor(max_values_per_dimension=10, budgets=[budget], contributors=["agent"])
    state = MemoryState()
    for start, end in (("2026-11-20 00:00", "2026-11-20 06:00"), ("2026-11-20 06:00", "2026-11-21 01:00")):
        ctx = RunContext(window=RunWindow(at(start), at(end)), now=at(end), source=CountingSource(rows), state=state)
        paged = {f.evidence["value"] for f in mon.run(ctx) if f.kind == "budget" and f.rank == 100}
        assert paged == {f"a{i:02d}" for i in range(5, 15)}
    days = state.get("cost.ledger")["days"]
    assert days["2026-11-20"]["closed"] and days["2026-11-19"]["closed"]
    assert {day: len(days[day]["dims"]["agent"]) for day in ("2026-11-19", "2026-11-20")} == {
        "2026-11-19": 11,  # the 10 costliest (none was named by rows) and "other"
        "2026-11-20": 11,
    }
    assert sum(days["2026-11-20"]["dims"]["agent"].values()) == 90.0  # the folded spend is kept, as "other"

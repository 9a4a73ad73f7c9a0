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

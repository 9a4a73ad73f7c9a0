"""Inputs a real deployment sees that the main cases do not: odd timezones, float sums at a threshold."""

from __future__ import annotations

from datetime import timedelta

from monitors.contracts.monitor import MemoryState
from tests.cost.helpers import CountingSource, at, keys, monitor, obs, run


def test_a_half_hour_timezone_keeps_the_first_half_hour_of_the_day():
    # Asia/Kolkata is UTC+5:30: its 2026-11-20 runs [11-19 18:30Z, 11-20 18:30Z). The $5 at 00:10 local
    # sits in the UTC hour bucket that starts at 23:30 local the day before; the refresh and the close
    # must still count it for the 20th.
    rows = [obs("2026-11-19 18:40", 5.0), obs("2026-11-19 20:00", 1.0)]
    mon = monitor(timezone="Asia/Kolkata", budgets=[{"name": "daily", "daily_cap": 6}])
    source, state = CountingSource(rows), MemoryState()
    refreshed = run(mon, source, state, "2026-11-19 18:30", "2026-11-19 21:00")
    assert state.get("cost.ledger")["refreshed"] is not None  # the aggregates did replace the row totals
    assert ("cost:daily:*:2026-11-20", 100) in keys(refreshed)
    closing = run(mon, source, state, "2026-11-20 18:30", "2026-11-20 19:30")
    assert state.get("cost.ledger")["days"]["2026-11-20"]["closed"]
    page = next(f for f in closing if f.kind == "budget" and f.rank == 100)
    assert page.evidence["spend"] == 6.0


def test_spend_summing_to_exactly_80_percent_warns_despite_float_noise():
    # 80 calls at $0.10 sum to 7.999999999999... in floating point: the day is at $8.00 of $10.00.
    rows = [obs(at("2026-11-20 01:00") + timedelta(seconds=i), 0.1) for i in range(80)]
    mon = monitor(budgets=[{"name": "daily", "daily_cap": 10}], metrics_requests_per_day=0)
    findings = run(mon, CountingSource(rows), MemoryState(), "2026-11-20 00:00", "2026-11-20 02:00")
    assert keys(f for f in findings if f.kind == "budget") == {("cost:daily:*:2026-11-20", 80)}

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
    assert ("cost:daily:*:2026-11-20:cap=6", 100) in keys(refreshed)
    closing = run(mon, source, state, "2026-11-20 18:30", "2026-11-20 19:30")
    assert state.get("cost.ledger")["days"]["2026-11-20"]["closed"]
    page = next(f for f in closing if f.kind == "budget" and f.rank == 100)
    assert page.evidence["spend"] == 6.0


def test_spend_summing_to_exactly_80_percent_warns_despite_float_noise():
    # 80 calls at $0.10 sum to 7.999999999999... in floating point: the day is at $8.00 of $10.00.
    rows = [obs(at("2026-11-20 01:00") + timedelta(seconds=i), 0.1) for i in range(80)]
    mon = monitor(budgets=[{"name": "daily", "daily_cap": 10}], metrics_requests_per_day=0)
    findings = run(mon, CountingSource(rows), MemoryState(), "2026-11-20 00:00", "2026-11-20 02:00")
    assert keys(f for f in findings if f.kind == "budget") == {("cost:daily:*:2026-11-20:cap=10", 80)}


def test_sub_cent_traces_and_contributors_show_their_cost_not_zero():
    # 2,000 small calls of $0.004 make $8 of a $10 day: the costliest traces after the first cost
    # $0.004 each, not "$0.00".
    rows = [obs(at("2026-11-20 01:00") + timedelta(seconds=i), 0.004, model="gpt-4o") for i in range(2000)]
    rows += [obs("2026-11-20 01:50", 0.0012, model="gpt-4o-mini", trace="cheap") for _ in range(8)]
    rows += [obs("2026-11-20 01:51", 0.0001, model="embed-small", trace="tiny"), obs("2026-11-20 01:52", 0.0)]
    mon = monitor(budgets=[{"name": "daily", "daily_cap": 10}], metrics_requests_per_day=0, contributors=["model"])
    findings = run(mon, CountingSource(rows), MemoryState(), "2026-11-20 00:00", "2026-11-20 02:00")
    fields = dict(next(f for f in findings if f.kind == "budget").fields)
    assert fields["Spend"] == "$8.01 of $10.00 (80%)"
    traces = fields["Costliest traces"].split("; ")
    assert traces[0] == "cheap $0.01" and traces[1].endswith(" $0.004")
    assert "model gpt-4o-mini: $0.01 (no history yet)" in fields["Top contributors"]
    assert "model embed-small: $0.0001 (no history yet)" in fields["Top contributors"]


def test_usd_formats_tiny_and_huge_amounts():
    from monitors.cost.budgets import usd

    assert [usd(x) for x in (0, -0.0, 0.004, 0.00012, 0.00001, 0.005, 1234567.891)] == [
        "$0.00",
        "$0.00",
        "$0.004",
        "$0.00012",
        "under $0.0001",
        "$0.01",
        "$1,234,567.89",
    ]


def test_a_23_hour_day_projects_over_23_hours_without_a_usual_profile():
    # Europe/Berlin springs forward on 2026-03-29: the day runs [03-28 23:00Z, 03-29 22:00Z), 23 hours.
    # $60 by 12:00 local (10:00Z), 11 hours in, with no history to shape the day: an even spread has 11/23
    # of the day done, so the day ends near $125.45, not $130.91 (11/24 of a 24-hour day).
    mon = monitor(timezone="Europe/Berlin", budgets=[{"name": "daily", "daily_cap": 100}], metrics_requests_per_day=0)
    rows = [obs("2026-03-29 09:00", 60.0)]
    [projection] = [f for f in run(mon, CountingSource(rows), MemoryState(), "2026-03-29 06:00", "2026-03-29 10:00")]
    assert projection.kind == "projection"
    assert (projection.evidence["expected_fraction"], projection.evidence["projected"]) == (0.4783, 125.454545)


def test_a_25_hour_day_is_not_done_an_hour_before_its_end():
    # Berlin falls back on 2026-10-25: the day runs [10-24 22:00Z, 10-25 23:00Z), 25 hours. At 23:00 local
    # (22:00Z), 24 hours in, an even spread has 24/25 of the day done, not all of it: $56 heads to $58.33,
    # past a $57 cap (a projection at any overshoot here), where 24-hour arithmetic calls the day over.
    cap = {"name": "daily", "daily_cap": 57, "thresholds": [1.0]}
    mon = monitor(timezone="Europe/Berlin", budgets=[cap], metrics_requests_per_day=0, projection={"min_overshoot": 1})
    rows = [obs("2026-10-25 09:00", 56.0)]
    found = run(mon, CountingSource(rows), MemoryState(), "2026-10-25 18:00", "2026-10-25 22:00")
    assert [(f.kind, f.evidence["expected_fraction"], f.evidence["projected"]) for f in found] == [
        ("projection", 0.96, 58.333333)
    ]


def test_a_budget_alert_raised_mid_day_says_its_figure_is_so_far_and_as_of_when():
    # A page at 10:00Z (11:00 in Berlin) is about the day so far; the same day read whole is not.
    mon = monitor(timezone="Europe/Berlin", budgets=[{"name": "daily", "daily_cap": 10}], metrics_requests_per_day=0)
    source, state = CountingSource([obs("2026-11-20 09:00", 12.0)]), MemoryState()
    [mid_day] = [f for f in run(mon, source, state, "2026-11-20 06:00", "2026-11-20 10:00") if f.rank == 100]
    assert mid_day.summary == (
        "Total spend on 2026-11-20 (Europe/Berlin) is $12.00 of $10.00 (120%) of the daily cap so far"
        " (as of 11:00 CET)."
    )
    [whole] = [f for f in run(mon, source, state, "2026-11-20 10:00", "2026-11-21 00:00") if f.rank == 100]
    assert whole.summary == "Total spend on 2026-11-20 (Europe/Berlin) is $12.00 of $10.00 (120%) of the daily cap."

"""What a cost alert calls "usual": the same days for the series and its contributors, and the same
time of day on a day still in progress."""

from __future__ import annotations

from datetime import date, timedelta

from monitors.contracts.monitor import MemoryState
from tests.cost.helpers import CountingSource, monitor, run, spread

D = date(2026, 11, 27)  # a Friday


def _day(offset: int) -> str:
    return (D - timedelta(days=offset)).isoformat()


def _contributor(finding, value: str) -> dict:
    return next(c for c in finding.evidence["contributors"] if c["value"] == value)


def test_series_and_contributors_share_one_usual_the_same_weekday():
    # Fridays cost $10, other days $2: "usual" for a Friday is $10, for the series and for its agent.
    history = [o for i in range(1, 29) for o in spread(_day(i), 10.0 if i % 7 == 0 else 2.0, agent="nightly")]
    source = CountingSource(history + spread(D.isoformat(), 40.0, agent="nightly"))
    budget = {"name": "global", "daily_cap": 100}  # under its 80%: a spike, not a budget alert
    findings = run(monitor(budgets=[budget]), source, MemoryState(), f"{D} 00:00", f"{D + timedelta(days=1)} 00:00")
    spike = next(f for f in findings if f.kind == "spike")
    fields = dict(spike.fields)
    assert fields["Usual day"] == "$10.00 (median of 4 same weekdays)"
    assert spike.evidence["baseline_median"] == 10.0
    agent = _contributor(spike, "nightly")
    assert agent["baseline"] == 10.0  # was $2.00: the median of the last 14 days, whatever the weekday
    assert "agent nightly: $40.00 (+300% vs usual $10.00)" in fields["Top contributors"]


def test_a_part_day_is_compared_with_the_same_time_of_day():
    # Every day $24 spread evenly over 24 hours; at 10:00 today $10 is in, exactly the usual pace.
    history = [o for i in range(1, 15) for o in spread(_day(i), 24.0, agent="steady")]
    today = [o for o in spread(D.isoformat(), 24.0, agent="steady") if o.start_time.hour < 10]
    source = CountingSource(history + today)
    findings = run(
        monitor(budgets=[{"name": "global", "daily_cap": 12}]), source, MemoryState(), f"{D} 00:00", f"{D} 10:00"
    )
    warning = next(f for f in findings if f.kind == "budget")
    fields = dict(warning.fields)
    assert fields["Spend"] == "$10.00 of $12.00 (83%)"
    # Not "-58% vs usual $24.00": by 10:00 a usual day has spent 10/24 of its $24.
    assert "agent steady: $10.00 (+0% vs usual $10.00 by 10:00)" in fields["Top contributors"]
    assert fields["Usual day"] == "$24.00 (median of 14 days); usually $10.00 by 10:00"
    # Closed days were read as aggregates, which keep no users: not "no history yet" after 14 days.
    assert "user u1: $10.00 (no user breakdown of past days)" in fields["Top contributors"]


def test_a_closed_day_is_compared_with_whole_days():
    history = [o for i in range(1, 15) for o in spread(_day(i), 24.0, agent="steady")]
    source = CountingSource(history + spread(D.isoformat(), 30.0, agent="steady"))
    findings = run(
        monitor(budgets=[{"name": "global", "daily_cap": 30}]),
        source,
        MemoryState(),
        f"{D} 00:00",
        f"{D + timedelta(days=1)} 01:00",
    )
    page = next(f for f in findings if f.kind == "budget" and f.rank == 100)
    assert "agent steady: $30.00 (+25% vs usual $24.00)" in dict(page.fields)["Top contributors"]
    assert dict(page.fields)["Usual day"] == "$24.00 (median of 14 days)"

"""Spike and projection findings, the baseline maths, and config errors naming the key."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from monitors.contracts.monitor import MemoryState
from monitors.cost.baseline import expected_fraction, hourly_profile, robust_baseline, spike_check
from monitors.cost.monitor import CostConfig
from tests.cost.helpers import CountingSource, monitor, obs, run, spread

D = date(2026, 11, 20)


def noisy_history(amounts: list[float]) -> list:
    """One UTC day per amount, ending on the 19th."""
    first = D - timedelta(days=len(amounts))
    return [o for i, a in enumerate(amounts) for o in spread((first + timedelta(days=i)).isoformat(), a)]


@pytest.mark.parametrize(
    ("usual", "today", "min_dollars", "fires"),
    [
        ([0.02] * 14, 0.09, 1, False),  # 4.5x, but only 7 cents: the dollar guard holds
        ([0.02] * 14, 0.09, 0.05, True),  # the same day with a 5-cent guard does fire
        ([10, 11, 9, 10, 12, 10, 9, 11, 10, 10, 9, 11, 10, 10], 60.0, 1, True),
        ([10, 11, 9, 10, 12, 10, 9, 11, 10, 10, 9, 11, 10, 10], 12.5, 1, False),  # within the noise
    ],
)
def test_spike_under_the_cap_with_min_dollar_guard(usual, today, min_dollars, fires):
    data = noisy_history(usual) + spread(D.isoformat(), today)
    mon = monitor(
        budgets=[{"name": "daily", "daily_cap": 500}],
        spike={"min_dollars": min_dollars, "weekday_aware": False},
    )
    findings = run(mon, CountingSource(data), MemoryState(), "2026-11-20 00:00", "2026-11-21 00:00")
    spikes = [f for f in findings if f.kind == "spike"]
    assert bool(spikes) is fires
    if fires:
        assert spikes[0].dedupe_key == "daily:*:2026-11-20:spike"
        assert spikes[0].evidence["baseline_median"] == pytest.approx(
            sorted(usual)[6:8][0] / 2 + sorted(usual)[6:8][1] / 2
        )


def test_projection_warns_before_the_cap_using_the_usual_hourly_spread():
    # History: all spend between 00:00 and 06:00. By 06:00 a usual day is complete, so $40 by then
    # projects to $40 (no warning); spread evenly instead, the same $40 by 06:00 projects to $160.
    front_loaded = [obs(f"2026-11-{d:02d} 0{h}:20", 20.0 / 6) for d in range(6, 20) for h in range(6)]
    even = [o for d in range(6, 20) for o in spread(f"2026-11-{d:02d}", 20.0)]
    today = [obs(f"2026-11-20 0{h}:10", 10.0) for h in range(4)]
    budget = {"name": "daily", "daily_cap": 100}
    found = {}
    for name, history in (("front", front_loaded), ("even", even)):
        mon = monitor(budgets=[budget], spike={"enabled": False})
        findings = run(mon, CountingSource(history + today), MemoryState(), "2026-11-20 00:00", "2026-11-20 06:00")
        found[name] = [f for f in findings if f.kind == "projection"]
    assert found["front"] == []
    (warning,) = found["even"]
    assert warning.dedupe_key == "daily:*:2026-11-20:projection"
    assert warning.evidence["projected"] == pytest.approx(160.0)
    assert warning.evidence["spend"] == 40.0


def test_projection_just_over_the_cap_is_not_a_warning():
    # $40 by 06:00 of an evenly spread day projects to $160: a warning for a $130 cap (x1.23), none for a
    # $140 cap (x1.14, inside the default 1.2 margin: early projections swing that much).
    even = [o for d in range(6, 20) for o in spread(f"2026-11-{d:02d}", 20.0)]
    today = [obs(f"2026-11-20 0{h}:10", 10.0) for h in range(4)]
    kinds = {}
    for cap in (130, 140):
        mon = monitor(budgets=[{"name": "daily", "daily_cap": cap}], spike={"enabled": False})
        findings = run(mon, CountingSource(even + today), MemoryState(), "2026-11-20 00:00", "2026-11-20 06:00")
        kinds[cap] = [f.kind for f in findings]
    assert kinds == {130: ["projection"], 140: []}


def test_projection_waits_for_min_elapsed_fraction():
    history = [o for d in range(6, 20) for o in spread(f"2026-11-{d:02d}", 20.0)]
    mon = monitor(budgets=[{"name": "daily", "daily_cap": 100}], spike={"enabled": False})
    early = [obs("2026-11-20 00:30", 30.0)]  # 2% of the day gone: far too early to extrapolate
    findings = run(mon, CountingSource(history + early), MemoryState(), "2026-11-20 00:00", "2026-11-20 01:00")
    assert [f for f in findings if f.kind == "projection"] == []


def test_robust_baseline_ignores_one_runaway_day_and_prefers_the_weekday():
    history = {D - timedelta(days=i): 10.0 for i in range(1, 29)}
    history[D - timedelta(days=3)] = 500.0
    flat = robust_baseline(history, D, days=14, min_days=7, weekday_aware=False, weekday_weeks=4)
    assert flat is not None and flat.median == 10.0 and not flat.weekday
    for w in range(1, 5):
        history[D - timedelta(weeks=w)] = 40.0  # this weekday is always busier
    weekly = robust_baseline(history, D, days=14, min_days=7, weekday_aware=True, weekday_weeks=4)
    assert weekly is not None and weekly.median == 40.0 and weekly.weekday
    assert spike_check(45.0, weekly, multiplier=4, min_dollars=1) is None
    assert spike_check(45.0, flat, multiplier=4, min_dollars=1) is not None
    # A steady series has a tiny MAD: a relative floor keeps +50% days from counting as spikes.
    assert spike_check(14.5, flat, multiplier=4, min_dollars=1) is not None  # +45%, but 4.5 MADs
    assert spike_check(14.5, flat, multiplier=4, min_dollars=1, min_ratio=2.0) is None
    assert spike_check(20.5, flat, multiplier=4, min_dollars=1, min_ratio=2.0) is not None
    assert robust_baseline({}, D, days=14, min_days=7, weekday_aware=True, weekday_weeks=4) is None


def test_hourly_profile_and_expected_fraction():
    profile = hourly_profile([[1.0] * 12 + [0.0] * 12, [2.0] * 12 + [0.0] * 12, [0.0] * 24])
    assert profile is not None and profile[5] == pytest.approx(0.5) and profile[23] == 1.0
    tz = ZoneInfo("UTC")
    start = datetime(2026, 11, 20, tzinfo=tz)
    assert expected_fraction(profile, start + timedelta(hours=5, minutes=30), start) == pytest.approx(11 / 24)
    assert expected_fraction(None, start + timedelta(hours=6), start) == pytest.approx(0.25)


@pytest.mark.parametrize(
    ("budget", "loc", "message"),
    [
        ({"name": "a", "daily_cap": -5}, ("budgets", 0, "daily_cap"), "negative"),
        ({"name": "a", "daily_cap": 0}, ("budgets", 0, "daily_cap"), "greater than 0"),
        ({"name": "a", "daily_cap": 5, "scope": "team", "per_value": True}, ("budgets", 0, "scope"), "unknown scope"),
        ({"name": "a", "daily_cap": 5, "thresholds": [0.8, 2.5]}, ("budgets", 0, "thresholds"), "outside (0, 2]"),
        ({"name": "a", "daily_cap": 5, "thresholds": [0]}, ("budgets", 0, "thresholds"), "outside (0, 2]"),
        ({"name": "a", "daily_cap": 5, "scope": "user"}, ("budgets", 0), "exactly one of value or per_value"),
        ({"name": "a", "daily_cap": 5, "colour": "red"}, ("budgets", 0, "colour"), "Extra inputs"),
        ({"name": "a b", "daily_cap": 5}, ("budgets", 0, "name"), "letters, digits"),
    ],
)
def test_budget_config_errors_name_the_field(budget, loc, message):
    with pytest.raises(ValidationError) as info:
        CostConfig.model_validate({"budgets": [budget]})
    errors = info.value.errors()
    assert [e["loc"] for e in errors] == [loc]
    assert message in errors[0]["msg"]


def test_config_errors_outside_budgets():
    with pytest.raises(ValidationError) as info:
        CostConfig.model_validate({"timezone": "Mars/Olympus", "spike": {"baseline_days": 1}})
    assert {e["loc"] for e in info.value.errors()} == {("timezone",), ("spike", "baseline_days")}
    dup = [{"name": "a", "daily_cap": 1}, {"name": "a", "daily_cap": 2}]
    with pytest.raises(ValidationError, match="used twice"):
        CostConfig.model_validate({"budgets": dup})
    ok = CostConfig.model_validate(
        {"budgets": [{"name": "x", "daily_cap": "$12.50", "scope": "metadata:feature", "value": "s"}]}
    )
    assert ok.budgets[0].cap == 12.5 and ok.settle_delay == timedelta(minutes=30)

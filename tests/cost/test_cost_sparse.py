"""Spikes of series that are mostly $0 (a user active a few days a fortnight, an agent that rests at
weekends), through the real pipeline and a SQLite store. A usual day of $0 cannot size a spike: the usual
is then a day with spend, and there is no spike verdict before 3 such days are known."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from monitors.cost.baseline import robust_baseline, spike_check
from monitors.cost.explain import Usual
from monitors.sources.replay import ReplaySource
from monitors.store.store import Store
from tests.cost.helpers import pipeline_run, pipeline_settings, spread
from tests.fakes.scripted_monitor import RecordingNotifier

TODAY = "2026-11-20"  # a Friday; the history runs from Friday the 6th to Thursday the 19th
PER_USER = {"name": "per-user", "scope": "user", "per_value": True, "daily_cap": 50}


def _user_days(user: str, amounts: dict[int, float]) -> list:
    return [o for day, usd in amounts.items() for o in spread(f"2026-11-{day:02d}", usd, n=4, user=user)]


def _history() -> list:
    steady = _user_days("alice", {d: 10.0 for d in range(6, 20)})  # every day: the history days exist
    bob = _user_days("bob", {10: 3.0, 15: 3.0})  # 2 days with spend in 14
    carol = _user_days("carol", {8: 3.0, 12: 2.5, 16: 3.0, 18: 3.5})  # 4 days with spend in 14
    return steady + bob + carol


def _today_alerts(store: Store, today: list) -> list:
    """The spike alerts of the 20th, once the history has been read by an earlier run."""
    source = ReplaySource.from_observations(_history() + today, host="https://lf.example", project_id="proj1")
    settings = pipeline_settings({"budgets": [PER_USER], "projection": {"enabled": False}})
    notifier = RecordingNotifier()
    pipeline_run(settings, source, store, notifier, "2026-11-06 00:00", f"{TODAY} 00:00")
    messages = pipeline_run(settings, source, store, notifier, f"{TODAY} 00:00", "2026-11-21 00:00")
    return [m for m in messages if m.kind == "spike"]


def test_a_sparse_user_spending_like_an_active_day_is_not_a_spike(sqlite_store: Store) -> None:
    # $4 is $4 above a usual $0, which used to be a spike; it is about what these users spend on a day
    # with spend (carol: $3; bob has too few such days to say).
    today = _user_days("bob", {20: 4.0}) + _user_days("carol", {20: 4.0}) + _user_days("alice", {20: 10.0})
    assert _today_alerts(sqlite_store, today) == []


def test_a_sparse_user_far_above_a_day_with_spend_is_a_spike_and_says_what_usual_means(
    sqlite_store: Store,
) -> None:
    today = _user_days("carol", {20: 12.0}) + _user_days("bob", {20: 12.0}) + _user_days("alice", {20: 10.0})
    (spike,) = _today_alerts(sqlite_store, today)  # bob: 2 days with spend are too few to know his usual
    assert spike.title == f"Cost spike for user carol on {TODAY} (budget per-user)"
    # The run read the 20th to its end: the day is over, so its spend is the day's, not "so far".
    assert spike.summary == (
        "Spend of user carol ended the day at $12.00 against a usual $3.00 on a day with spend "
        "($12.00 of $50.00 (24%) for the whole day)."
    )
    fields = dict(spike.fields)
    assert fields["Usual day"] == "$3.00 (median of 4 days with spend; the other 10 of the last 14 days had none)"


def test_a_spike_on_a_day_still_in_progress_says_so_far(sqlite_store: Store) -> None:
    source = ReplaySource.from_observations(
        _history() + _user_days("carol", {20: 12.0}), host="https://lf.example", project_id="proj1"
    )
    settings = pipeline_settings({"budgets": [PER_USER], "projection": {"enabled": False}})
    notifier = RecordingNotifier()
    pipeline_run(settings, source, sqlite_store, notifier, "2026-11-06 00:00", f"{TODAY} 00:00")
    messages = pipeline_run(settings, source, sqlite_store, notifier, f"{TODAY} 00:00", f"{TODAY} 13:00")
    (spike,) = [m for m in messages if m.kind == "spike"]
    # $9 by 13:00, when three quarters of a usual day's spend is in: on course for $12.
    assert spike.summary == (
        "Spend of user carol is on course for $12.00 against a usual $3.00 on a day with spend "
        "($9.00 of $50.00 (18%) so far)."
    )


def test_an_agent_that_rests_at_weekends_is_compared_with_its_recent_days_on_a_saturday(tmp_path: Path) -> None:
    # Four weeks of $20 weekdays and $0 weekends. The same weekday's usual, $0, says nothing about what
    # a run costs, so a Saturday is compared with the last 14 days (median $20): a Saturday at the
    # weekday's $20 is no spike, one at $70 is.
    weekdays = [f"2026-11-{d:02d}" for d in range(2, 28) if (d - 2) % 7 < 5]  # Mon 2nd .. Fri 27th
    history = [o for day in weekdays for o in spread(day, 20.0, agent="weekday-bot")]
    per_agent = {"name": "per-agent", "scope": "agent", "per_value": True, "daily_cap": 500}
    settings = pipeline_settings({"budgets": [per_agent], "projection": {"enabled": False}})
    found = {}
    for usd in (20.0, 70.0):
        saturday = spread("2026-11-28", usd, agent="weekday-bot")
        source = ReplaySource.from_observations(history + saturday, host="https://lf.example", project_id="proj1")
        store, notifier = Store.open(f"sqlite:///{tmp_path / f'{usd}.db'}"), RecordingNotifier()
        try:
            pipeline_run(settings, source, store, notifier, "2026-11-28 00:00", "2026-11-29 00:00")
        finally:
            store.close()
        found[usd] = [m for m in notifier.messages if m.kind == "spike"]
    assert found[20.0] == []
    (spike,) = found[70.0]
    assert "ended the day at $70.00 against a usual $20.00 a day" in spike.summary
    assert dict(spike.fields)["Usual day"] == "$20.00 (median of 14 days)"


def test_a_sparse_baseline_needs_three_days_with_spend_and_counts_the_days_without() -> None:
    day = date(2026, 11, 20)
    history = {day - timedelta(days=i): 0.0 for i in range(1, 15)}
    history[day - timedelta(days=2)] = history[day - timedelta(days=9)] = 3.0
    kw = {"days": 14, "min_days": 7, "weekday_aware": True, "weekday_weeks": 4}
    assert robust_baseline(history, day, **kw) is None  # two days with spend: no verdict
    history[day - timedelta(days=5)] = 5.0
    base = robust_baseline(history, day, **kw)
    assert base is not None and (base.median, base.samples, base.idle, base.weekday) == (3.0, 3, 11, False)
    # $6 is twice a usual day with spend, the least a spike may be (min_ratio 2); $4 was a "spike" of $0.
    assert spike_check(4.0, base, multiplier=4, min_dollars=1, min_ratio=2) is None
    assert spike_check(6.5, base, multiplier=4, min_dollars=1, min_ratio=2) is not None


def test_the_usual_line_says_which_days_it_is_the_median_of() -> None:
    day = date(2026, 11, 20)
    days = (day - timedelta(days=2), day - timedelta(days=5))
    assert Usual(days, False, idle=10, span=14).label() == (
        "median of 2 days with spend; the other 10 of 12 known days of the last 14 had none"
    )
    nothing = Usual((), False, idle=14, span=14)
    assert (nothing.label(), nothing.of({})) == ("no spend on any of the last 14 days", 0.0)

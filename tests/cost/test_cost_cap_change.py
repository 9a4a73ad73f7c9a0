"""A cap changed in monitors.yaml during the day, through the real pipeline and a SQLite store: each cap
in force warns at 80% and pages at 100% once, and a cap raised after a page does not page again at
spend the old cap was about."""

from __future__ import annotations

from datetime import timedelta

from monitors.engine.config import settings_from_dict
from monitors.engine.pipeline import RunDeps, run_once
from monitors.sources.replay import ReplaySource
from monitors.store.store import Store
from tests.cost.helpers import at, obs
from tests.fakes.scripted_monitor import RecordingNotifier

DAY = "2026-11-20"


def _history() -> list:
    # Two weeks of $20 days before the 20th, so the day's usual pace and history are known.
    return [obs(f"2026-11-{d:02d} {h:02d}:30", 20.0 / 24) for d in range(6, 20) for h in range(24)]


def _spend_by_hour(total_by_hour: dict[int, float]) -> list:
    """The 20th's spend: a row at hh:05 bringing the day's total to `total_by_hour[hh]`."""
    rows, before = [], 0.0
    for hour, total in sorted(total_by_hour.items()):
        rows.append(obs(f"{DAY} {hour:02d}:05", total - before))
        before = total
    return rows


def _settings(cap: float):
    return settings_from_dict(
        {
            "channels": {"ops": {"kind": "stdout"}},
            "default_route": {"channels": ["ops"], "min_severity": "warning"},
            "monitors": {
                "cost": {
                    # Only the budget thresholds: projections and spikes have tests of their own.
                    "budgets": [{"name": "daily", "daily_cap": cap}],
                    "spike": {"enabled": False},
                    "projection": {"enabled": False},
                }
            },
        },
        env={},
    )


def _runs(store: Store, rows: list, caps_until: list[tuple[float, str]]) -> list[list[str]]:
    """Hourly-ish runs: (cap in monitors.yaml, end of the run's window); the titles each run delivered."""
    notifier = RecordingNotifier()
    source = ReplaySource.from_observations(_history() + rows, host="https://lf.example", project_id="proj1")
    delivered: list[list[str]] = []
    since = at(f"{DAY} 00:00")
    for cap, until in caps_until:
        before = len(notifier.messages)
        end = at(until)
        summary = run_once("cost", _settings(cap), RunDeps(source, store, {"ops": notifier}),
                           now=end + timedelta(minutes=15), since=since, until=end)  # fmt: skip
        assert summary.status == "ok", summary.error
        delivered.append([m.title for m in notifier.messages[before:]])
        since = end
    return delivered


def test_a_cap_raised_after_the_warning_warns_again_at_80_percent_of_the_new_cap(sqlite_store: Store) -> None:
    rows = _spend_by_hour({9: 85.0, 12: 150.0, 15: 165.0, 18: 205.0})
    delivered = _runs(
        sqlite_store,
        rows,
        [(100, f"{DAY} 10:00"), (200, f"{DAY} 13:00"), (200, f"{DAY} 16:00"), (200, f"{DAY} 19:00")],
    )
    assert delivered == [
        [f"Cost budget daily at 80% for all spend on {DAY}"],  # $85 of $100
        [],  # $150 of the raised $200: 75%
        [f"Cost budget daily at 80% for all spend on {DAY}"],  # $165 of $200
        [f"Cost budget daily at 100% for all spend on {DAY}"],  # $205 of $200
    ]


def test_a_cap_raised_after_the_page_does_not_page_again_until_the_new_cap(sqlite_store: Store) -> None:
    rows = _spend_by_hour({9: 105.0, 12: 150.0, 15: 165.0, 18: 205.0})
    notifier_titles = _runs(
        sqlite_store,
        rows,
        [(100, f"{DAY} 10:00"), (200, f"{DAY} 13:00"), (200, f"{DAY} 16:00"), (200, f"{DAY} 19:00")],
    )
    assert notifier_titles == [
        [f"Cost budget daily at 100% for all spend on {DAY}"],  # $105 of $100: the page outranks the 80%
        [],  # $150 of $200: no page again for spend the old cap was about
        [f"Cost budget daily at 80% for all spend on {DAY}"],  # $165 of $200
        [f"Cost budget daily at 100% for all spend on {DAY}"],  # $205 of $200
    ]


def test_a_cap_lowered_after_the_warning_still_pages_and_a_cap_seen_before_stays_quiet(sqlite_store: Store) -> None:
    rows = _spend_by_hour({9: 165.0, 12: 170.0, 15: 175.0})
    delivered = _runs(sqlite_store, rows, [(200, f"{DAY} 10:00"), (150, f"{DAY} 13:00"), (200, f"{DAY} 16:00")])
    assert delivered == [
        [f"Cost budget daily at 80% for all spend on {DAY}"],  # $165 of $200
        [f"Cost budget daily at 100% for all spend on {DAY}"],  # $170 of the lowered $150
        [],  # back to $200: its 80% was already sent today
    ]


def test_the_alert_and_its_key_name_the_cap_in_force(sqlite_store: Store) -> None:
    rows = _spend_by_hour({9: 85.0, 15: 165.0})
    notifier = RecordingNotifier()
    source = ReplaySource.from_observations(_history() + rows, host="https://lf.example", project_id="proj1")
    for cap, since, until in ((100, "00:00", "10:00"), (200, "10:00", "16:00")):
        end = at(f"{DAY} {until}")
        run_once("cost", _settings(cap), RunDeps(source, sqlite_store, {"ops": notifier}),
                 now=end + timedelta(minutes=15), since=at(f"{DAY} {since}"), until=end)  # fmt: skip
    first, second = notifier.messages
    assert dict(first.fields)["Spend"] == "$85.00 of $100.00 (85%)"
    assert dict(second.fields)["Spend"] == "$165.00 of $200.00 (82%)"
    assert (first.fingerprint, second.fingerprint) == (
        f"cost:daily:*:{DAY}:cap=100",
        f"cost:daily:*:{DAY}:cap=200",
    )

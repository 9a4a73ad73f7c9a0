"""A cap changed in monitors.yaml during the day, through the real pipeline and a SQLite store: each cap
in force warns at 80% and pages at 100% once, and a cap raised after a page does not page again at
spend the old cap was about."""

from __future__ import annotations

from monitors.sources.replay import ReplaySource
from monitors.store.store import Store
from tests.cost.helpers import obs, pipeline_run, pipeline_settings
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
    # Only the budget thresholds: projections and spikes have tests of their own.
    budget = {"name": "daily", "daily_cap": cap}
    return pipeline_settings({"budgets": [budget], "spike": {"enabled": False}, "projection": {"enabled": False}})


def _runs(store: Store, rows: list, caps_until: list[tuple[float, str]]) -> list[list]:
    """Runs one after another: (cap in monitors.yaml, end of the run's window); the messages of each."""
    notifier = RecordingNotifier()
    source = ReplaySource.from_observations(_history() + rows, host="https://lf.example", project_id="proj1")
    delivered, since = [], f"{DAY} 00:00"
    for cap, until in caps_until:
        delivered.append(pipeline_run(_settings(cap), source, store, notifier, since, until))
        since = until
    return delivered


def _titles(delivered: list[list]) -> list[list[str]]:
    return [[m.title for m in run] for run in delivered]


def warning(cap: int) -> str:
    return f"Cost budget daily at 80% of its ${cap}.00 cap for all spend on {DAY}"


def page(cap: int) -> str:
    return f"Cost budget daily at 100% of its ${cap}.00 cap for all spend on {DAY}"


def test_a_cap_raised_after_the_warning_warns_again_at_80_percent_of_the_new_cap(sqlite_store: Store) -> None:
    rows = _spend_by_hour({9: 85.0, 12: 150.0, 15: 165.0, 18: 205.0})
    runs = [(100, f"{DAY} 10:00"), (200, f"{DAY} 13:00"), (200, f"{DAY} 16:00"), (200, f"{DAY} 19:00")]
    assert _titles(_runs(sqlite_store, rows, runs)) == [
        [warning(100)],  # $85 of $100
        [],  # $150 of the raised $200: 75%
        [warning(200)],  # $165 of $200
        [page(200)],  # $205 of $200
    ]


def test_a_cap_raised_after_the_page_does_not_page_again_until_the_new_cap(sqlite_store: Store) -> None:
    rows = _spend_by_hour({9: 105.0, 12: 150.0, 15: 165.0, 18: 205.0})
    runs = [(100, f"{DAY} 10:00"), (200, f"{DAY} 13:00"), (200, f"{DAY} 16:00"), (200, f"{DAY} 19:00")]
    assert _titles(_runs(sqlite_store, rows, runs)) == [
        [page(100)],  # $105 of $100: the page outranks the 80% of the same run
        [],  # $150 of $200: no page again for spend the old cap was about
        [warning(200)],  # $165 of $200
        [page(200)],  # $205 of $200
    ]


def test_a_cap_lowered_after_the_warning_still_pages_and_a_cap_seen_before_stays_quiet(sqlite_store: Store) -> None:
    rows = _spend_by_hour({9: 165.0, 12: 170.0, 15: 175.0})
    runs = [(200, f"{DAY} 10:00"), (150, f"{DAY} 13:00"), (200, f"{DAY} 16:00")]
    assert _titles(_runs(sqlite_store, rows, runs)) == [
        [warning(200)],  # $165 of $200
        [page(150)],  # $170 of the lowered $150
        [],  # back to $200: its 80% was already sent today
    ]


def test_the_alert_and_its_key_name_the_cap_in_force(sqlite_store: Store) -> None:
    rows = _spend_by_hour({9: 85.0, 15: 165.0})
    (first,), (second,) = _runs(sqlite_store, rows, [(100, f"{DAY} 10:00"), (200, f"{DAY} 16:00")])
    assert dict(first.fields)["Spend"] == "$85.00 of $100.00 (85%)"
    assert dict(second.fields)["Spend"] == "$165.00 of $200.00 (82%)"
    assert (first.fingerprint, second.fingerprint) == (f"cost:daily:*:{DAY}:cap=100", f"cost:daily:*:{DAY}:cap=200")


def test_two_warnings_of_one_day_under_two_caps_read_apart_in_chat_and_on_the_pager(sqlite_store: Store) -> None:
    from monitors.notifiers.pagerduty import event

    rows = _spend_by_hour({9: 85.0, 15: 165.0})
    (first,), (second,) = _runs(sqlite_store, rows, [(100, f"{DAY} 10:00"), (200, f"{DAY} 16:00")])
    assert (first.title, second.title) == (warning(100), warning(200))
    # The pager's one line starts with the title, so the cap is in what it shows first.
    summaries = [event(m, "routing-key-placeholder")["payload"]["summary"] for m in (first, second)]
    assert [s.split(": ")[0] for s in summaries] == [warning(100), warning(200)]


def _as_the_release_before_cap_keys(store: Store) -> None:
    """The store as the release before cap keys left it: budget alerts keyed `<budget>:<value>:<day>`,
    and none of the cost state that release did not write."""
    import sqlalchemy as sa

    from monitors.cost.upgrade import KEYS_BEFORE_CAPS

    with store.engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE findings SET fingerprint = :old WHERE fingerprint = :new"),
            {"old": f"cost:daily:*:{DAY}", "new": f"cost:daily:*:{DAY}:cap=100"},
        )
        conn.execute(sa.text("DELETE FROM monitor_state WHERE monitor = 'cost' AND key = :k"), {"k": KEYS_BEFORE_CAPS})


def test_an_upgrade_during_the_day_sends_no_alert_of_that_day_again(sqlite_store: Store) -> None:
    rows = _spend_by_hour({9: 85.0, 12: 90.0, 15: 105.0, 18: 165.0})
    notifier = RecordingNotifier()
    source = ReplaySource.from_observations(_history() + rows, host="https://lf.example", project_id="proj1")
    assert [m.title for m in pipeline_run(_settings(100), source, sqlite_store, notifier, DAY, f"{DAY} 10:00")] == [
        warning(100)
    ]
    _as_the_release_before_cap_keys(sqlite_store)
    later = [(100, f"{DAY} 13:00"), (100, f"{DAY} 16:00"), (200, f"{DAY} 19:00")]
    titles, since = [], f"{DAY} 10:00"
    for cap, until in later:
        titles.append([m.title for m in pipeline_run(_settings(cap), source, sqlite_store, notifier, since, until)])
        since = until
    assert titles == [
        [],  # $90 of $100: its 80% went out before the upgrade, under the key without the cap
        [page(100)],  # $105 of $100: escalates that same alert
        [warning(200)],  # $165 of a cap raised after the upgrade: a new cap, a new key
    ]

"""Days over budget: every figure says what it is, a cost alert's spend when it fired ("as of 10:00 UTC")
or the whole day's, in the digest and in the full report."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from monitors.report.build import build_week_report
from monitors.report.digest import build_digest_message
from monitors.report.period import parse_week
from monitors.report.tables import report_tables
from monitors.store.store import Store
from tests.report import builders as b

WEEK = parse_week("2026-W47", ZoneInfo("UTC"))
SATURDAY = "2026-11-21"


def _week(store: Store, now: datetime = b.REPORT_NOW):
    # A live cost run at 10:15 read Saturday up to 10:00 and paged for one user; the global budget had not
    # reached its cap by then, and no later run judged Saturday. The day ended at $52.50 over all spend.
    at_ten = datetime(2026, 11, 21, 10, 15, tzinfo=UTC)
    user = b.budget_finding(SATURDAY, 100, 11.33, cap=5.0, budget="per-user", value="svc-llm-fix", observed_at=at_ten)
    # Friday's global alert was raised again by the run just after midnight, which read the whole day.
    friday = b.budget_finding("2026-11-20", 100, 44.0, observed_at=datetime(2026, 11, 21, 0, 15, tzinfo=UTC))
    b.store_events(store, "cost", b.event(user), b.event(friday))
    rows = [b.obs(d, b.WEEK_START + timedelta(days=d, hours=9), 20.0) for d in range(7)]
    rows += [b.obs(50, b.WEEK_START + timedelta(days=4, hours=12), 24.0)]  # Friday: $44.00
    rows += [b.obs(51, b.WEEK_START + timedelta(days=5, hours=12), 32.5)]  # Saturday: $52.50
    return build_week_report(store, b.source_of(rows), b.settings(), WEEK, now=now)


def test_digest_says_which_figures_are_at_the_alert_and_which_are_the_whole_day(sqlite_store: Store) -> None:
    message = build_digest_message(_week(sqlite_store))
    [lines] = [s.lines for s in message.sections if s.heading == "Days over budget"]
    assert lines == (
        "Fri 20 Nov: budget global, all spend: $44.00 of $40.00 (110%), whole day",
        "Sat 21 Nov: budget per-user, svc-llm-fix: $11.33 of $5.00 (227%) as of 10:00 UTC",
        "Sat 21 Nov: all spend $52.50 of the $40.00 daily cap (131%), whole day;"
        " no cost alert was recorded for that day",
    )


def test_a_day_still_in_progress_is_so_far(sqlite_store: Store) -> None:
    # The report of the week so far, on Saturday at 16:00: Saturday's total is not the day's final one.
    report = _week(sqlite_store, now=datetime(2026, 11, 21, 16, 0, tzinfo=UTC))
    [lines] = [s.lines for s in build_digest_message(report).sections if s.heading == "Days over budget"]
    assert lines[-1] == (
        "Sat 21 Nov: all spend $52.50 of the $40.00 daily cap (131%) as of 16:00 UTC;"
        " no cost alert was recorded for that day"
    )


def test_full_report_table_has_every_day_over_budget_and_what_each_figure_is(sqlite_store: Store) -> None:
    [table] = [t for t in report_tables(_week(sqlite_store)) if t.title == "Days over budget"]
    figure = table.headers.index("Figure")
    assert [(row[0], row[1], row[3], row[figure]) for row in table.rows] == [
        ("Fri 20 Nov", "global", "$44.00", "whole day"),
        ("Sat 21 Nov", "per-user", "$11.33", "as of 10:00 UTC"),
        ("Sat 21 Nov", "daily cap (no cost alert recorded)", "$52.50", "whole day"),
    ]


def _replay_until(store: Store, rows: list, until: datetime, *, now: datetime, timezone: str = "UTC") -> None:
    """A cost replay (`--since/--until`) through the real pipeline, run on the wall clock `now`."""
    from monitors.engine.pipeline import RunDeps, run_once
    from tests.cost.helpers import pipeline_settings
    from tests.fakes.scripted_monitor import RecordingNotifier

    cost = {"timezone": timezone, "budgets": [{"name": "global", "daily_cap": 40}], "spike": {"enabled": False}}
    settings = pipeline_settings(cost | {"projection": {"enabled": False}})
    deps = RunDeps(b.source_of(rows), store, {"ops": RecordingNotifier()})
    summary = run_once("cost", settings, deps, now=now, since=until - timedelta(hours=6), until=until)
    assert summary.status == "ok", summary.error


def test_a_replay_until_mid_day_says_as_of_its_until_not_the_wall_clock(sqlite_store: Store) -> None:
    # Saturday: $45 by 09:00, $52.50 by the end of the day. A replay with --until Saturday 10:00, run on
    # Wednesday's wall clock, paged on the $45 it read: that figure is as of 10:00, not the whole day.
    rows = [b.obs(d, b.WEEK_START + timedelta(days=d, hours=9), 20.0) for d in range(5)]
    rows += [b.obs(60, b.WEEK_START + timedelta(days=5, hours=9), 45.0)]
    rows += [b.obs(61, b.WEEK_START + timedelta(days=5, hours=15), 7.5)]
    saturday_ten = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
    _replay_until(sqlite_store, rows, saturday_ten, now=b.REPORT_NOW - timedelta(hours=1))
    report = build_week_report(sqlite_store, b.source_of(rows), b.settings(), WEEK, now=b.REPORT_NOW)
    [lines] = [s.lines for s in build_digest_message(report).sections if s.heading == "Days over budget"]
    assert lines == ("Sat 21 Nov: budget global, all spend: $45.00 of $40.00 (112%) as of 10:00 UTC",)

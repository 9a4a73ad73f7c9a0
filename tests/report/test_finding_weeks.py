"""Which week a finding is reported in: the week of the data it is about, not the week its run happened.

Real monitors run through the real pipeline into a real store; the report then reads that store. A run
after the week (the daily audit at Monday 06:45, a catch-up after an outage, a replay of an old export)
finds things about the week before: those findings belong to the week before's report.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from monitors.engine import registry
from monitors.engine.config import settings_from_dict
from monitors.engine.pipeline import RunDeps, run_once
from monitors.report.build import build_week_report
from monitors.report.data import WeekReport
from monitors.report.findings import in_period
from monitors.report.period import ReportWeek, parse_week
from monitors.sources.replay import ReplaySource
from monitors.store.store import Store
from tests.audit.helpers import session_observations
from tests.fakes.scripted_monitor import RecordingNotifier
from tests.report import builders as b

UTC_TZ = ZoneInfo("UTC")
W47 = parse_week("2026-W47", UTC_TZ)
W46, W48 = parse_week("2026-W46", UTC_TZ), parse_week("2026-W48", UTC_TZ)
SUNDAY_EVENING = b.WEEK_END - timedelta(hours=4)  # Sun 22 Nov 20:00 UTC


def _loop_session(session: str, start: datetime) -> list:
    """Six tool calls that go round in circles with the same arguments: an audit `loop` finding."""
    calls = session_observations(session, ["open", "search"] * 3, start=start, agent="llm-fix")
    return [replace(o, input={"q": o.name}, output="same") if o.type == "TOOL" else o for o in calls]


def _audit(store: Store, observations: list, *, now: datetime, **window: datetime):
    source = ReplaySource.from_observations(observations, host=b.HOST, project_id="proj-1")
    deps = RunDeps(source, store, {"terminal": RecordingNotifier()})
    summary = run_once("audit", b.settings(), deps, now=now, **window)
    assert summary.status == "ok", summary.error
    return summary


def _report(store: Store, week: ReportWeek, now: datetime = b.REPORT_NOW + timedelta(days=7)) -> WeekReport:
    return build_week_report(store, b.source_of([]), b.settings(), week, now=now)


def _audit_keys(report: WeekReport) -> list[str]:
    return sorted(f.dedupe_key for f in report.audit)


@pytest.mark.parametrize(
    ("since", "run_at"),
    [
        # schedules.yaml: audit daily at 06:45, from the last run's watermark (Sunday 06:30) to now minus
        # the query delay: the run is on Monday of W48, the loop it finds happened on Sunday of W47.
        (timedelta(hours=-17, minutes=-30), timedelta(hours=6, minutes=45, seconds=7)),
        # A run on Monday at 00:15 reading Sunday (a pod starts a few seconds after the minute).
        (timedelta(hours=-24), timedelta(minutes=15, seconds=2)),
    ],
    ids=["daily-06:45", "monday-00:15"],
)
def test_a_monday_run_reports_sundays_loop_in_sundays_week(
    sqlite_store: Store, since: timedelta, run_at: timedelta
) -> None:
    observations = _loop_session("sun-night", SUNDAY_EVENING)
    summary = _audit(sqlite_store, observations, now=b.WEEK_END + run_at, since=b.WEEK_END + since)
    assert summary.findings == 1 and summary.window.end > b.WEEK_END  # read into Monday, found Sunday's loop
    assert _audit_keys(_report(sqlite_store, W47)) == ["sun-night:loop"]
    assert _audit_keys(_report(sqlite_store, W48)) == []


def test_a_replay_of_an_old_week_reports_its_findings_in_that_week(sqlite_store: Store) -> None:
    # Langfuse was down during the week; the week is replayed on the Thursday after from an export.
    thursday = b.WEEK_END + timedelta(days=3, hours=9)
    sessions = _loop_session("tue", b.WEEK_START + timedelta(days=1, hours=10))
    sessions += _loop_session("sat", b.WEEK_START + timedelta(days=5, hours=15))
    _audit(sqlite_store, sessions, now=thursday, since=b.WEEK_START, until=b.WEEK_END)
    assert _audit_keys(_report(sqlite_store, W47)) == ["sat:loop", "tue:loop"]
    assert _audit_keys(_report(sqlite_store, W48)) == []


def test_a_cost_replay_after_the_week_puts_saturdays_budget_alert_in_saturdays_week(sqlite_store: Store) -> None:
    # The cost monitor judged the week only on the Thursday after (a replay): its 100% alert is about
    # Saturday, so W47 lists it as the alert it is, and W48 does not claim a day over budget.
    spend = [b.obs(n, b.WEEK_START + timedelta(days=n, hours=10), 5.0) for n in range(7)]
    spend.append(b.obs(99, b.WEEK_START + timedelta(days=5, hours=12), 47.5))
    deps = RunDeps(b.source_of(spend), sqlite_store, {"terminal": RecordingNotifier()})
    replay = run_once("cost", b.settings(), deps, now=b.REPORT_NOW, since=b.WEEK_START, until=b.WEEK_END)
    assert replay.status == "ok" and replay.findings >= 1
    w47 = build_week_report(sqlite_store, b.source_of(spend), b.settings(), W47, now=b.REPORT_NOW)
    assert [(o.day, o.budget, o.spend) for o in w47.over_budget] == [("2026-11-21", "global", 52.5)]
    assert w47.over_cap_unalerted == [] and w47.days_over_budget == 1
    w48 = _report(sqlite_store, W48)
    assert (w48.over_budget, w48.findings) == ([], [])


def test_a_catch_up_window_across_two_weeks_reports_each_session_in_its_own_week(
    sqlite_store: Store,
) -> None:
    # The audit was down from Friday to Tuesday; its catch-up reads Fri 06:30 (W47) .. Tue 06:30 (W48).
    # Each finding carries its session's span, so Saturday's loop is in W47 and Monday's in W48, once each.
    friday = b.WEEK_START + timedelta(days=4, hours=6, minutes=30)
    sessions = _loop_session("sat", b.WEEK_START + timedelta(days=5, hours=15))
    sessions += _loop_session("mon", b.WEEK_END + timedelta(hours=9))
    _audit(sqlite_store, sessions, now=friday + timedelta(days=4, minutes=15), since=friday)
    assert _audit_keys(_report(sqlite_store, W47)) == ["sat:loop"]
    assert _audit_keys(_report(sqlite_store, W48)) == ["mon:loop"]


def test_a_finding_without_a_window_of_its_own_is_stored_with_its_runs(
    sqlite_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(registry.MONITORS, "scripted", "tests.fakes.scripted_monitor:ScriptedMonitor")
    raw = {"channels": {"ops": {"kind": "stdout"}}, "monitors": {"scripted": {"findings": [{"key": "k"}]}}}
    deps = RunDeps(ReplaySource.from_observations([]), sqlite_store, {"ops": RecordingNotifier()})
    summary = run_once("scripted", settings_from_dict(raw, env={}), deps, now=b.REPORT_NOW, since=b.WEEK_START)
    [event] = sqlite_store.events_about(b.WEEK_START, b.WEEK_END, unplaced_observed=(b.WEEK_START, b.WEEK_START))
    assert (event["window_start"], event["window_end"]) == (summary.window.start, summary.window.end)


def _row(start: datetime | None, end: datetime | None, observed: datetime) -> dict:
    return {"window_start": start, "window_end": end, "observed_at": observed}


def test_every_window_and_every_older_row_goes_to_exactly_one_week() -> None:
    weeks = [parse_week(f"2026-W{n}", UTC_TZ) for n in (45, 46, 47, 48, 49, 50)]
    lengths = [timedelta(0), timedelta(hours=1), timedelta(days=1), timedelta(days=3.5), timedelta(days=7)]
    lengths.append(timedelta(days=14))  # the longest catch-up a run makes (MAX_CATCHUP)
    starts = [W46.start + timedelta(minutes=30 * i) for i in range(2 * 24 * 14)]  # W46 and W47, half-hourly
    for start in starts:
        for length in lengths:
            row = _row(start, start + length, observed=start + length + b.DELAY)
            homes = [w.label for w in weeks if in_period(row, w.start, w.end, b.DELAY)]
            assert len(homes) == 1, (start, length, homes)
            older = _row(None, None, observed=start + b.DELAY)  # stored before m008: by its run's clock
            assert sum(in_period(older, w.start, w.end, b.DELAY) for w in weeks) == 1, start


def test_a_day_of_another_zone_goes_to_the_report_week_holding_most_of_it() -> None:
    # The events monitor's days are UTC days; in a Berlin report, UTC Sunday is Sun 01:00 .. Mon 01:00.
    berlin = ZoneInfo("Europe/Berlin")
    w47, w48 = parse_week("2026-W47", berlin), parse_week("2026-W48", berlin)
    sunday = _row(b.WEEK_END - timedelta(days=1), b.WEEK_END, observed=b.WEEK_END + timedelta(hours=3))
    assert in_period(sunday, w47.start, w47.end, b.DELAY) and not in_period(sunday, w48.start, w48.end, b.DELAY)

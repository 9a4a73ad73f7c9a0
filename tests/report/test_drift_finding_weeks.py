"""Which week a goal-drift finding is reported in: the week of the traces it judges, not of its run.

The real drift monitor (with the hand-made topic embedder) runs through the real pipeline, reading
traces from a replay source and pull requests from the fake GitHub with the real client, into a real
store; the weekly report then reads that store. The daily drift run at 06:30 reads Sunday 06:15 to
Monday 06:15, and a catch-up after an outage reads days of two weeks: each finding goes to the week of
its own traces.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from monitors.contracts.findings import RunWindow
from monitors.engine import registry
from monitors.engine.config import settings_from_dict
from monitors.engine.pipeline import RunDeps, run_once
from monitors.report.build import build_week_report
from monitors.report.period import parse_week
from monitors.sources.github import GitHubSource
from monitors.sources.replay import ReplaySource
from monitors.store.store import Store
from monitors.support.retry import RetryPolicy
from tests.fakes import github_server
from tests.fakes.github_server import FakeGitHub, changed, commit
from tests.fakes.scripted_monitor import RecordingNotifier
from tests.report import builders as b
from tests.test_goal_drift import obs_for_trace

TOKEN = "ghp_weeks_token"
W47, W48 = parse_week("2026-W47", ZoneInfo("UTC")), parse_week("2026-W48", ZoneInfo("UTC"))
SUNDAY_LATE = b.WEEK_END - timedelta(minutes=10)  # Sun 22 Nov 23:50 UTC
MONDAY_EARLY = b.WEEK_END + timedelta(hours=2)  # Mon 23 Nov 02:00 UTC


@pytest.fixture(autouse=True)
def _topic_embedder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(registry.MONITORS, "drift", "tests.test_goal_drift_e2e:TopicDriftMonitor")


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    state = FakeGitHub(token=TOKEN)
    # Both asked for the login page and rewrote the billing export instead: each alerts.
    for number in (42, 44):
        state.add_pull(
            "acme/web",
            number,
            [commit(f"g{number}", "Rewrite the billing export")],
            [changed("billing/export.py", "modified", 120, 80, "@@ -1,3 +1,9 @@ def export(rows):\n+def rows():\n")],
        )
    with github_server.running(state) as server:
        yield server


def _trace(trace_id: str, pull: int, start: datetime) -> list:
    """A trace of three observations, one second apart, from `start`."""
    rows = obs_for_trace(trace_id, "login-bot", {"objective": "Fix the login page", "mr_iid": f"acme/web#{pull}"})
    return [replace(o, start_time=start + (o.start_time - rows[0].start_time)) for o in rows]


def _unchecked(trace_id: str, start: datetime) -> list:
    """A trace with an objective and no pull request: an 'unverifiable' note."""
    rows = obs_for_trace(trace_id, "notes-bot", {"objective": "Write the release notes"})
    return [replace(o, start_time=start + (o.start_time - rows[0].start_time)) for o in rows]


def _drift(store: Store, github: FakeGitHub, observations: list, *, since: datetime, now: datetime):
    settings = settings_from_dict(
        {
            "langfuse": {"host": b.HOST, "public_key": "pk-lf-test", "secret_key": "sk-lf-test", "query_delay": "15m"},
            "channels": {"ops": {"kind": "stdout"}},
            "default_route": {"channels": ["ops"], "min_severity": "warning"},
            "monitors": {"drift": {"repositories": {"acme/web": {"forge": "github"}}}},
        },
        env={},
    )
    notifier = RecordingNotifier()
    retry = RetryPolicy(attempts=2, max_delay=1, max_total_wait=1, sleep=lambda _: None, rng=random.Random(0))
    deps = RunDeps(
        ReplaySource.from_observations(observations, host=b.HOST, project_id="proj-1"),
        store,
        {"ops": notifier},
        github_factory=lambda: GitHubSource(TOKEN, github.url, retry=retry),
    )
    summary = run_once("drift", settings, deps, now=now, since=since)
    assert summary.status == "ok", summary.error
    return summary, notifier


def _keys(store: Store, week) -> tuple[list[str], list[str]]:
    """(drift findings' keys, unverifiable reasons' examples) of `week`'s report."""
    report = build_week_report(store, b.source_of([]), b.settings(), week, now=b.REPORT_NOW + timedelta(days=7))
    unchecked = [*report.unverifiable, *report.not_linked]
    return sorted(f.dedupe_key for f in report.drift), sorted(e for u in unchecked for e in u.examples)


@pytest.mark.parametrize(
    ("since", "run_at"),
    [
        # schedules.yaml: drift daily at 06:30 reads Sunday 06:15 .. Monday 06:15 (18 of its 24 hours in W47).
        (timedelta(hours=-17, minutes=-45), timedelta(hours=6, minutes=30, seconds=4)),
        # A catch-up after an outage: Sunday 12:00 .. Tuesday 12:00 (36 of its 48 hours in W48).
        (timedelta(hours=-12), timedelta(days=1, hours=12, minutes=15)),
    ],
    ids=["daily-06:30", "catch-up"],
)
def test_each_drift_finding_goes_to_the_week_of_its_trace(
    sqlite_store: Store, github: FakeGitHub, since: timedelta, run_at: timedelta
) -> None:
    observations = _trace("t-sun", 42, SUNDAY_LATE) + _trace("t-mon", 44, MONDAY_EARLY)
    observations += _unchecked("t-notes", MONDAY_EARLY + timedelta(hours=1))
    summary, notifier = _drift(sqlite_store, github, observations, since=b.WEEK_END + since, now=b.WEEK_END + run_at)
    assert summary.window.start < SUNDAY_LATE and summary.window.end > MONDAY_EARLY  # one run read both
    assert _keys(sqlite_store, W47) == (["acme/web#42@g42"], [])
    assert _keys(sqlite_store, W48) == (["acme/web#44@g44"], ["agent notes-bot"])

    # The alert's Window is the trace's time (first observation to last), not the run's.
    windows = {m.title.split(" on ")[1].split(" (")[0]: dict(m.fields)["Window"] for m in notifier.messages}
    assert windows == {
        "acme/web#42": str(RunWindow(SUNDAY_LATE, SUNDAY_LATE + timedelta(seconds=2, milliseconds=1))),
        "acme/web#44": str(RunWindow(MONDAY_EARLY, MONDAY_EARLY + timedelta(seconds=2, milliseconds=1))),
    }


def test_a_trace_parked_for_a_failing_forge_goes_to_its_own_week_when_a_later_run_judges_it(
    sqlite_store: Store, github: FakeGitHub
) -> None:
    # Monday 06:30: GitHub fails on PR 42 (Sunday's trace), which waits in the run state; Tuesday's run,
    # reading only Monday and Tuesday, judges it: the finding is still about Sunday.
    github.faults.append(github_server.Fault(match="/pulls/42", status=502, times=2))
    observations = _trace("t-sun", 42, SUNDAY_LATE) + _trace("t-mon", 44, MONDAY_EARLY)
    first, _ = _drift(
        sqlite_store,
        github,
        observations,
        since=b.WEEK_END - timedelta(hours=17, minutes=45),
        now=b.WEEK_END + timedelta(hours=6, minutes=30),
    )
    assert first.counters["deferred"] == 1
    second, notifier = _drift(
        sqlite_store,
        github,
        observations,
        since=first.window.end,
        now=b.WEEK_END + timedelta(days=1, hours=6, minutes=30),
    )
    assert second.window.start > MONDAY_EARLY
    assert [m.title.split(" (")[0] for m in notifier.messages] == ["Goal drift: login-bot on acme/web#42"]
    assert _keys(sqlite_store, W47) == (["acme/web#42@g42"], [])
    assert _keys(sqlite_store, W48) == (["acme/web#44@g44"], [])

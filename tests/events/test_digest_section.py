"""The weekly digest has an events section built from what the events runs stored."""

from __future__ import annotations

from datetime import timedelta

from monitors.engine.config import settings_from_dict
from monitors.engine.pipeline import RunDeps, run_once
from monitors.report.build import build_digest
from monitors.sources.replay import ReplaySource
from monitors.store.store import Store
from tests.events.data import EVALUATORS, HOST, LAST_DAY, PROJECT, at, burst, daily_scores, week
from tests.fakes.scripted_monitor import RecordingNotifier


def test_the_digest_lists_the_weeks_event_alerts_loudest_first(sqlite_store: Store) -> None:
    scores = daily_scores(streak=40, critical_failure=True)
    source = ReplaySource.from_observations(
        week() + burst("fixer", LAST_DAY, 12), host=HOST, project_id=PROJECT, scores=scores
    )
    raw = {
        "channels": {"ops": {"kind": "stdout"}},
        "default_route": {"channels": ["ops"], "min_severity": "warning"},
        "monitors": {"events": EVALUATORS},
    }
    settings = settings_from_dict(raw, env={})
    end = at(LAST_DAY, 0) + timedelta(days=1)
    deps = RunDeps(source, sqlite_store, {"ops": RecordingNotifier()})
    summary = run_once("events", settings, deps, now=end + timedelta(minutes=15), since=at(LAST_DAY, 0))
    assert summary.findings == 3

    digest = build_digest(sqlite_store, source, settings, at(LAST_DAY, 0), end + timedelta(hours=1))
    section = next(s for s in digest.sections if s.heading.startswith("Errors and evaluations"))
    assert section.heading == "Errors and evaluations: 3 alert(s)"
    assert section.lines[0] == "By kind: critical_score 1 · failing_scores 1 · error_burst 1"
    assert section.lines[1].startswith("[1] Critical evaluator leaks_secret failed 1× for triage-bot")
    assert "3 error/evaluation alert(s)" in digest.summary
    assert [link.label for link in digest.links if link.label.startswith("Events")] == [
        "Events 1: Trace 1",
        "Events 2: Trace 1",
        "Events 3: Trace 1",
    ]

"""The run pipeline end to end: windows, dedupe across runs, outbox, locks, a kill -9 mid-run."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitors.engine import registry
from monitors.engine.config import settings_from_dict
from monitors.engine.pipeline import RunDeps, choose_window, run_once
from monitors.sources.replay import ReplaySource
from monitors.store.store import Store
from tests.fakes.scripted_monitor import RecordingNotifier

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _scripted_monitor(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(registry.MONITORS, "scripted", "tests.fakes.scripted_monitor:ScriptedMonitor")


def _settings(findings: list[dict], **extra) -> object:
    raw = {
        "channels": {"ops": {"kind": "stdout"}},
        "default_route": {"channels": ["ops"], "min_severity": "warning"},
        "monitors": {"scripted": {"findings": findings}},
    }
    return settings_from_dict(raw | extra, env={})


def _run(settings, store: Store, notifier: RecordingNotifier, now: datetime = NOW, **kw):
    deps = RunDeps(ReplaySource.from_observations([]), store, {"ops": notifier})
    return run_once("scripted", settings, deps, now=now, **kw)


def test_window_starts_at_watermark_and_ends_before_the_query_delay() -> None:
    delay = timedelta(minutes=15)
    window = choose_window(NOW - timedelta(hours=1), NOW, delay, None, None)
    assert (window.start, window.end) == (NOW - timedelta(hours=1), NOW - delay)
    first = choose_window(None, NOW, delay, None, None)
    assert first.end - first.start == timedelta(days=1)
    capped = choose_window(NOW - timedelta(days=90), NOW, delay, None, None)
    assert capped.end - capped.start == timedelta(days=14)


def test_sent_once_then_suppressed_then_escalated(store: Store) -> None:
    notifier = RecordingNotifier()
    warn = {"key": "global:2026-11-21", "rank": 80, "title": "80% of budget"}
    first = _run(_settings([warn]), store, notifier)
    assert (first.findings, first.queued, first.delivered, first.status) == (1, 1, 1, "ok")
    second = _run(_settings([warn]), store, notifier, now=NOW + timedelta(minutes=15))
    assert (second.queued, second.suppressed) == (0, 1)
    page = {"key": "global:2026-11-21", "rank": 100, "severity": "critical", "title": "over budget"}
    third = _run(_settings([warn, page]), store, notifier, now=NOW + timedelta(minutes=30))
    assert third.queued == 1
    late_warn = _run(_settings([warn]), store, notifier, now=NOW + timedelta(minutes=45))
    assert late_warn.queued == 0
    assert [m.title for m in notifier.messages] == ["80% of budget", "over budget"]
    reasons = [d.reason for d in late_warn.decisions]
    assert reasons == ["rank 80 below already-sent rank 100"]


def test_realert_after_interval(store: Store) -> None:
    notifier = RecordingNotifier()
    settings = _settings([{"key": "k"}], alerting={"realert": "6h"})
    _run(settings, store, notifier)
    assert _run(settings, store, notifier, now=NOW + timedelta(hours=1)).queued == 0
    assert _run(settings, store, notifier, now=NOW + timedelta(hours=7)).queued == 1


def test_silence_holds_findings(store: Store) -> None:
    store.add_silence("scripted", "global", NOW + timedelta(hours=2), now=NOW)
    summary = _run(_settings([{"key": "global:2026-11-21"}, {"key": "user:bob"}]), store, RecordingNotifier())
    assert summary.queued == 1
    assert any(d.reason.startswith("silenced until") for d in summary.decisions)


def test_info_findings_are_recorded_not_sent(store: Store) -> None:
    summary = _run(_settings([{"key": "unverifiable", "severity": "info"}]), store, RecordingNotifier())
    assert (summary.findings, summary.queued) == (1, 0)
    [event] = store.events_between(NOW - timedelta(days=2), NOW + timedelta(days=1))
    assert event["decision"] == "recorded for the report (info)"


def test_chat_down_for_three_runs_then_every_alert_once_in_order(store: Store) -> None:
    notifier = RecordingNotifier()
    notifier.fail_with = "retryable"
    for i in range(3):
        summary = _run(
            _settings([{"key": f"k{i}", "title": f"alert {i}"}]), store, notifier, now=NOW + timedelta(minutes=15 * i)
        )
        assert summary.status == "delivery_failed" and summary.exit_code == 1
    notifier.fail_with = None
    summary = _run(_settings([]), store, notifier, now=NOW + timedelta(hours=1))
    assert summary.delivered == 3
    assert [m.title for m in notifier.messages] == ["alert 0", "alert 1", "alert 2"]
    assert _run(_settings([]), store, notifier, now=NOW + timedelta(hours=2)).delivered == 0


def test_permanent_failure_is_not_retried(store: Store) -> None:
    notifier = RecordingNotifier()
    notifier.fail_with = "permanent"
    assert _run(_settings([{"key": "k"}]), store, notifier).failed == 1
    notifier.fail_with = None
    assert _run(_settings([]), store, notifier, now=NOW + timedelta(hours=1)).delivered == 0
    assert store.outbox_counts() == {"failed": 1}


def test_dry_run_touches_nothing(store: Store) -> None:
    notifier = RecordingNotifier()
    summary = _run(_settings([{"key": "k"}]), store, notifier, dry_run=True)
    assert summary.queued == 1 and len(notifier.messages) == 1
    assert store.watermark("scripted") is None and store.outbox_counts() == {}
    assert store.load_state("scripted") == {}


def test_state_and_watermark_persist(store: Store) -> None:
    _run(_settings([]), store, RecordingNotifier())
    _run(_settings([]), store, RecordingNotifier(), now=NOW + timedelta(minutes=15))
    assert store.load_state("scripted") == {"runs": 2}
    assert store.watermark("scripted") == NOW


def test_second_concurrent_run_exits_cleanly(store: Store) -> None:
    other = Store(store.engine)
    other.holder = "another-host:1"
    assert other.acquire_lock("scripted", now=NOW, lease=timedelta(hours=1))
    notifier = RecordingNotifier()
    summary = _run(_settings([{"key": "k"}]), store, notifier)
    assert summary.status == "skipped" and summary.exit_code == 0 and notifier.messages == []


KILLED_RUN = textwrap.dedent(
    """
    import os, signal, sys
    from datetime import datetime
    from monitors.engine import registry
    from monitors.engine.config import settings_from_dict
    from monitors.engine.pipeline import RunDeps, run_once
    from monitors.sources.replay import ReplaySource
    from monitors.store.store import Store

    class DiesOnDelivery:
        def deliver(self, message):
            os.kill(os.getpid(), signal.SIGKILL)  # kill -9 after the outbox commit, before any POST

    registry.MONITORS["scripted"] = "tests.fakes.scripted_monitor:ScriptedMonitor"
    settings = settings_from_dict({
        "channels": {"ops": {"kind": "stdout"}},
        "default_route": {"channels": ["ops"]},
        "monitors": {"scripted": {"findings": [{"key": "k", "title": "queued then killed"}]}},
    }, env={})
    store = Store.open(sys.argv[1])
    run_once("scripted", settings, RunDeps(ReplaySource.from_observations([]), store, {"ops": DiesOnDelivery()}),
             now=datetime.fromisoformat(sys.argv[2]))
    """
)


@pytest.mark.slow
def test_run_killed_after_queuing_delivers_once_on_next_run(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    proc = subprocess.run(
        [sys.executable, "-c", KILLED_RUN, url, NOW.isoformat()],
        cwd=Path(__file__).parent.parent,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == -9, proc.stderr
    store = Store.open(url)
    assert store.outbox_counts() == {"pending": 1}
    notifier = RecordingNotifier()
    settings = _settings([{"key": "k", "title": "queued then killed"}])
    summary = _run(settings, store, notifier, now=NOW + timedelta(minutes=15))
    assert summary.status == "ok"  # the dead run's lock was taken over
    assert [m.title for m in notifier.messages] == ["queued then killed"]
    assert _run(settings, store, notifier, now=NOW + timedelta(minutes=30)).delivered == 0
    assert len(notifier.messages) == 1


def test_progress_on_a_terminal_only(tmp_path: Path) -> None:
    import io
    from datetime import timedelta

    from monitors.contracts.findings import RunWindow
    from monitors.contracts.records import Observation
    from monitors.contracts.source import ObservationQuery
    from monitors.engine.pipeline import PROGRESS_EVERY, CountingSource

    rows = [Observation(id=f"o{i}", trace_id="t", type="SPAN", start_time=NOW) for i in range(PROGRESS_EVERY * 2 + 1)]
    query = ObservationQuery(RunWindow(NOW - timedelta(hours=1), NOW + timedelta(hours=1)))
    terminal = io.StringIO()
    shown = CountingSource(ReplaySource.from_observations(rows), progress=terminal, label="audit")
    assert len(list(shown.observations(query))) == len(rows)
    shown.end_progress()
    assert "audit: read 10,000 records" in terminal.getvalue() and terminal.getvalue().endswith("\r\033[K")
    quiet = CountingSource(ReplaySource.from_observations(rows))  # a CronJob: no terminal, no progress
    assert len(list(quiet.observations(query))) == len(rows) and quiet.records == len(rows)

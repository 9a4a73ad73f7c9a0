"""Where the live watermark goes when runs are not the plain every-15-minutes kind: replays of a past
range, `--since` reruns, a clock that jumped back, a watermark written in the future."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from monitors.engine import registry
from monitors.engine.config import settings_from_dict
from monitors.engine.pipeline import RunDeps, run_once
from monitors.sources.replay import ReplaySource
from monitors.store.store import Store
from tests.fakes.scripted_monitor import RecordingNotifier

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
DELAY = timedelta(minutes=15)  # the query delay when no langfuse section is configured


@pytest.fixture(autouse=True)
def _scripted_monitor(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(registry.MONITORS, "scripted", "tests.fakes.scripted_monitor:ScriptedMonitor")


def _run(store: Store, now: datetime, **window: datetime):
    settings = settings_from_dict(
        {
            "channels": {"ops": {"kind": "stdout"}},
            "default_route": {"channels": ["ops"]},
            "monitors": {"scripted": {"findings": []}},
        },
        env={},
    )
    deps = RunDeps(ReplaySource.from_observations([]), store, {"ops": RecordingNotifier()})
    return run_once("scripted", settings, deps, now=now, **window)


def test_a_replay_of_last_week_leaves_the_live_watermark(store: Store) -> None:
    _run(store, NOW)
    replay = _run(store, NOW + timedelta(minutes=5), since=NOW - timedelta(days=7), until=NOW - timedelta(days=6))
    assert replay.status == "ok"
    # Before: the watermark went back six days, so the next live run read (and alerted on) them again.
    assert store.watermark("scripted") == NOW - DELAY
    live = _run(store, NOW + timedelta(minutes=15))
    assert (live.window.start, live.window.end) == (NOW - DELAY, NOW)


def test_a_replay_that_ends_in_the_future_does_not_blind_the_live_runs(store: Store) -> None:
    _run(store, NOW)
    _run(store, NOW + timedelta(minutes=5), since=NOW - timedelta(hours=1), until=NOW + timedelta(days=30))
    live = _run(store, NOW + timedelta(minutes=15))
    assert (live.window.start, live.window.end) == (NOW - DELAY, NOW)


def test_a_since_after_the_watermark_does_not_skip_what_lies_between(store: Store) -> None:
    _run(store, NOW)  # watermark at 08:45
    _run(store, NOW + timedelta(hours=3), since=NOW + timedelta(hours=2))  # reads 11:00-11:45 only
    live = _run(store, NOW + timedelta(hours=3, minutes=15))
    assert live.window.start == NOW - DELAY


def test_a_since_from_before_the_watermark_moves_it_like_a_live_run(store: Store) -> None:
    _run(store, NOW)
    _run(store, NOW + timedelta(hours=1), since=NOW - timedelta(days=2))
    assert store.watermark("scripted") == NOW + timedelta(hours=1) - DELAY


def test_a_clock_that_jumps_back_a_little_reads_nothing_twice(store: Store) -> None:
    _run(store, NOW)
    back = _run(store, NOW - timedelta(minutes=10))  # NTP stepped the clock back 10 minutes
    assert back.status == "ok" and back.window.end - back.window.start == timedelta(0)
    assert store.watermark("scripted") == NOW - DELAY  # was moved back to 08:35
    later = _run(store, NOW + timedelta(minutes=15))
    assert (later.window.start, later.window.end) == (NOW - DELAY, NOW)


def test_a_watermark_after_now_is_not_trusted(store: Store) -> None:
    # A pod whose clock ran a month ahead wrote the watermark; the clock is right again.
    _run(store, NOW + timedelta(days=30))
    fixed = _run(store, NOW)
    # Before: every window was empty for a month (records=0, status ok) while the agents ran unwatched.
    assert (fixed.window.start, fixed.window.end) == (NOW - DELAY - timedelta(days=1), NOW - DELAY)
    assert store.watermark("scripted") == NOW - DELAY
    assert _run(store, NOW + timedelta(minutes=15)).window.start == NOW - DELAY

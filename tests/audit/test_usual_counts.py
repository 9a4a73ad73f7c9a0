"""The runaway baseline takes each session once, however many runs audit it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from monitors.audit.monitor import HISTORY_KEY, ToolSequenceConfig, ToolSequenceMonitor
from monitors.audit.usual import UsualCounts
from monitors.contracts.findings import RunWindow
from monitors.contracts.monitor import MemoryState, RunContext
from monitors.sources.replay import ReplaySource
from tests.audit.helpers import session_observations

MIDNIGHT = datetime(2025, 6, 2, tzinfo=UTC)
DAY = timedelta(days=1)


def nightly_run(observations: list, day: int, state: MemoryState) -> list:
    """The daily audit over [midnight of `day`, the next midnight)."""
    window = RunWindow(MIDNIGHT + day * DAY, MIDNIGHT + (day + 1) * DAY)
    source = ReplaySource.from_observations(observations, host="https://langfuse.example", project_id="proj")
    ctx = RunContext(window=window, now=window.end, source=source, state=state)
    return list(ToolSequenceMonitor(ToolSequenceConfig()).run(ctx))


def test_sessions_across_midnight_count_once_so_a_usual_session_is_not_a_runaway() -> None:
    # A nightly agent: ten sessions of 30 calls a minute apart, each starting five minutes before midnight,
    # so every one is audited by two daily runs (its first five calls, then all of it).
    nights = [
        session_observations(
            f"night-{d}", [f"step{i}" for i in range(30)], start=MIDNIGHT + (d + 1) * DAY - timedelta(minutes=5), gap=60
        )
        for d in range(10)
    ]
    # Then one session of 60 calls: twice its usual 30, below the 3x the runaway check asks for.
    longer = session_observations("day-11", [f"step{i}" for i in range(60)], start=MIDNIGHT + 11 * DAY, gap=60)
    observations = [o for night in nights for o in night] + longer
    state = MemoryState()
    for day in range(11):
        assert nightly_run(observations, day, state) == []
    assert UsualCounts(state.get(HISTORY_KEY), 50).past("bot", "") == [30] * 10  # not [5, 30, 5, 30, ...]
    assert [f.kind for f in nightly_run(observations, 11, state)] == []


def test_a_session_is_left_out_of_its_own_baseline() -> None:
    usual = UsualCounts({"bot": [6] * 10}, 50)  # the older format: bare counts
    usual.remember("bot", "edge", 5)
    assert usual.past("bot", "edge") == [6] * 10
    usual.remember("bot", "edge", 40)  # the next run reads the whole session: its latest count
    assert usual.past("bot", "other") == [6] * 10 + [40]
    assert len(usual.to_json()["bot"]) == 11
    assert "edge" not in str(usual.to_json())  # session keys are agent text: stored hashed
    assert UsualCounts({"bot": ["x", True, [1, "y"], None], "odd": "nope"}, 50).to_json() == {"bot": []}

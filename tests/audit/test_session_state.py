"""Audit alerts say whether their session still runs, and how long before the run its last step was; an
alert about a session that has ended tells the reader to review it, not to stop it."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

from monitors.audit.config import ToolSequenceConfig
from monitors.audit.monitor import ToolSequenceMonitor
from monitors.contracts.findings import Finding, RunWindow
from monitors.contracts.monitor import RunContext
from monitors.contracts.records import Observation
from monitors.engine.render import message_for, next_step
from monitors.sources.replay import ReplaySource
from monitors.sources.trajectories import convert_lines
from tests.audit.helpers import T0, shell_observations

FAIL = "FAILED tests/test_api.py::test_refund - AssertionError: assert 402 == 200\n1 failed, 4 passed in 0.61s"
LOOP = [("pytest tests/test_api.py -x", FAIL, True), ("git status --short", " M src/refunds.py")] * 4
LAST_STEP = T0 + timedelta(seconds=40 * 7 + 5)  # the end of the eighth Bash call


def _audit(observations: list[Observation], now: datetime, *, window_end: datetime | None = None, **config) -> dict:
    window = RunWindow((window_end or now) - timedelta(days=1), window_end or now)
    ctx = RunContext(window=window, now=now, source=ReplaySource.from_observations(observations))
    findings = ToolSequenceMonitor(ToolSequenceConfig.model_validate(config)).run(ctx)
    return {f.kind: f for f in findings}


def _field(finding: Finding, name: str) -> str:
    return dict(message_for(finding).fields)[name]


def test_a_loop_in_a_session_that_ended_says_so_and_asks_for_a_review_not_a_stop() -> None:
    loop = _audit(shell_observations("cc-loop", LOOP), LAST_STEP + timedelta(hours=15))["loop"]
    assert _field(loop, "Session state") == "ended 15 h before this run"
    step = next_step(loop)
    assert step.startswith(
        "review session cc-loop of claude-code and any merge request it opened: it repeated the same tool calls;"
    )
    assert "stop" not in step
    assert loop.evidence["session_state"] == "ended"
    assert loop.evidence["session_last_step"] == LAST_STEP.isoformat()


def test_a_loop_in_a_running_session_asks_to_stop_it() -> None:
    loop = _audit(shell_observations("cc-loop", LOOP), LAST_STEP + timedelta(minutes=4))["loop"]
    assert _field(loop, "Session state") == "active: last step 4 min before this run"
    assert next_step(loop).startswith("stop session cc-loop of claude-code: it repeats the same tool calls;")


def test_a_run_long_after_its_window_does_not_call_the_session_active_now() -> None:
    now = LAST_STEP + timedelta(days=2)
    loop = _audit(shell_observations("cc-loop", LOOP), now, window_end=LAST_STEP + timedelta(minutes=4))["loop"]
    assert _field(loop, "Session state") == "active at the window's end: last step 2 d before this run"


def test_a_runaway_session_that_ended_asks_for_a_review_and_a_step_limit() -> None:
    steps = [(f"pytest tests/test_api.py -x -k case_{k}", FAIL, True) for k in range(12)]
    now = T0 + timedelta(seconds=40 * 11 + 5, hours=3, minutes=20)
    runaway = _audit(shell_observations("cc-long", steps), now, runaway={"max_tool_calls": 10})["runaway"]
    assert _field(runaway, "Session state") == "ended 3 h 20 min before this run"
    assert next_step(runaway).startswith(
        "review session cc-long of claude-code and any merge request it opened, and set a step limit for claude-code;"
    )


def test_without_real_times_the_state_is_unknown_and_the_stop_is_conditional() -> None:
    # Trajectories without timestamps get synthetic times: whether the session still runs is not known.
    steps = [
        {"index": k, "tool": tool, "args": args, "result": result, "is_error": error, "kind": "tool_call"}
        for k, (tool, args, result, error) in enumerate(
            [("python", "reproduce.py", "Traceback: ZeroDivisionError", True), ("open", "calc.py", "[File]", False)] * 4
        )
    ]
    line = json.dumps({"session_id": "swe/loop", "source": "swe-agent", "steps": steps})
    observations = list(convert_lines([line]))
    now = max(o.end_time or o.start_time for o in observations) + timedelta(minutes=1)
    loop = _audit(observations, now)["loop"]
    assert _field(loop, "Session state") == "unknown: no real timestamps"
    assert "if it still runs: it repeats the same tool calls;" in next_step(loop)


@pytest.mark.parametrize(
    ("kind", "step"),
    [
        ("repeat", "check session cc-retests of claude-code: it makes the same call again and again;"),
        ("error_storm", "check the failing tool in session cc-retests of claude-code;"),
    ],
)
def test_other_checks_keep_their_next_step_whatever_the_state(kind: str, step: str) -> None:
    steps = [("pytest tests/test_api.py -x", FAIL, True)] * 5
    found = _audit(shell_observations("cc-retests", steps), T0 + timedelta(hours=15))
    assert found[kind].evidence["session_state"] == "ended"
    assert next_step(found[kind]).startswith(step)

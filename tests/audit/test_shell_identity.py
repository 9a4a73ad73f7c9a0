"""A shell tool's `description` (Claude Code's Bash says in it what the command is for, in new words each
time) does not make two calls differ; the command does, and under any other tool a description does."""

from __future__ import annotations

import json
from datetime import timedelta

from monitors.audit.checks import find_repeats
from monitors.audit.config import ToolSequenceConfig
from monitors.audit.monitor import ToolSequenceMonitor
from monitors.audit.sequence import make_call
from monitors.contracts.findings import Finding, RunWindow
from monitors.contracts.monitor import RunContext
from monitors.contracts.records import Observation
from monitors.sources.replay import ReplaySource
from monitors.sources.trajectories import convert_lines
from tests.audit.helpers import T0, seq, shell_observations

FAIL = (
    "FAILED tests/test_api.py::test_refund - AssertionError: assert 402 == 200\n"
    "========================= 1 failed, 4 passed in 0.61s ========================="
)
SAID = ["Run the API tests", "Run the tests again", "Re-run the failing test", "Check whether the fix works",
        "Run the refund test once more"]  # fmt: skip
RUNNING = '{"conclusion":"","status":"in_progress"}'


def _audit(observations: list[Observation]) -> list[Finding]:
    window = RunWindow(T0, T0 + timedelta(days=1))
    ctx = RunContext(window=window, now=window.end, source=ReplaySource.from_observations(observations))
    return list(ToolSequenceMonitor(ToolSequenceConfig()).run(ctx))


def test_the_same_failing_command_with_a_new_description_each_time_is_a_repeat() -> None:
    steps = [("pytest tests/test_api.py -x", FAIL, True, said) for said in SAID]
    found = {f.kind: f for f in _audit(shell_observations("cc-retests", steps))}
    assert found["repeat"].evidence["steps"] == [2, 3, 4, 5]
    assert "Bash called 5x with the same arguments" in found["repeat"].summary
    # What the alert quotes is the command, not five ways of describing it.
    assert dict(found["repeat"].fields)["Calls"] == '#2 Bash({"command":"pytest tests/test_api.py -x"})'


def test_descriptions_logged_with_a_hash_of_every_argument_still_do_not_count() -> None:
    # A trajectory records the hash of the whole arguments, description included: the audit hashes its own.
    steps = []
    for index, said in enumerate(SAID):
        args = json.dumps({"command": "npm run build", "description": said})
        steps.append({"index": index, "tool": "Bash", "args": args, "args_sha1": f"{index:016x}",
                      "result": "ERROR in src/app.ts:14:3 TS2322", "is_error": True,
                      "timestamp": (T0 + timedelta(minutes=index)).isoformat(), "kind": "tool_call"})  # fmt: skip
    line = json.dumps({"session_id": "cc/build", "source": "claude-code", "steps": steps})
    found = {f.kind: f.evidence["steps"] for f in _audit(list(convert_lines([line])))}
    assert found["repeat"] == [2, 3, 4, 5]


def test_polling_through_rewritten_descriptions_is_still_one_polled_read() -> None:
    said = ["Wait and check CI", "Check the run again", "Poll CI status", "See if CI finished"]
    steps = [("sleep 30 && gh run view 812 --json status,conclusion", RUNNING, False, said[k % 4]) for k in range(24)]
    (note,) = _audit(shell_observations("cc-long-wait", steps))
    assert note.kind == "polling" and "polled Bash 24 times" in note.summary


def test_must_not_fire_a_description_is_what_other_tools_are_about() -> None:
    calls = seq(
        ("create_issue", {"title": "Refund rounding", "description": "Refunds round down"}, "created #12"),
        ("create_issue", {"title": "Refund rounding", "description": "Refunds of 0.005 round down"}, "created #13"),
    )
    assert find_repeats(calls) == []


def test_must_not_fire_a_different_command_under_the_same_description() -> None:
    calls = seq(
        ("Bash", {"command": "pytest tests/test_api.py -x", "description": "Run the tests"}, FAIL, True),
        ("Bash", {"command": "pytest tests/test_api.py -x -k refund", "description": "Run the tests"}, FAIL, True),
    )
    assert find_repeats(calls) == []


def test_the_key_ignores_the_description_in_json_text_too() -> None:
    first = make_call(1, "Bash", '{"command": "git status", "description": "Show status"}')
    again = make_call(2, "Bash", {"description": "Show the working tree", "command": "git status"})
    assert first.args_key == again.args_key
    assert make_call(3, "Bash", {"command": "git status", "timeout": 600000}).args_key != first.args_key

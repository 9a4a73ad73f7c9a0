"""Polling (check, wait, check again until the answer changes) is not a loop or a repeat; a real loop is."""

from __future__ import annotations

from datetime import timedelta

from monitors.audit.checks import find_long_polling, find_loops, find_repeats
from monitors.audit.config import ToolSequenceConfig
from monitors.audit.monitor import ToolSequenceMonitor
from monitors.audit.polling import find_polling
from monitors.contracts.findings import Finding, RunWindow, Severity
from monitors.contracts.monitor import RunContext
from monitors.contracts.records import Observation
from monitors.sources.replay import ReplaySource
from tests.audit.helpers import T0, seq

CI = ("get_ci_status", {"run": 812})
SLEEP = ("sleep", {"seconds": 30}, "")


def _ci(answer: str) -> tuple:
    return (*CI, f'{{"status": "{answer}"}}')


def _wasted(issues) -> list[int]:
    return sorted(s for i in issues for s in i.steps)


def test_polling_ci_with_sleeps_is_neither_a_loop_nor_a_repeat() -> None:
    calls = seq(
        ("checkout", {"branch": "fix"}), ("git_push", {"branch": "fix"}),
        _ci("pending"), SLEEP, _ci("pending"), SLEEP, _ci("pending"), SLEEP, _ci("success"),
        ("merge_pull_request", {"pr": 4}),
    )  # fmt: skip
    assert find_loops(calls) == []
    assert find_repeats(calls) == []


def test_polling_through_a_shell_sleep_is_waiting_too() -> None:
    calls = seq(
        _ci("running"), ("bash", {"command": "sleep 60"}, ""), _ci("running"),
        ("bash", {"command": "sleep 60"}, ""), _ci("running"), ("bash", {"command": "sleep 60"}, ""), _ci("failed"),
    )  # fmt: skip
    assert find_loops(calls) == [] and find_repeats(calls) == []


def test_the_same_answer_then_a_change_without_waiting_is_polling() -> None:
    calls = seq(("deploy", {"app": "web"}), _ci("queued"), _ci("queued"), _ci("queued"), _ci("done"))
    assert find_repeats(calls) == []


def test_must_still_fire_the_same_read_answering_the_same_with_nothing_between() -> None:
    calls = seq(("deploy", {"app": "web"}), _ci("queued"), _ci("queued"), _ci("queued"), _ci("queued"))
    assert _wasted(find_repeats(calls)) == [3, 4, 5]


def test_must_still_fire_reads_repeated_after_the_answer_stopped_changing() -> None:
    calls = seq(_ci("queued"), _ci("done"), _ci("done"), _ci("done"))
    assert _wasted(find_repeats(calls)) == [3, 4]


def test_must_still_fire_a_failing_command_redone_between_sleeps() -> None:
    # Not a read: re-running the same failing deploy with a pause between is a loop, not polling.
    calls = seq(*[("deploy", {"app": "web"}, "Error: quota exceeded", True), SLEEP] * 3)
    assert _wasted(find_loops(calls)) == [3, 4, 5, 6]


def test_must_still_fire_a_cycle_of_reads_that_never_changes() -> None:
    calls = seq(*[("read_file", {"path": "a.py"}, "x"), ("list_dir", {"path": "."}, "a.py")] * 3)
    assert _wasted(find_loops(calls)) == [3, 4, 5, 6]


def test_an_action_between_two_checks_ends_the_polling() -> None:
    # The edit could be why the answer changed: the rerun is judged by the repeat rules, not as polling.
    calls = seq(_ci("pending"), ("edit_file", {"path": "ci.yml"}), _ci("pending"), _ci("pending"))
    assert _wasted(find_repeats(calls)) == [3, 4]


def test_long_polling_is_an_info_note_with_its_count_and_span() -> None:
    calls = seq(*[_ci("pending"), SLEEP] * 39, _ci("success"), seconds=40)
    polling = find_polling(calls)
    assert find_loops(calls, polling=polling.steps) == [] and find_repeats(calls, polling=polling.steps) == []
    (note,) = find_long_polling(polling.runs, min_polls=20)
    assert note.check == "polling"
    assert note.detail == "polled get_ci_status 40 times over 52 min (the answer changed 1 time)"
    assert note.related == (1,) and len(note.steps) == 39
    assert find_long_polling(polling.runs, min_polls=41) == []


def test_waiting_tools_are_a_parameter() -> None:
    calls = seq(_ci("pending"), ("nap", {"s": 5}, ""), _ci("pending"), ("nap", {"s": 5}, ""), _ci("pending"))
    assert find_polling(calls).steps == frozenset()
    assert find_polling(calls, waiting_tools={"nap"}).steps == {2, 3, 4, 5}


def _observations(pairs: int) -> list[Observation]:
    """A CI run polled `pairs` times, a minute apart, a `sleep` between, the last answer `success`."""
    out = []
    for i in range(2 * pairs - 1):
        name, args, answer = ("get_ci_status", {"run": 812}, '{"status": "pending"}') if i % 2 == 0 else SLEEP
        if i == 2 * pairs - 2:
            answer = '{"status": "success"}'
        when = T0 + timedelta(seconds=30 * i)
        out.append(
            Observation(
                id=f"p{i}", trace_id="t", type="TOOL", start_time=when, end_time=when + timedelta(seconds=1),
                name=name, session_id="ci", trace_name="bot", input=args, output=answer,
            )
        )  # fmt: skip
    return out


def _audit(observations: list[Observation], config: dict | None = None) -> list[Finding]:
    window = RunWindow(T0, T0 + timedelta(days=1))
    ctx = RunContext(window=window, now=window.end, source=ReplaySource.from_observations(observations))
    return list(ToolSequenceMonitor(ToolSequenceConfig.model_validate(config or {})).run(ctx))


def test_the_monitor_sends_no_loop_for_polling_and_notes_long_polling_as_info() -> None:
    assert _audit(_observations(5)) == []
    (note,) = _audit(_observations(40))
    assert (note.kind, note.severity) == ("polling", Severity.INFO)
    assert "polled get_ci_status 40 times over 39 min" in note.summary
    assert _audit(_observations(40), {"polling": {"min_polls": 41}}) == []
    assert _audit(_observations(40), {"polling": {"enabled": False}}) == []

"""Sequence checks as pure functions: repeated calls, loops, error storms and runaway chains.

Each takes a session's ordered `ToolCall`s and returns `Issue`s naming the wasted steps. What is not
waste, and how it is told apart:
- a retry after an error: the earlier identical call failed, so trying again is reasonable, unless it
  fails again with the same answer;
- polling: the identical call returned a different output than last time, so it learned something
  (a long command still running, a status that changes), or a read checked again and again, with waits
  between or until its answer changes (monitors/audit/polling.py); polling without end is a note
  (`find_long_polling`), not a loop;
- the user asked to check again;
- re-reading after a change: a state-changing call in between that could touch what is read (a shell
  command, a write or move of the same path, an update of the same id) means the world may differ,
  e.g. listing a folder again after a rename. An unrelated change does not excuse a repeat.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from monitors.audit.operations import DEFAULT_OPERATIONS, READS, STATE_CHANGES, operation_of
from monitors.audit.polling import PollRun, find_polling
from monitors.audit.sequence import MESSAGE, ToolCall, duration_text
from monitors.audit.text import asks_again, soft_failure


@dataclass(frozen=True, slots=True)
class Issue:
    """One problem a check found: the wasted steps (1-based), the steps that explain them, a note."""

    check: str
    steps: tuple[int, ...]
    detail: str
    related: tuple[int, ...] = ()


def _changes_state(call: ToolCall, operations: dict[str, str]) -> bool:
    return call.is_action and operation_of(call.name, call.args, operations) in STATE_CHANGES


def _action_distance(calls: Sequence[ToolCall], i: int, j: int) -> int:
    # Replies and notes between two calls do not push them apart: a retry with a `think` in between
    # is as close as one without.
    return 1 + sum(1 for c in calls[i + 1 : j] if c.is_action)


def _within(calls: Sequence[ToolCall], i: int, j: int, *, steps: int, seconds: timedelta | None) -> bool:
    a, b = calls[i], calls[j]
    if seconds is not None and a.time is not None and b.time is not None:
        return (b.time - a.time) <= seconds
    return _action_distance(calls, i, j) <= steps


def _far_same_answer(
    calls: Sequence[ToolCall], i: int, j: int, *, steps: int | None, seconds: timedelta | None
) -> bool:
    """Outside the usual window, but an answer-for-answer rerun of a call that worked, `steps` actions
    apart at most: whatever it was for, the first answer already held it (untimed sessions only: with
    real times the time window decides)."""
    a, b = calls[i], calls[j]
    if steps is None or (seconds is not None and a.time is not None and b.time is not None):
        return False
    same = bool(a.output_key) and a.output_key == b.output_key
    return same and not a.is_error and _action_distance(calls, i, j) <= steps


def _user_asked_again(calls: Sequence[ToolCall], i: int, j: int) -> bool:
    # A reply in between whose answer (the user's next message) asks to look again.
    return any(c.role == MESSAGE and asks_again(c.output) for c in calls[i + 1 : j])


def _values(args: Any) -> set[str]:
    """The string and number leaves of a call's arguments (ids, paths, queries)."""
    if isinstance(args, Mapping):
        return {v for value in args.values() for v in _values(value)}
    if isinstance(args, list | tuple):
        return {v for value in args for v in _values(value)}
    if isinstance(args, str):
        return {args.strip()} if args.strip() else set()
    return {str(args)} if isinstance(args, int | float) and not isinstance(args, bool) else set()


def _touches(change: ToolCall, call: ToolCall, operations: dict[str, str]) -> bool:
    """Could `change` have altered what `call` reads or does?"""
    if operation_of(change.name, change.args, operations) == "exec":
        return True  # a shell command can change anything
    if operation_of(call.name, call.args, operations) in ("exec", "other"):
        return True  # re-running a command (the tests) after a change is how one checks the change
    ours, theirs = _values(call.args), _values(change.args)
    # Shared ids or paths, or one path inside the other (`ls src` after `mv src/a.py src/b.py`).
    return bool(ours & theirs) or any(t.startswith(o.rstrip("/") + "/") for o in ours for t in theirs)


def _excused_repeat(
    calls: Sequence[ToolCall], i: int, j: int, retries: int, allowed: int, operations: dict[str, str]
) -> bool:
    first, again = calls[i], calls[j]
    same_answer = bool(first.output_key) and first.output_key == again.output_key
    if first.is_error:
        # A retry after a (possibly transient) failure is fair, unless it fails the same way again:
        # then whatever happened in between evidently did not matter to it.
        return not (again.is_error and same_answer) or retries < allowed
    if any(_changes_state(c, operations) and _touches(c, again, operations) for c in calls[i + 1 : j]):
        return True  # the world it reads may have changed (an unrelated change does not count)
    if first.output_key and again.output_key and not same_answer:
        return True  # polling: the answer changed
    return _user_asked_again(calls, i, j)


def find_repeats(
    calls: Sequence[ToolCall],
    *,
    window_steps: int = 5,
    window_seconds: timedelta | None = timedelta(minutes=10),
    same_answer_steps: int | None = 20,
    allowed_retries: int = 0,
    ignore: Collection[str] = (),
    claimed: Collection[int] = (),
    operations: dict[str, str] = DEFAULT_OPERATIONS,
    polling: Collection[int] | None = None,
) -> list[Issue]:
    """The same tool with the same normalized arguments again within the window, learning nothing.

    Not waste: a repeat after a state-changing call that could have changed what it reads (a shell
    command, a change to the same id or path, or any change before re-running an action), a retry
    after a failure that then succeeds or fails differently (`allowed_retries` identical failures are
    also let through), a repeat whose answer changed (polling) and a repeat the user asked for. An
    unrelated change in between (cancelling one booking, then re-running a flight search) does not
    excuse it. `window_seconds` applies when both calls have real times, `window_steps` (counted
    in actions; replies and notes in between are not counted) otherwise; in untimed sessions a rerun
    that gets the very same answer as a call that worked counts up to `same_answer_steps` actions apart
    (a flight search re-run ten calls later, after cancelling another booking, to read prices it already
    had). Replies and notes are never repeats. Steps in `claimed` (already part of a loop) are not
    reported twice, and steps in `polling` (default: `find_polling` with `operations`) are polling.
    """
    polled = find_polling(calls, operations=operations).steps if polling is None else polling
    last: dict[tuple[str, str], int] = {}
    retries: dict[tuple[str, str], int] = {}
    wasted: dict[tuple[str, str], list[int]] = {}
    origin: dict[tuple[str, str], int] = {}
    for j, call in enumerate(calls):
        if not call.is_action:
            continue
        sig = call.signature
        i = last.get(sig)
        last[sig] = j
        if call.name in ignore or i is None:
            retries[sig] = 0
            continue
        if not (
            _within(calls, i, j, steps=window_steps, seconds=window_seconds)
            or _far_same_answer(calls, i, j, steps=same_answer_steps, seconds=window_seconds)
        ):
            retries[sig] = 0
            continue
        if _excused_repeat(calls, i, j, retries.get(sig, 0), allowed_retries, operations):
            retries[sig] = retries.get(sig, 0) + 1 if calls[i].is_error else 0
            continue
        if call.step in claimed or call.step in polled:
            continue
        wasted.setdefault(sig, []).append(call.step)
        origin.setdefault(sig, calls[i].step)
    return [
        Issue("repeat", tuple(steps), f"{sig[0]} called {len(steps) + 1}x with the same arguments", (origin[sig],))
        for sig, steps in wasted.items()
    ]


def _makes_progress(calls: Sequence[ToolCall], start: int, end: int, period: int) -> bool:
    # A cycle whose outputs change from one turn to the next is polling or paging, not a loop.
    changed = known = 0
    for k in range(start, end):
        a, b = calls[k - period], calls[k]
        if b.is_error or not (a.output_key and b.output_key):
            continue
        known += 1
        changed += a.output_key != b.output_key
    return known > 0 and changed * 2 >= known


def find_loops(
    calls: Sequence[ToolCall],
    *,
    min_cycles: int = 2,
    max_period: int = 4,
    ignore: Collection[str] = (),
    polling: Collection[int] | None = None,
) -> list[Issue]:
    """A cycle of 2..max_period distinct calls repeated at least `min_cycles` times (A B A B ...).

    The first turn of the cycle is useful work; every later turn is wasted. A cycle whose later turns are
    all polling (a status checked, a wait, checked again: `polling`, default `find_polling`) is not a loop.
    """
    polled = find_polling(calls).steps if polling is None else polling
    sigs = [c.signature if c.name not in ignore else ("", f"#{c.step}") for c in calls]
    claimed: set[int] = set()
    issues: list[Issue] = []
    for period in range(2, max_period + 1):
        k = period
        while k < len(sigs):
            if sigs[k] != sigs[k - period] or k in claimed:
                k += 1
                continue
            start = k
            while k < len(sigs) and sigs[k] == sigs[k - period] and k not in claimed:
                k += 1
            cycle = sigs[start - period : start]
            cycles = (k - start) // period + 1
            if len(set(cycle)) < 2 or cycles < min_cycles or _makes_progress(calls, start, k, period):
                continue
            if all(calls[s].step in polled for s in range(start, k)):
                continue
            claimed.update(range(start, k))
            names = " -> ".join(c.name for c in calls[start - period : start])
            issues.append(
                Issue(
                    "loop",
                    tuple(calls[s].step for s in range(start, k)),
                    f"cycle of {period} calls ({names}) repeated {cycles}x",
                    tuple(calls[s].step for s in range(start - period, start)),
                )
            )
    return issues


def find_long_polling(runs: Sequence[PollRun], *, min_polls: int = 20) -> list[Issue]:
    """Reads polled `min_polls` times or more: not waste to alert on, but worth a note in the report
    ("polled get_ci_status 40 times over 52 min"). The polls after the first are its steps."""
    issues = []
    for run in runs:
        if len(run.steps) < min_polls:
            continue
        span = f" over {duration_text(run.seconds)}" if run.seconds is not None else ""
        times = "time" if run.changes == 1 else "times"
        detail = f"polled {run.name} {len(run.steps)} times{span} (the answer changed {run.changes} {times})"
        issues.append(Issue("polling", run.steps[1:], detail, run.steps[:1]))
    return issues


def find_failure_runs(
    calls: Sequence[ToolCall],
    *,
    min_errors: int = 3,
    soft_patterns: Sequence[re.Pattern[str]] | None = None,
    operations: dict[str, str] = DEFAULT_OPERATIONS,
) -> list[Issue]:
    """`min_errors` or more failing calls with nothing but replies, notes and reads in between.

    A failure is a call marked as an error, or (with `soft_patterns`) a call whose answer starts like
    a failure although the tool reported success ("Could not find ...", "No results"). Replies, notes
    and reads with other tools do not end a run: looking at something between two failures fixes
    nothing. A successful call that changes state does, and so does a success of a tool that failed.
    The first failure is information, the rest waste. A run of marked errors only is an
    `error_storm`; a run with soft failures in it is a `soft_failure`.
    """
    patterns = soft_patterns or ()
    issues: list[Issue] = []
    run: list[ToolCall] = []

    def close() -> None:
        if len(run) >= min_errors:
            kind = "error_storm" if all(c.is_error for c in run) else "soft_failure"
            tools = sorted({c.name for c in run})
            what = "failing calls" if kind == "error_storm" else "calls that failed or found nothing"
            issues.append(
                Issue(kind, tuple(c.step for c in run[1:]), f"{len(run)} {what} ({', '.join(tools)})", (run[0].step,))
            )
        run.clear()

    for call in calls:
        if not call.is_action:
            continue
        if call.is_error or soft_failure(call.output, patterns):
            run.append(call)
        elif operation_of(call.name, call.args, operations) not in READS or call.name in {c.name for c in run}:
            close()  # it changed something, or the tool that kept failing now works
    close()
    return issues


def find_error_storms(calls: Sequence[ToolCall], *, min_errors: int = 3) -> list[Issue]:
    """Marked failures only (no soft-failure patterns): runs of `min_errors` or more."""
    return find_failure_runs(calls, min_errors=min_errors)


def find_runaway(
    count: int, *, limit: int = 100, usual: float | None = None, factor: float = 3.0, min_excess: int = 10
) -> Issue | None:
    """More tool calls than `limit`, or more than `factor` x the agent's usual count."""
    if count > limit:
        return Issue("runaway", tuple(range(limit + 1, count + 1)), f"{count} tool calls, limit {limit}")
    if usual is not None and usual > 0 and count > factor * usual and count - usual >= min_excess:
        base = round(usual)
        return Issue(
            "runaway",
            tuple(range(base + 1, count + 1)),
            f"{count} tool calls, {count / usual:.1f}x this agent's usual {usual:g}",
        )
    return None

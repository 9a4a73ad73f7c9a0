"""Sequence checks as pure functions: repeated calls, loops, error storms and runaway chains.

Each takes a session's ordered `ToolCall`s and returns `Issue`s naming the wasted steps. What is not
waste, and how it is told apart:
- a retry after an error: the earlier identical call failed, so trying again is reasonable (up to
  `allowed_retries` times in a row);
- polling: the identical call returned a different output than last time, so it learned something
  (a long command still running, a status that changes);
- re-reading after a change: any state-changing call in between (write, edit, move, delete, a shell
  command, an update) means the world may differ, e.g. listing a folder again after a rename.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import timedelta

from monitors.audit.operations import DEFAULT_OPERATIONS, STATE_CHANGES, operation_of
from monitors.audit.sequence import ToolCall


@dataclass(frozen=True, slots=True)
class Issue:
    """One problem a check found: the wasted steps (1-based), the steps that explain them, a note."""

    check: str
    steps: tuple[int, ...]
    detail: str
    related: tuple[int, ...] = ()


def _changes_state(call: ToolCall, operations: dict[str, str]) -> bool:
    return operation_of(call.name, call.args, operations) in STATE_CHANGES


def _within(a: ToolCall, b: ToolCall, *, steps: int, seconds: timedelta | None) -> bool:
    if seconds is not None and a.time is not None and b.time is not None:
        return (b.time - a.time) <= seconds
    return b.step - a.step <= steps


def _excused_repeat(
    calls: Sequence[ToolCall], i: int, j: int, retries: int, allowed: int, operations: dict[str, str]
) -> bool:
    first, again = calls[i], calls[j]
    if first.is_error and retries < allowed:
        return True  # a retry after a (possibly transient) failure
    if first.output_key and again.output_key and first.output_key != again.output_key:
        return True  # polling: the answer changed
    return any(_changes_state(c, operations) for c in calls[i + 1 : j])


def find_repeats(
    calls: Sequence[ToolCall],
    *,
    window_steps: int = 5,
    window_seconds: timedelta | None = timedelta(minutes=10),
    allowed_retries: int = 2,
    ignore: Collection[str] = (),
    claimed: Collection[int] = (),
    operations: dict[str, str] = DEFAULT_OPERATIONS,
) -> list[Issue]:
    """The same tool with the same normalized arguments again within the window, learning nothing.

    `window_seconds` applies when both calls have real times, `window_steps` otherwise. Steps in
    `claimed` (already part of a loop) are not reported twice.
    """
    last: dict[tuple[str, str], int] = {}
    retries: dict[tuple[str, str], int] = {}
    wasted: dict[tuple[str, str], list[int]] = {}
    origin: dict[tuple[str, str], int] = {}
    for j, call in enumerate(calls):
        sig = call.signature
        i = last.get(sig)
        last[sig] = j
        if call.name in ignore or i is None:
            retries[sig] = 0
            continue
        if not _within(calls[i], call, steps=window_steps, seconds=window_seconds):
            retries[sig] = 0
            continue
        if _excused_repeat(calls, i, j, retries.get(sig, 0), allowed_retries, operations):
            retries[sig] = retries.get(sig, 0) + 1 if calls[i].is_error else 0
            continue
        if call.step in claimed:
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
) -> list[Issue]:
    """A cycle of 2..max_period distinct calls repeated at least `min_cycles` times (A B A B ...).

    The first turn of the cycle is useful work; every later turn is wasted.
    """
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


def find_error_storms(calls: Sequence[ToolCall], *, min_errors: int = 3) -> list[Issue]:
    """`min_errors` or more failing calls in a row; the first failure is information, the rest waste."""
    issues: list[Issue] = []
    run: list[ToolCall] = []
    for call in [*calls, None]:
        if call is not None and call.is_error:
            run.append(call)
            continue
        if len(run) >= min_errors:
            tools = sorted({c.name for c in run})
            issues.append(
                Issue(
                    "error_storm",
                    tuple(c.step for c in run[1:]),
                    f"{len(run)} failing calls in a row ({', '.join(tools)})",
                    (run[0].step,),
                )
            )
        run = []
    return issues


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

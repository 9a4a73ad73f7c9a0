"""Polling: an agent checking a status, waiting, and checking again until the answer changes.

Agents poll CI runs, deployments and job queues; the same read with the same arguments, over and over,
is then not a repeat or a loop but waiting. What tells them apart is the answer and the waiting:

- A *stretch* is a run of actions that are all reads (the READS operations: `get_`, `list_`,
  `check_`, `read_file`, ...) or waiting calls; replies and notes between them do not end it, any
  other action does (a change, a command, an edit: what the agent did could be why an answer changed,
  and the repeat rules judge the reads around it).
- Within a stretch, a successful read with the same arguments as an earlier one is a *poll*. A poll is
  polling when a waiting call came between it and the previous poll of the same read (the agent paced
  its checks), or when the read's answer changes at that poll or at a later one of the stretch (the
  answers stayed the same, then changed: the status it waited for moved).
- The waiting calls of a stretch with polling in it are part of the polling.

Still waste: the same read answering the same thing over and over with nothing between, or after its
answer stopped changing; a command or an edit re-done with pauses between (not a read). Polling without
end is bounded by a note, not an alert (`checks.find_long_polling`).

Waiting calls: a tool named in WAITING_TOOLS, or a shell command that is nothing but `sleep N`.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from monitors.audit.operations import DEFAULT_OPERATIONS, READS, operation_of
from monitors.audit.sequence import ToolCall

# Tools that only wait; a tool that waits *for* something and answers with it (`wait_for_job`) is a read.
WAITING_TOOLS = frozenset({"sleep", "wait", "pause", "delay"})
_SHELL_SLEEP = re.compile(r"^\s*sleep\s+\d+(?:\.\d+)?[smhd]?\s*;?\s*$")
_SHELL_ARGS = ("command", "cmd", "script")


@dataclass(frozen=True, slots=True)
class PollRun:
    """One read polled within a stretch: its tool name, every poll's step, the polls that were polling
    (never the first), how often the answer changed, and seconds from first to last poll (None untimed)."""

    name: str
    steps: tuple[int, ...]
    polling: tuple[int, ...]
    changes: int
    seconds: float | None


@dataclass(frozen=True, slots=True)
class Polling:
    """The polled reads of a session and every step that is polling (polls and their waits)."""

    runs: tuple[PollRun, ...] = ()
    steps: frozenset[int] = frozenset()


def is_waiting(
    call: ToolCall, operations: Mapping[str, str] = DEFAULT_OPERATIONS, waiting_tools: Collection[str] = WAITING_TOOLS
) -> bool:
    """A call that only waits: a waiting tool, or a shell command that is just `sleep N`."""
    if call.name.strip().lower() in {t.lower() for t in waiting_tools}:
        return True
    if operation_of(call.name, call.args, operations) != "exec":
        return False
    args = call.args
    if isinstance(args, Mapping):
        args = next((args[k] for k in _SHELL_ARGS if isinstance(args.get(k), str)), None)
    return isinstance(args, str) and bool(_SHELL_SLEEP.match(args))


def _runs(stretch: Sequence[ToolCall], waiting: set[int]) -> list[PollRun]:
    polls: dict[tuple[str, str], list[tuple[ToolCall, bool]]] = {}  # signature -> (poll, waited before it)
    waited: dict[tuple[str, str], bool] = {}
    for call in stretch:
        if call.step in waiting:
            waited = dict.fromkeys(waited, True)
        elif not call.is_error:
            polls.setdefault(call.signature, []).append((call, waited.get(call.signature, False)))
            waited[call.signature] = False
    runs = []
    for found in polls.values():
        keys = [c.output_key for c, _ in found]
        changed = [k for k in range(1, len(keys)) if keys[k] and keys[k - 1] and keys[k] != keys[k - 1]]
        last_change = changed[-1] if changed else 0
        polling = tuple(c.step for k, (c, w) in enumerate(found) if k and (w or k <= last_change))
        if polling:
            first, last = found[0][0], found[-1][0]
            seconds = (last.time - first.time).total_seconds() if first.time and last.time else None
            runs.append(PollRun(first.name, tuple(c.step for c, _ in found), polling, len(changed), seconds))
    return runs


def find_polling(
    calls: Sequence[ToolCall],
    *,
    operations: Mapping[str, str] = DEFAULT_OPERATIONS,
    waiting_tools: Collection[str] = WAITING_TOOLS,
) -> Polling:
    """Every polled read of the session and the steps that are polling, not waste."""
    runs: list[PollRun] = []
    steps: set[int] = set()
    stretch: list[ToolCall] = []
    waiting: set[int] = set()

    def close() -> None:
        found = _runs(stretch, waiting)
        if found:
            runs.extend(found)
            steps.update(s for run in found for s in run.polling)
            steps.update(c.step for c in stretch if c.step in waiting)
        stretch.clear()

    for call in calls:
        if not call.is_action:
            continue
        if is_waiting(call, operations, waiting_tools):
            waiting.add(call.step)
        elif operation_of(call.name, call.args, operations) not in READS:
            close()
            continue
        stretch.append(call)
    close()
    return Polling(tuple(runs), frozenset(steps))

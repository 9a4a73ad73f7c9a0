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

Waiting calls: a tool named in WAITING_TOOLS, or a shell command that only sleeps. Status checks
through the shell count as reads (monitors/audit/shell.py): `gh run view 812`, `kubectl get pods`,
`git status`, `curl .../status` (`polling.status_commands`), also under `timeout`, `watch`, `bash -c`
or after `sleep 30 &&`; one that sleeps or blocks by itself (`gh run watch`) has waited before each
check. A status command's failure is an answer too (`gh pr checks` exits non-zero while checks are
pending), so for these the failing checks are polls as well.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from monitors.audit.operations import DEFAULT_OPERATIONS, READS, operation_of
from monitors.audit.sequence import ToolCall
from monitors.audit.shell import DEFAULT_STATUS, SHELL_TOOLS, ShellRead, StatusCommands, command_of, read_shell

# Tools that only wait; a tool that waits *for* something and answers with it (`wait_for_job`) is a read.
WAITING_TOOLS = frozenset({"sleep", "wait", "pause", "delay"})
WAIT, READ, PACED_READ, OTHER = "wait", "read", "paced read", "other"


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


def shell_read(call: ToolCall, operations: Mapping[str, str], status: StatusCommands) -> ShellRead | None:
    """What a call's shell command does, when it runs one that only waits or checks a status."""
    shell_tool = call.name.strip().lower() in SHELL_TOOLS or operation_of(call.name, call.args, operations) == "exec"
    command = command_of(call.name, call.args, shell_tool=shell_tool)
    return read_shell(command, status) if command else None


def kind_of(
    call: ToolCall,
    operations: Mapping[str, str] = DEFAULT_OPERATIONS,
    waiting_tools: Collection[str] = WAITING_TOOLS,
    status: StatusCommands = DEFAULT_STATUS,
) -> str:
    """WAIT, READ, PACED_READ (a status check that waited too) or OTHER, for polling."""
    if call.name.strip().lower() in {t.lower() for t in waiting_tools}:
        return WAIT
    if operation_of(call.name, call.args, operations) in READS:
        return READ
    found = shell_read(call, operations, status)
    if found is None:
        return OTHER
    if not found.status:
        return WAIT
    return PACED_READ if found.waits else READ


def is_waiting(
    call: ToolCall, operations: Mapping[str, str] = DEFAULT_OPERATIONS, waiting_tools: Collection[str] = WAITING_TOOLS
) -> bool:
    """A call that only waits: a waiting tool, or a shell command that only sleeps."""
    return kind_of(call, operations, waiting_tools) == WAIT


def _runs(stretch: Sequence[ToolCall], waiting: set[int], paced: set[int], shell: set[int]) -> list[PollRun]:
    polls: dict[tuple[str, str], list[tuple[ToolCall, bool]]] = {}  # signature -> (poll, waited before it)
    waited: dict[tuple[str, str], bool] = {}
    for call in stretch:
        if call.step in waiting:
            waited = dict.fromkeys(waited, True)
        elif not call.is_error or call.step in shell:
            before = waited.get(call.signature, False) or call.step in paced
            polls.setdefault(call.signature, []).append((call, before))
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
    status: StatusCommands = DEFAULT_STATUS,
) -> Polling:
    """Every polled read of the session and the steps that are polling, not waste."""
    runs: list[PollRun] = []
    steps: set[int] = set()
    stretch: list[ToolCall] = []
    waiting: set[int] = set()
    paced: set[int] = set()  # status checks that waited themselves (`sleep 30 && gh run view 812`)
    shell: set[int] = set()  # status checks run through the shell

    def close() -> None:
        found = _runs(stretch, waiting, paced, shell)
        if found:
            runs.extend(found)
            steps.update(s for run in found for s in run.polling)
            steps.update(c.step for c in stretch if c.step in waiting)
        stretch.clear()

    for call in calls:
        if not call.is_action:
            continue
        kind = kind_of(call, operations, waiting_tools, status)
        if kind == OTHER:
            close()
            continue
        if kind == WAIT:
            waiting.add(call.step)
        elif operation_of(call.name, call.args, operations) not in READS:
            shell.add(call.step)
            if kind == PACED_READ:
                paced.add(call.step)
        stretch.append(call)
    close()
    return Polling(tuple(runs), frozenset(steps))

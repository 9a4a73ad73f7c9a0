"""Backtracking: a call that contradicts the previous operation on the same resource.

Flagged (the later step is the wasted one):
- using a resource right after deleting it (read, stat, edit after a successful delete);
- undoing an edit: an explicit undo, an edit that swaps back the previous edit's old/new text, or a
  write of the content the previous write replaced;
- deleting a file right after creating it, with nothing in between that could have used it.

- redoing what it undid: a state-changing call repeated with the same arguments after a successful
  cancel/delete/undo in between (book, cancel, book the same flights again).

Not flagged: anything after a *failed* operation (the agent is right to look again), reading a file
right after writing it (checking the write undoes nothing: docs/audit-rubric.md), listing a folder
after a move or rename (the listing changed), and cleaning up a helper file at the end of a session.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from monitors.audit.checks import Issue
from monitors.audit.operations import (
    DEFAULT_IMPLICIT_RESOURCE_TOOLS,
    DEFAULT_OPERATIONS,
    DEFAULT_RESOURCE_ARGS,
    STATE_CHANGES,
    operation_of,
    resource_of,
    same_resource,
)
from monitors.audit.sequence import ToolCall, excerpt

_LINE_RANGE = re.compile(r"^\d+(:\d+)?$")


@dataclass(frozen=True, slots=True)
class _Op:
    index: int
    op: str
    ok: bool
    args: Any
    replaced: str | None = None  # for a write: the content the previous write had put there, when known


_CONTENT_ARGS = ("content", "file_text", "text", "contents")


def _content(args: Any) -> str | None:
    if isinstance(args, Mapping):
        return next((args[k] for k in _CONTENT_ARGS if isinstance(args.get(k), str)), None)
    return None


def _swapped(a: Any, b: Any) -> bool:
    """True when edit `b` replaces exactly what edit `a` inserted with what it removed."""
    if not (isinstance(a, Mapping) and isinstance(b, Mapping)):
        return False
    old_a, new_a = a.get("old_str"), a.get("new_str")
    old_b, new_b = b.get("old_str"), b.get("new_str")
    return isinstance(old_a, str) and isinstance(new_a, str) and old_a != new_a and (old_b, new_b) == (new_a, old_a)


class _Resources:
    """Last operation per resource, matched loosely (`/repo/x.py` is `x.py`)."""

    def __init__(self) -> None:
        self._by_base: dict[str, dict[str, _Op]] = {}

    def last(self, resource: str) -> _Op | None:
        for name, op in self._by_base.get(resource.rsplit("/", 1)[-1], {}).items():
            if same_resource(name, resource):
                return op
        return None

    def record(self, resource: str, op: _Op) -> None:
        bucket = self._by_base.setdefault(resource.rsplit("/", 1)[-1], {})
        for name in [n for n in bucket if same_resource(n, resource)]:
            del bucket[name]
        bucket[resource] = op


def _resource(call: ToolCall, current: str | None, names: tuple[str, ...], implicit: Collection[str]) -> str | None:
    found = resource_of(call.args, names)
    if call.name.lower() in implicit and (found is None or _LINE_RANGE.match(found) or isinstance(call.args, str)):
        return current
    return found


def _contradiction(prev: _Op, op: str, j: int, call: ToolCall, reread_gap: int) -> str | None:
    if not prev.ok:
        return None
    if prev.op == "delete" and op in ("read", "stat", "edit"):
        return "used after deleting it"
    if prev.op == "write" == op and prev.replaced is not None:
        content = _content(call.args)
        if content == prev.replaced and content != _content(prev.args):
            return "wrote back the content it had replaced"
    if op == "undo":
        return "undid the previous edit"
    if prev.op == "edit" and op == "edit" and _swapped(prev.args, call.args):
        return "reverted the previous edit"
    if prev.op in ("create", "write") and op == "delete" and j - prev.index <= reread_gap:
        return "deleted right after creating it"
    return None


def find_backtracking(
    calls: Sequence[ToolCall],
    *,
    operations: Mapping[str, str] = DEFAULT_OPERATIONS,
    resource_args: tuple[str, ...] = DEFAULT_RESOURCE_ARGS,
    implicit_tools: Collection[str] = DEFAULT_IMPLICIT_RESOURCE_TOOLS,
    reread_gap: int = 1,
) -> list[Issue]:
    """Steps whose operation contradicts the previous one on the same resource. `reread_gap`: a delete
    at most this many steps after creating the file is backtracking."""
    table = {k.lower(): v for k, v in operations.items()}
    implicit = {t.lower() for t in implicit_tools}
    seen = _Resources()
    current: str | None = None  # the file the agent has open, for editor tools that name none
    issues: list[Issue] = []
    for j, call in enumerate(calls):
        op = operation_of(call.name, call.args, table)
        resource = _resource(call, current, resource_args, implicit)
        if resource is None or op in ("other", "exec", "mutate"):
            continue
        prev = seen.last(resource)
        why = _contradiction(prev, op, j, call, reread_gap) if prev is not None else None
        if why is not None and prev is not None:
            detail = f"{call.name} {excerpt(resource, 60)}: {why} (step {calls[prev.index].step})"
            issues.append(Issue("backtrack", (call.step,), detail, (calls[prev.index].step,)))
        replaced = _content(prev.args) if prev is not None and prev.op == op == "write" and prev.ok else None
        seen.record(resource, _Op(j, op, not call.is_error, call.args, replaced))
        if op in ("read", "create", "write") and not call.is_error:
            current = resource
    return issues


_UNDO_NAME = re.compile(r"^(cancel|delete|remove|undo|revert|rollback|void)(_|$)", re.IGNORECASE)


def find_redone(calls: Sequence[ToolCall], *, operations: Mapping[str, str] = DEFAULT_OPERATIONS) -> list[Issue]:
    """A successful state change done again, same arguments, after a successful undo in between.

    The undo and the redo are the wasted steps. A single "change, then cancel" is not flagged: users
    ask for that (upgrade a ticket so that it can be refunded, then cancel it).
    """
    table = {k.lower(): v for k, v in operations.items()}
    done: dict[tuple[str, str], int] = {}  # signature -> index of its last success
    issues: list[Issue] = []
    for j, call in enumerate(calls):
        if not call.is_action or call.is_error:
            continue
        op = operation_of(call.name, call.args, table)
        if op not in STATE_CHANGES or op == "exec":
            continue
        first = done.get(call.signature)
        undo = (
            next(
                (
                    c
                    for c in calls[first + 1 : j]
                    if c.is_action
                    and not c.is_error
                    and (_UNDO_NAME.match(c.name) or operation_of(c.name, c.args, table) in ("delete", "undo"))
                ),
                None,
            )
            if first is not None
            else None
        )
        if first is not None and undo is not None:
            detail = (
                f"{call.name} redone at step {call.step} after {undo.name} (step {undo.step}) "
                f"undid step {calls[first].step}"
            )
            issues.append(Issue("backtrack", (undo.step, call.step), detail, (calls[first].step,)))
        done[call.signature] = j
    return issues

"""What a tool call does to which resource: the map behind the backtracking check.

A tool name maps to an operation (read, list, stat, search, write, create, edit, delete, move, undo,
exec, mutate). Tools with a sub-command argument (OpenHands' `str_replace_editor` with `command`) are
looked up as `tool:command` first. Names missing from the map are classified by their leading verb
(`get_`, `list_`, `update_`, `cancel_`, ...), which is enough to know whether a call changed state;
only the explicit file-like operations take part in backtracking.

The resource is the first of the configured argument names present in a dict input (`path`,
`file_path`, ...), or the first word of a string input (`open "/x.py" 100` -> `/x.py`). Tools that act
on the file the agent has open (SWE-agent's `edit 5:7 ...`) inherit the last opened or created file.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from collections.abc import Mapping
from typing import Any

READS = frozenset({"read", "list", "stat", "search"})
FILE_WRITES = frozenset({"write", "create", "edit"})
# Operations after which a repeated read is not waste: the world may have changed.
STATE_CHANGES = frozenset({"write", "create", "edit", "delete", "move", "undo", "exec", "mutate"})

DEFAULT_OPERATIONS: dict[str, str] = {
    # reads
    "read_file": "read", "open": "read", "open_file": "read", "cat": "read", "view": "read",
    "view_file": "read", "head": "read", "tail": "read", "less": "read", "goto": "read",
    "str_replace_editor:view": "read", "read": "read",
    "ls": "list", "list_dir": "list", "list_files": "list", "list_directory": "list", "tree": "list",
    "stat": "stat", "file": "stat", "exists": "stat",
    "find_file": "search", "search_file": "search", "search_dir": "search", "grep": "search",
    # pure computation changes nothing: a sum between two failed bookings does not end a failure run
    "calculate": "read", "calculator": "read",
    # writes
    "write_file": "write", "write": "write", "create": "create", "create_file": "create",
    "touch": "create", "str_replace_editor:create": "create",
    "edit": "edit", "edit_file": "edit", "insert": "edit", "str_replace": "edit", "apply_patch": "edit",
    "str_replace_editor:str_replace": "edit", "str_replace_editor:insert": "edit",
    "undo_edit": "undo", "str_replace_editor:undo_edit": "undo",
    "delete": "delete", "delete_file": "delete", "rm": "delete", "remove": "delete", "unlink": "delete",
    "mv": "move", "move": "move", "rename": "move", "move_file": "move",
    # commands that may change anything
    "python": "exec", "python3": "exec", "bash": "exec", "execute_bash": "exec", "sh": "exec",
    "run": "exec", "pip": "exec", "make": "exec", "pytest": "exec", "execute_command": "exec",
}  # fmt: skip

DEFAULT_RESOURCE_ARGS: tuple[str, ...] = (
    "path", "file_path", "filepath", "file", "filename", "file_name", "target", "dir", "directory",
)  # fmt: skip

# Tools that act on the currently open file when they name none (SWE-agent's editor commands).
DEFAULT_IMPLICIT_RESOURCE_TOOLS: tuple[str, ...] = ("edit", "insert", "goto", "scroll_up", "scroll_down")

_VERBS: tuple[tuple[str, str], ...] = (
    (r"^(get|read|fetch|list|search|find|lookup|look_up|view|show|query|describe|check)(_|$)", "read"),
    (
        r"^(update|set|create|add|insert|delete|remove|cancel|book|send|write|modify|transfer|post|put|"
        r"submit|apply|purchase|refund|exchange|return)(_|$)",
        "mutate",
    ),
)


def _command(args: Any) -> str | None:
    if isinstance(args, Mapping):
        value = args.get("command")
        if isinstance(value, str) and value and " " not in value.strip():
            return value.strip()
    return None


def operation_of(name: str, args: Any, table: Mapping[str, str] = DEFAULT_OPERATIONS) -> str:
    """The operation a call performs ("other" when nothing is known)."""
    lowered = name.strip().lower()
    sub = _command(args)
    if sub and f"{lowered}:{sub.lower()}" in table:
        return table[f"{lowered}:{sub.lower()}"]
    if lowered in table:
        return table[lowered]
    for pattern, op in _VERBS:
        if re.match(pattern, lowered):
            return op
    return "other"


def _first_word(text: str) -> str | None:
    try:
        words = shlex.split(text, posix=True)
    except ValueError:
        words = text.split()
    for word in words:
        if not word.startswith("-"):
            return word
    return None


def normalize_resource(value: str) -> str:
    text = value.strip().strip("'\"")
    if not text:
        return ""
    return posixpath.normpath(text).removeprefix("./")


def resource_of(args: Any, names: tuple[str, ...] = DEFAULT_RESOURCE_ARGS) -> str | None:
    """The file or folder a call acts on, or None when the arguments do not say."""
    if isinstance(args, Mapping) and set(args) <= {"args", "kwargs"} and isinstance(args.get("kwargs"), Mapping):
        args = args["kwargs"] or {"_": (args.get("args") or [None])[0]}
    if isinstance(args, Mapping):
        for key in names:
            value = args.get(key)
            if isinstance(value, str) and value.strip():
                return normalize_resource(value) or None
        return None
    if isinstance(args, str) and args.strip():
        first = _first_word(args.strip().splitlines()[0])
        return normalize_resource(first) if first else None
    return None


def same_resource(a: str, b: str) -> bool:
    """Equal paths, or one is the other with a leading directory (`/repo/x.py` and `x.py`)."""
    return a == b or a.endswith("/" + b) or b.endswith("/" + a)

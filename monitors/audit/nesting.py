"""Bound how deep a tool's arguments or answer nest before the audit recurses into them.

The observation parser accepts JSON nested nearly a thousand levels deep (a syntax tree, a schema, a
hostile tool), and every recursive walk after it (pickling into the spool, canonical arguments, the
words of an answer) would stop with RecursionError and fail the whole run, every run, while the session
is in the lookback. A value deeper than MAX_NESTING is replaced by its text, written without recursion:
the checks compare and quote it as they do any long string.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

# Deeper than any real tool call nests; each level costs a walker two or three stack frames, so this
# stays far below Python's limit of 1000.
MAX_NESTING = 50


def shallow(value: Any, depth: int = MAX_NESTING) -> bool:
    """No deeper than `depth` levels of containers, checked level by level without recursion."""
    level: list[Any] = [value]
    for _ in range(depth):
        level = [
            child
            for item in level
            for child in (
                item.values() if isinstance(item, Mapping) else item if isinstance(item, list | tuple) else ()
            )
            if isinstance(child, Mapping | list | tuple)
        ]
        if not level:
            return True
    return False


class _Raw(str):
    """A piece of JSON syntax on the walker's stack, not a string value to encode."""


def deep_text(value: Any) -> str:
    """`value` as compact JSON text with sorted keys, built with an explicit stack (any depth)."""
    out: list[str] = []
    stack: list[Any] = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, _Raw):
            out.append(item)
        elif isinstance(item, Mapping):
            pairs = sorted(item.items(), key=lambda kv: str(kv[0]))
            stack.append(_Raw("}"))
            for n in range(len(pairs) - 1, -1, -1):
                stack += [pairs[n][1], _Raw(json.dumps(str(pairs[n][0]), ensure_ascii=False) + ":")]
                if n:
                    stack.append(_Raw(","))
            stack.append(_Raw("{"))
        elif isinstance(item, list | tuple):
            stack.append(_Raw("]"))
            for n in range(len(item) - 1, -1, -1):
                stack.append(item[n])
                if n:
                    stack.append(_Raw(","))
            stack.append(_Raw("["))
        else:
            out.append(json.dumps(item, ensure_ascii=False, default=str))
    return "".join(out)


def bounded(value: Any) -> Any:
    """`value` itself, or its text when it nests deeper than MAX_NESTING."""
    if not isinstance(value, Mapping | list | tuple) or shallow(value):
        return value
    return deep_text(value)

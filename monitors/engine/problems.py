"""Pydantic validation errors as `dotted.path: reason` lines, with "did you mean" for a mistyped key."""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from typing import Any, get_args

from pydantic import BaseModel, ValidationError


def pydantic_problems(exc: ValidationError, prefix: str = "", model: type[BaseModel] | None = None) -> Iterator[str]:
    for err in exc.errors():
        parts = [p for p in err["loc"] if p not in ("function-after", "function-before")]
        loc = ".".join(str(p) for p in parts)
        where = ".".join(p for p in (prefix, loc) if p) or "(top level)"
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key" + did_you_mean(str(parts[-1]), _keys_at(model, parts[:-1]))
        yield f"{where}: {msg}"


def did_you_mean(key: str, valid: list[str]) -> str:
    close = difflib.get_close_matches(key, valid, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _keys_at(model: type[BaseModel] | None, path: list[Any]) -> list[str]:
    """The keys the model nested at `path` accepts (list indexes step into the list's item model)."""
    current = model
    for part in path:
        if current is None:
            return []
        if isinstance(part, int):
            continue
        field = current.model_fields.get(part)
        current = _inner_model(field.annotation) if field is not None else None
    if current is None:
        return []
    return [name for name, field in current.model_fields.items() if not field.exclude]


def _inner_model(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model inside an annotation such as `Route | None` or `list[Budget]`."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _inner_model(arg)
        if found is not None:
            return found
    return None

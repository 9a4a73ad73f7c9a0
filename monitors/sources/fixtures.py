"""Offline forge fixtures (the demo's merge and pull requests, air-gapped replays): one reader for both."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from monitors.contracts.errors import SourceError


def read_fixture(path: str | Path | None, data: Mapping[str, Any] | None, *, forge: str, key: str) -> Mapping[str, Any]:
    """The `key` table of a fixture given as a file or as data already loaded; SourceError when unusable."""
    if data is None:
        if path is None:
            raise ValueError("give path or data")
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise SourceError(f"cannot read {forge} fixture {path}: {type(exc).__name__}: {exc}") from exc
    table = data.get(key) if isinstance(data, Mapping) else None
    if not isinstance(table, Mapping):
        raise SourceError(f"{forge} fixture {path or '<data>'}: expected an object with {key!r}")
    return table

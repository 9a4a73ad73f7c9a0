"""Opening export and score files for a replay: plain or gzipped JSON lines, read defensively."""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path
from typing import IO

from monitors.contracts.errors import SourceError


def require_utf8(line: str) -> None:
    """Raise ValueError for a line read with surrogateescape that held bytes which are not UTF-8."""
    try:
        line.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("not UTF-8 text") from None


def open_text(path: Path) -> IO[str]:
    # surrogateescape: a line that is not UTF-8 is read, then counted as malformed, instead of ending
    # the whole read with a UnicodeDecodeError. utf-8-sig: a file saved with a byte order mark (some
    # Windows editors, PowerShell) keeps its first row.
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8-sig", errors="surrogateescape")
    return path.open("r", encoding="utf-8-sig", errors="surrogateescape")


def damaged(what: str, path: Path, exc: zlib.error) -> SourceError:
    return SourceError(f"cannot read {what} {path}: the compressed data is damaged ({exc})")

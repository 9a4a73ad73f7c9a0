"""Export observations to a file that `--source FILE` replays: `run-monitor export --since 7d -o FILE`.

One Observations v2 row per line (`observation_to_row`), gzip-compressed when the path ends in `.gz`.
Rows are streamed from the source to a private temporary file (0600, never through a planted symlink:
monitors.support.files) that replaces the target only when complete, so an interrupted export never
leaves a half-written file behind under the real name.
"""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path
from typing import IO

from monitors.contracts.findings import RunWindow
from monitors.contracts.records import observation_to_row
from monitors.contracts.source import ObservationQuery, TraceSource
from monitors.support.files import private_file

# Everything a monitor or the weekly report may read, so a replay can stand in for a live run.
EXPORT_FIELDS = frozenset({"core", "basic", "io", "metadata", "model", "usage", "trace_context"})


def _text(handle: IO[bytes], *, compressed: bool) -> IO[str]:
    if compressed:
        return gzip.open(handle, "wt", encoding="utf-8")
    return io.TextIOWrapper(handle, encoding="utf-8")


def export_observations(
    source: TraceSource,
    window: RunWindow,
    path: str | Path,
    *,
    fields: frozenset[str] = EXPORT_FIELDS,
    expand_metadata: tuple[str, ...] = (),
) -> int:
    """Write every observation in `window` to `path`; return how many were written."""
    target = Path(path)
    query = ObservationQuery(window=window, fields=fields, expand_metadata=expand_metadata)
    compressed = target.name.endswith(".gz")
    if target.exists() and not target.is_file() and not target.is_symlink():
        # /dev/null (a dry run), a pipe or a terminal: write straight through, never replace it.
        with target.open("wb") as raw, _text(raw, compressed=compressed) as fh:
            return _write_rows(source, query, fh)
    with private_file(target) as raw:
        text = _text(raw, compressed=compressed)
        written = _write_rows(source, query, text)
        text.flush()
        if compressed:
            text.close()  # writes the gzip trailer; the raw handle stays open for private_file
        else:
            text.detach()
    return written


def _write_rows(source: TraceSource, query: ObservationQuery, fh: IO[str]) -> int:
    written = 0
    for obs in source.observations(query):
        fh.write(json.dumps(observation_to_row(obs), ensure_ascii=False, default=str))
        fh.write("\n")
        written += 1
    return written

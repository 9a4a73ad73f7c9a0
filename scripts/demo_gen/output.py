"""Writing the demo files byte for byte the same on every run.

Rows are sorted by (startTime, traceId, id), serialised with fixed separators, and gzipped with
mtime 0 and no file name in the header, so the bytes depend only on the generator's code.
Four deliberately malformed lines are spliced in so replays show the "counted and skipped" path.
"""

from __future__ import annotations

import bisect
import dataclasses
import gzip
import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from demo_gen.base import Ctx
from monitors.contracts.records import Observation, observation_to_row

OBSERVATIONS_FILE = "observations.jsonl.gz"
GITLAB_FILE = "gitlab.json"


def _line(row: dict[str, Any]) -> str:
    return json.dumps(row, separators=(",", ":"), ensure_ascii=False)


def malformed_lines(ctx: Ctx, rows: Sequence[Observation]) -> list[tuple[str, str, str]]:
    """(sort key, line, why) for the planted bad rows, each a copy of a real generation with a new id."""
    gens = [o for o in rows if o.type == "GENERATION" and o.start_time.date().isoformat() >= "2026-11-16"]
    picks = [gens[len(gens) * k // 5] for k in (1, 2, 3, 4)]
    out = []
    for obs, (why, change) in zip(picks, _BREAKAGES, strict=True):
        row = observation_to_row(dataclasses.replace(obs, id=ctx.new_id(64)))
        key = row["startTime"]
        out.append((key, change(row), why))
    return out


def _no_start(row: dict[str, Any]) -> str:
    row["startTime"] = None
    return _line(row)


def _text_cost(row: dict[str, Any]) -> str:
    row["totalCost"] = "abc"
    return _line(row)


def _negative_cost(row: dict[str, Any]) -> str:
    row["totalCost"] = -0.42
    return _line(row)


def _cut_line(row: dict[str, Any]) -> str:
    text = _line(row)
    return text[: len(text) // 2]  # an export that was cut off mid-write


_BREAKAGES = (
    ("startTime missing", _no_start),
    ('totalCost is the string "abc"', _text_cost),
    ("totalCost is negative (-0.42)", _negative_cost),
    ("line cut in half (not JSON)", _cut_line),
)


def observation_lines(ctx: Ctx) -> tuple[list[str], list[str]]:
    """All lines of the export file in time order, and why each malformed one is malformed."""
    rows = sorted(ctx.observations, key=lambda o: (o.start_time, o.trace_id, o.id))
    lines = [_line(observation_to_row(o)) for o in rows]
    keys = [o.start_time.isoformat().replace("+00:00", "Z") for o in rows]
    reasons = []
    for key, line, why in malformed_lines(ctx, rows):
        at = bisect.bisect_right(keys, key)
        keys.insert(at, key)
        lines.insert(at, line)
        reasons.append(why)
    return lines, reasons


def gzip_bytes(lines: Sequence[str]) -> bytes:
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0, compresslevel=9) as fh:
        fh.write(("\n".join(lines) + "\n").encode("utf-8"))
    return buffer.getvalue()


def write_files(out_dir: Path, lines: Sequence[str], gitlab: dict[str, Any]) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    obs_path, gitlab_path = out_dir / OBSERVATIONS_FILE, out_dir / GITLAB_FILE
    obs_path.write_bytes(gzip_bytes(lines))
    gitlab_path.write_text(json.dumps(gitlab, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return [obs_path, gitlab_path]

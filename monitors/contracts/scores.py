"""Evaluation scores as monitors read them, parsed from Langfuse's Scores v3 rows.

The wire shape is `ScoreV3` of the OpenAPI spec: a polymorphic `value` typed by `dataType` (number,
boolean or string) and, when the `subject` field group is asked for, the entity it scores. A score row
does not carry its trace's name; sources fill `trace_name` in (the agent the score is about).
The replay and demo files store exactly these rows plus `traceName`, one per line.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from monitors.contracts.records import MalformedRecord, parse_time

DATA_TYPES = ("NUMERIC", "BOOLEAN", "CATEGORICAL")  # TEXT and CORRECTION scores cannot fail a rule


@dataclass(frozen=True, slots=True)
class ScoreRecord:
    """One evaluation score on a trace (or on one of its observations)."""

    id: str
    name: str
    data_type: str
    value: float | bool | str
    timestamp: datetime
    trace_id: str | None = None
    observation_id: str | None = None
    comment: str | None = None
    environment: str | None = None
    trace_name: str | None = None


@dataclass(frozen=True, slots=True)
class ScoreCount:
    """How many scores named `name` the agent `trace_name` got ("" when the trace has no name)."""

    name: str
    trace_name: str
    count: int


def _value(data_type: str, raw: Any) -> float | bool | str:
    if data_type == "BOOLEAN":
        # v3 returns a JSON boolean; legacy reads return 0/1 numbers.
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, int | float) and raw in (0, 1):
            return bool(raw)
        raise MalformedRecord(f"value: expected a boolean, got {type(raw).__name__}")
    if data_type == "NUMERIC":
        if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(float(raw)):
            raise MalformedRecord(f"value: expected a finite number, got {type(raw).__name__}")
        return float(raw)
    if not isinstance(raw, str):
        raise MalformedRecord(f"value: expected a string, got {type(raw).__name__}")
    return raw


def _subject_trace(row: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """(trace id, observation id) from the v3 `subject`, or from the legacy flat fields."""
    subject = row.get("subject")
    if isinstance(subject, Mapping):
        kind, ident = subject.get("kind"), subject.get("id")
        if kind == "trace":
            return (str(ident) if ident else None), None
        if kind == "observation":
            trace = subject.get("traceId")
            return (str(trace) if trace else None), (str(ident) if ident else None)
        return None, None  # a session or experiment score: no trace to link
    trace, obs = row.get("traceId"), row.get("observationId")
    return (str(trace) if trace else None), (str(obs) if obs else None)


def parse_score(row: Any) -> ScoreRecord:
    """Build a ScoreRecord from a Scores v3 row (or a legacy v2 row); raise MalformedRecord."""
    if not isinstance(row, Mapping):
        raise MalformedRecord(f"expected an object, got {type(row).__name__}")
    for key in ("id", "name", "dataType", "timestamp"):
        if not row.get(key):
            raise MalformedRecord(f"{key}: missing")
    data_type = str(row["dataType"]).upper()
    if "value" not in row:
        raise MalformedRecord("value: missing")
    trace_id, observation_id = _subject_trace(row)
    comment = row.get("comment")
    return ScoreRecord(
        id=str(row["id"]),
        name=str(row["name"]),
        data_type=data_type,
        value=_value(data_type, row["value"] if data_type != "CATEGORICAL" else row.get("stringValue", row["value"])),
        timestamp=parse_time(row["timestamp"], field_name="timestamp"),
        trace_id=trace_id,
        observation_id=observation_id,
        comment=None if comment is None else str(comment),
        environment=None if row.get("environment") is None else str(row["environment"]),
        trace_name=None if row.get("traceName") is None else str(row["traceName"]),
    )


def score_to_row(score: ScoreRecord) -> dict[str, Any]:
    """The Scores v3 row (fields core, details and subject) for `score`, plus `traceName`."""
    subject: dict[str, Any] | None = None
    if score.observation_id:
        subject = {"kind": "observation", "id": score.observation_id, "traceId": score.trace_id}
    elif score.trace_id:
        subject = {"kind": "trace", "id": score.trace_id}
    stamp = score.timestamp.isoformat().replace("+00:00", "Z")
    return {
        "id": score.id,
        "name": score.name,
        "dataType": score.data_type,
        "value": score.value,
        "source": "EVAL",
        "timestamp": stamp,
        "environment": score.environment or "default",
        "createdAt": stamp,
        "updatedAt": stamp,
        "comment": score.comment,
        "configId": None,
        "metadata": None,
        "subject": subject,
        "traceName": score.trace_name,
    }

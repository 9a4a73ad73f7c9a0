"""Typed records that sources return and monitors read. Monitors never see raw JSON.

The wire shape of one observation is Langfuse's Observations v2 row (camelCase keys, see
`ObservationV2` in the OpenAPI spec). The export file (`run-monitor export`) stores exactly those rows,
one per line, so a replay goes through the same parser as a live read: the same records either way.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from monitors.contracts.findings import utc

METADATA_VALUE_LIMIT = 200  # Langfuse truncates metadata values past this many characters


class MalformedRecord(ValueError):
    """A row that cannot be turned into a record. Sources count and skip these."""


@dataclass(frozen=True, slots=True)
class Observation:
    """One Langfuse observation (a generation, a tool call, a span...)."""

    id: str
    trace_id: str
    type: str
    start_time: datetime
    end_time: datetime | None = None
    project_id: str | None = None
    parent_id: str | None = None
    name: str | None = None
    level: str = "DEFAULT"
    status_message: str | None = None
    environment: str | None = None
    user_id: str | None = None
    session_id: str | None = None
    trace_name: str | None = None
    tags: tuple[str, ...] = ()
    model: str | None = None
    usage: Mapping[str, int] = field(default_factory=dict)
    total_cost: float = 0.0
    metadata: Mapping[str, Any] = field(default_factory=dict)
    input: Any = None
    output: Any = None
    is_root: bool | None = None

    @property
    def group_key(self) -> str:
        """The session this observation belongs to, or its trace when it has no session."""
        return self.session_id or self.trace_id


@dataclass(frozen=True, slots=True)
class CostBucket:
    """Summed cost (USD) of one time bucket, optionally for one group value (agent, model, ...)."""

    start: datetime
    cost: float
    group: str | None = None
    count: int = 0


def decode_metadata_value(value: Any) -> Any:
    """Undo the JSON encoding SDK v5 applies to propagated metadata values.

    `"\\"fix the test\\""` becomes `fix the test`; values that are not JSON stay as they are.
    Values cut by Langfuse at 200 characters are usually invalid JSON and stay raw.
    """
    if not isinstance(value, str):
        return value
    text = value.strip()
    if (len(text) >= 2 and text[0] == text[-1] == '"') or text[:1] in "[{":
        try:
            return json.loads(text)
        except (ValueError, RecursionError):  # RecursionError: agent text nested past Python's limit
            return value.strip('"') if text[:1] == '"' else value
    return value


def decode_metadata(raw: Any) -> dict[str, Any]:
    """Metadata as a plain dict with decoded values; anything that is not an object is dropped."""
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except (ValueError, RecursionError):
            return {}
    if not isinstance(raw, Mapping):
        return {}
    return {str(k): decode_metadata_value(v) for k, v in raw.items()}


def parse_time(value: Any, *, field_name: str) -> datetime:
    if isinstance(value, datetime):
        return utc(value)
    if not isinstance(value, str) or not value:
        raise MalformedRecord(f"{field_name}: expected an ISO 8601 timestamp, got {value!r}")
    try:
        return utc(datetime.fromisoformat(value.replace("Z", "+00:00")))
    except (ValueError, OverflowError):  # OverflowError: '9999-12-31T23:59:59-05:00' is past year 9999 in UTC
        raise MalformedRecord(f"{field_name}: not an ISO 8601 timestamp: {value[:40]!r}") from None


def parse_time_or_none(value: Any) -> datetime | None:
    """An ISO 8601 timestamp as aware UTC, or None for anything else (for optional, foreign fields)."""
    try:
        return parse_time(value, field_name="time")
    except MalformedRecord:
        return None


def _opt_time(value: Any, field_name: str) -> datetime | None:
    return None if value in (None, "") else parse_time(value, field_name=field_name)


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


def _io(value: Any) -> Any:
    # v2 returns input/output as raw strings; JSON ones are decoded, plain text stays text.
    if isinstance(value, str) and value[:1] in '[{"':
        try:
            return json.loads(value)
        except (ValueError, RecursionError):  # RecursionError: agent text nested past Python's limit
            return value
    return value


def _cost(row: Mapping[str, Any]) -> float:
    value = row.get("totalCost")
    if value is None:
        details = row.get("costDetails") or {}
        value = details.get("total") if isinstance(details, Mapping) else None
    if value is None:
        return 0.0
    try:
        cost = float(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: a JSON integer past float range
        shown = repr(value[:40]) if isinstance(value, str) else type(value).__name__  # repr of a huge int fails
        raise MalformedRecord(f"totalCost: not a number: {shown}") from None
    if cost != cost or cost < 0 or cost == float("inf"):
        raise MalformedRecord(f"totalCost: must be a finite non-negative number, got {value!r}")
    return cost


def _usage(raw: Any) -> dict[str, int]:
    if not isinstance(raw, Mapping):
        return {}
    usage: dict[str, int] = {}
    for key, value in raw.items():
        try:
            usage[str(key)] = int(value)
        except (TypeError, ValueError, OverflowError):  # OverflowError: JSON's Infinity
            continue
    return usage


def parse_observation(row: Any) -> Observation:
    """Build an Observation from an Observations v2 row (or a legacy v1 row); raise MalformedRecord."""
    if not isinstance(row, Mapping):
        raise MalformedRecord(f"expected an object, got {type(row).__name__}")
    for key in ("id", "traceId", "type", "startTime"):
        if not row.get(key):
            raise MalformedRecord(f"{key}: missing")
    tags = row.get("tags") or ()
    if not isinstance(tags, list | tuple):
        raise MalformedRecord(f"tags: expected a list, got {type(tags).__name__}")
    return Observation(
        id=str(row["id"]),
        trace_id=str(row["traceId"]),
        type=str(row["type"]).upper(),
        start_time=parse_time(row["startTime"], field_name="startTime"),
        end_time=_opt_time(row.get("endTime"), "endTime"),
        project_id=_opt_str(row.get("projectId")),
        parent_id=_opt_str(row.get("parentObservationId")),
        name=_opt_str(row.get("name")),
        level=str(row.get("level") or "DEFAULT"),
        status_message=_opt_str(row.get("statusMessage")),
        environment=_opt_str(row.get("environment")),
        user_id=_opt_str(row.get("userId")),
        session_id=_opt_str(row.get("sessionId")),
        trace_name=_opt_str(row.get("traceName")),
        tags=tuple(str(t) for t in tags),
        model=_opt_str(row.get("model") or row.get("providedModelName")),
        usage=_usage(row.get("usageDetails")),
        total_cost=_cost(row),
        metadata=decode_metadata(row.get("metadata")),
        input=_io(row.get("input")),
        output=_io(row.get("output")),
        is_root=row.get("isRootObservation"),
    )


def _iso(dt: datetime | None) -> str | None:
    return None if dt is None else dt.isoformat().replace("+00:00", "Z")


def observation_to_row(obs: Observation) -> dict[str, Any]:
    """The Observations v2 row for `obs`: the export format, and what the fake Langfuse serves."""
    return {
        "id": obs.id,
        "traceId": obs.trace_id,
        "type": obs.type,
        "startTime": _iso(obs.start_time),
        "endTime": _iso(obs.end_time),
        "projectId": obs.project_id,
        "parentObservationId": obs.parent_id,
        "name": obs.name,
        "level": obs.level,
        "statusMessage": obs.status_message,
        "environment": obs.environment,
        "userId": obs.user_id,
        "sessionId": obs.session_id,
        "traceName": obs.trace_name,
        "tags": list(obs.tags),
        "model": obs.model,
        "usageDetails": dict(obs.usage),
        "totalCost": obs.total_cost,
        "metadata": dict(obs.metadata),
        "input": obs.input if obs.input is None or isinstance(obs.input, str) else json.dumps(obs.input),
        "output": obs.output if obs.output is None or isinstance(obs.output, str) else json.dumps(obs.output),
        "isRootObservation": obs.is_root,
    }

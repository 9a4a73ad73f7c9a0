"""How the fake Langfuse stores a dataset and shapes it for each endpoint (v2 rows, v1 rows, traces).

Shapes follow the 2026-08 OpenAPI spec (ObservationV2, ObservationsView, TraceWithDetails), which
tests/test_langfuse_spec.py validates, and where the spec and the server differ, the server
(tests/sources/test_server_behaviour.py pins each point):
- times are whole milliseconds (DateTime64(3) columns);
- a v2 row names the model `model`, not the spec's `providedModelName`
  (packages/shared/src/server/repositories/events.ts row converter);
- a missing user or session id is `""` on v2 rows (non-nullable String columns of the events table).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from monitors.contracts.findings import utc
from monitors.contracts.records import Observation, observation_to_row

V2_GROUPS: dict[str, tuple[str, ...]] = {
    "core": ("id", "traceId", "startTime", "endTime", "projectId", "parentObservationId", "type"),
    "basic": (
        "name",
        "level",
        "statusMessage",
        "version",
        "environment",
        "bookmarked",
        "public",
        "userId",
        "sessionId",
        "isRootObservation",
    ),
    "time": ("completionStartTime", "createdAt", "updatedAt"),
    "io": ("input", "output"),
    "metadata": ("metadata",),
    "model": ("model", "internalModelId", "modelParameters"),
    "usage": ("usageDetails", "costDetails", "totalCost", "usagePricingTierName"),
    "prompt": ("promptId", "promptName", "promptVersion"),
    "metrics": ("latency", "timeToFirstToken"),
    "trace_context": ("tags", "release", "traceName"),
}
ALWAYS = ("modelId", "inputPrice", "outputPrice", "totalPrice")  # present, null unless `model` asked
METADATA_LIMIT = 200


def stored_row(item: Observation | Mapping[str, Any], project_id: str) -> dict[str, Any]:
    """A full v2 row (every group) for an Observation, or a raw row passed through as given."""
    if isinstance(item, Mapping):
        return dict(item)
    row = observation_to_row(item)
    row["projectId"] = row.get("projectId") or project_id
    row["startTime"] = ms_iso(item.start_time)
    row["endTime"] = ms_iso(item.end_time) if item.end_time is not None else None
    row["userId"] = row.get("userId") or ""
    row["sessionId"] = row.get("sessionId") or ""
    row["costDetails"] = {"total": row["totalCost"]}
    for key in ("version", "release", "internalModelId", "modelParameters", "usagePricingTierName"):
        row.setdefault(key, None)
    row.update(bookmarked=False, public=False, environment=row.get("environment") or "default")
    return row


def ms_iso(when: datetime) -> str:
    """An ISO time cut to milliseconds, as the server writes DateTime64(3) values."""
    return utc(when).strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc(when).microsecond // 1000:03d}Z"


def v2_view(row: Mapping[str, Any], groups: Iterable[str], expand: set[str]) -> dict[str, Any]:
    """The row as Observations v2 returns it for the requested field groups."""
    out: dict[str, Any] = {k: None for k in ALWAYS}
    for group in ("core", *groups):
        for key in V2_GROUPS.get(group, ()):
            if key in row:
                out[key] = row[key]
    if isinstance(out.get("metadata"), Mapping):
        out["metadata"] = {
            k: v if k in expand or not isinstance(v, str) else v[:METADATA_LIMIT] for k, v in out["metadata"].items()
        }
    return out


def _parsed_io(value: Any) -> Any:
    # v1 parses I/O as JSON; v2 returns the raw string.
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def v1_view(row: Mapping[str, Any], trace: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The row as the legacy /observations endpoint returns it (ObservationsView, no trace fields).

    The legacy data model keeps trace metadata on the trace only: the observation's own metadata is
    what is left of the stored (v4-style, merged) metadata once the trace's keys are taken out."""
    usage = row.get("usageDetails") or {}
    trace_keys = set((trace or {}).get("metadata") or {})
    own_metadata = {k: v for k, v in (row.get("metadata") or {}).items() if k not in trace_keys}
    return {
        "id": row["id"],
        "traceId": row["traceId"],
        "type": row["type"],
        "name": row.get("name"),
        "startTime": row["startTime"],
        "endTime": row.get("endTime"),
        "completionStartTime": None,
        "model": row.get("model"),
        "modelParameters": {},
        "input": _parsed_io(row.get("input")),
        "output": _parsed_io(row.get("output")),
        "version": row.get("version"),
        "metadata": own_metadata,
        "usage": {
            "input": int(usage.get("input", 0)),
            "output": int(usage.get("output", 0)),
            "total": int(usage.get("total", 0)),
            "unit": "TOKENS",
        },
        "level": row.get("level") or "DEFAULT",
        "statusMessage": row.get("statusMessage"),
        "parentObservationId": row.get("parentObservationId"),
        "promptId": None,
        "usageDetails": dict(usage),
        "costDetails": dict(row.get("costDetails") or {}),
        "environment": row.get("environment") or "default",
        "promptName": None,
        "promptVersion": None,
        "modelId": None,
        "inputPrice": None,
        "outputPrice": None,
        "totalPrice": None,
        "calculatedInputCost": None,
        "calculatedOutputCost": None,
        "calculatedTotalCost": row.get("totalCost"),
        "latency": None,
        "timeToFirstToken": None,
    }


def _cost(row: Mapping[str, Any]) -> float:
    try:
        return float(row.get("totalCost") or 0)
    except (TypeError, ValueError):
        return 0.0  # a deliberately malformed row


def traces_of(rows: Iterable[Mapping[str, Any]], project_id: str) -> dict[str, dict[str, Any]]:
    """Legacy Trace objects rebuilt from observation rows (trace metadata = what all rows share)."""
    by_trace: dict[str, list[Mapping[str, Any]]] = {}
    for row in rows:
        if isinstance(row, Mapping) and row.get("traceId") and row.get("startTime"):
            by_trace.setdefault(str(row["traceId"]), []).append(row)
    traces = {}
    for trace_id, members in by_trace.items():
        members.sort(key=lambda r: str(r["startTime"]))
        first = members[0]
        shared = dict(first.get("metadata") or {}) if isinstance(first.get("metadata"), Mapping) else {}
        for other in members[1:]:
            meta = other.get("metadata") if isinstance(other.get("metadata"), Mapping) else {}
            shared = {k: v for k, v in shared.items() if k in meta and meta[k] == v}
        traces[trace_id] = {
            "id": trace_id,
            "timestamp": first["startTime"],
            "name": first.get("traceName"),
            "input": None,
            "output": None,
            "sessionId": first.get("sessionId") or None,
            "release": None,
            "version": None,
            "userId": first.get("userId") or None,
            "metadata": shared,
            "tags": list(first.get("tags") or []),
            "public": False,
            "environment": first.get("environment") or "default",
            "htmlPath": f"/project/{project_id}/traces/{trace_id}",
            "latency": None,
            "totalCost": sum(_cost(m) for m in members),
            "observations": [str(m["id"]) for m in members],
            "scores": [],
        }
    return traces

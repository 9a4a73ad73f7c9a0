"""The fake Langfuse's score reads: Scores v3, the legacy v2 scores route, and the Metrics score views.

Scores are stored as Scores v3 rows (`monitors.contracts.scores.score_to_row`) in `FakeLangfuse.served_scores`;
a stored `traceName` is ours (the demo file's), never served: the real API does not return it, and the
score views get the trace's name from the fake's traces, as the server joins them. Parameter rules
follow the 2026-08 spec (`scoresV3_getManyV3`, `scores_getManyV2`) and the API notes (§2, §4);
tests/events/test_fake_scores_spec.py validates the responses against the spec.
"""

from __future__ import annotations

import base64
import json
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from tests.fakes.langfuse_endpoints import Handler, Reply, _legacy, _v2, v1_metrics, v1_observations, v2_metrics
from tests.fakes.langfuse_filter_rules import check_dimensions, metrics_view
from tests.fakes.langfuse_filters import (
    BadRequest,
    InvalidRequest,
    NotServedByFake,
    metrics_predicate,
    parse_bound,
    parse_ts,
)

if TYPE_CHECKING:
    from tests.fakes.langfuse_server import FakeLangfuse, RecordedRequest

V3_GROUPS = {
    "details": ("comment", "configId", "metadata"),
    "subject": ("subject",),
    "annotation": ("authorUserId", "queueId"),
}
CORE = ("id", "projectId", "name", "value", "dataType", "source", "timestamp", "environment", "createdAt", "updatedAt")
SCORE_VIEWS = {"scores-numeric": ("NUMERIC", "BOOLEAN"), "scores-categorical": ("CATEGORICAL",)}


def _list(request: RecordedRequest, name: str) -> list[str]:
    text = request.param(name)
    return [v.strip() for v in text.split(",") if v.strip()] if text else []


def _limit(request: RecordedRequest) -> int:
    text = request.param("limit")
    try:
        limit = 50 if text is None else int(text)
    except ValueError:
        raise BadRequest("limit must be an integer") from None
    if not 1 <= limit <= 100:
        raise BadRequest("limit must be within 1..100")
    return limit


def _trace_of(row: dict[str, Any]) -> str | None:
    subject = row.get("subject") or {}
    return subject.get("traceId") if subject.get("kind") == "observation" else subject.get("id")


def _in_time(row: dict[str, Any], request: RecordedRequest) -> bool:
    ts = parse_ts(row["timestamp"])
    start, end = request.param("fromTimestamp"), request.param("toTimestamp")
    return (start is None or ts >= parse_ts(start)) and (end is None or ts < parse_ts(end))


def _number(text: str | None, name: str) -> float | None:
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        raise BadRequest(f"{name} must be a number") from None


def _v3_filter(request: RecordedRequest) -> Any:
    types = [t.upper() for t in _list(request, "dataType")]
    values = _list(request, "value")
    low, high = _number(request.param("valueMin"), "valueMin"), _number(request.param("valueMax"), "valueMax")
    if values and (len(types) != 1 or types[0] not in ("NUMERIC", "BOOLEAN", "CATEGORICAL")):
        raise BadRequest("value needs exactly one dataType of NUMERIC, BOOLEAN or CATEGORICAL")
    if (low is not None or high is not None) and types != ["NUMERIC"]:
        raise BadRequest("valueMin/valueMax need dataType=NUMERIC")
    if types == ["BOOLEAN"] and any(v not in ("true", "false") for v in values):
        raise BadRequest('boolean values must be "true" or "false"')
    exclusive = [p for p in ("traceId", "sessionId", "experimentId") if request.param(p)]
    if len(exclusive) > 1 or request.param("userId") or request.param("traceTags"):
        raise BadRequest("traceId, sessionId and experimentId are exclusive; userId and traceTags are not filters")
    names, traces = set(_list(request, "name")), set(_list(request, "traceId"))

    def holds(row: dict[str, Any]) -> bool:
        value = row["value"]
        shown = (
            str(value).lower() if isinstance(value, bool) else (str(value) if row["dataType"] != "NUMERIC" else value)
        )
        return (
            (not names or row["name"] in names)
            and (not types or row["dataType"] in types)
            and (not traces or _trace_of(row) in traces)
            and (not values or shown in (values if row["dataType"] != "NUMERIC" else [float(v) for v in values]))
            and (low is None or value >= low)
            and (high is None or value <= high)
            and _in_time(row, request)
        )

    return holds


def v3_scores(fake: FakeLangfuse, request: RecordedRequest) -> Reply:
    limit = _limit(request)
    groups = _list(request, "fields")
    if any(g not in V3_GROUPS for g in groups):
        raise BadRequest(f"unknown field group in {groups}")
    holds = _v3_filter(request)
    rows = sorted((r for r in fake.served_scores if holds(r)), key=lambda r: (r["timestamp"], r["id"]), reverse=True)
    offset = _offset(request.param("cursor"))
    keys = CORE + tuple(k for g in groups for k in V3_GROUPS[g])
    page = [{k: ({**r, "projectId": fake.project_id}).get(k) for k in keys} for r in rows[offset : offset + limit]]
    meta: dict[str, Any] = {"limit": limit}
    if offset + limit < len(rows):
        meta["cursor"] = base64.urlsafe_b64encode(json.dumps({"offset": offset + limit}).encode()).decode()
    return Reply(200, {"data": page, "meta": meta})


def _offset(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        return int(json.loads(base64.urlsafe_b64decode(cursor))["offset"])
    except (ValueError, KeyError, TypeError):
        raise BadRequest("invalid cursor") from None


def legacy_row(row: dict[str, Any]) -> dict[str, Any]:
    """A v3 row as `GET /api/public/v2/scores` returns it: flat ids, value as a number, stringValue."""
    value, kind = row["value"], row["dataType"]
    subject = row.get("subject") or {}
    out = {
        "id": row["id"],
        "traceId": _trace_of(row),
        "observationId": subject.get("id") if subject.get("kind") == "observation" else None,
        "name": row["name"],
        "source": row["source"],
        "timestamp": row["timestamp"],
        "createdAt": row["createdAt"],
        "updatedAt": row["updatedAt"],
        "authorUserId": None,
        "comment": row.get("comment"),
        "metadata": row.get("metadata") or {},
        "configId": None,
        "queueId": None,
        "environment": row["environment"],
        "dataType": kind,
        "value": float(value) if kind != "CATEGORICAL" else 0.0,
    }
    if kind == "BOOLEAN":
        out["stringValue"] = "True" if value else "False"
    elif kind == "CATEGORICAL":
        out["stringValue"] = value
    return out


_OPERATORS = {
    "<": float.__lt__,
    "<=": float.__le__,
    ">": float.__gt__,
    ">=": float.__ge__,
    "=": float.__eq__,
    "!=": float.__ne__,
}


def legacy_scores(fake: FakeLangfuse, request: RecordedRequest) -> Reply:
    limit = _limit(request)
    page = int(request.param("page") or 1)
    names, types = set(_list(request, "name")), {t.upper() for t in _list(request, "dataType")}
    operator, value = request.param("operator"), _number(request.param("value"), "value")
    if (operator is None) != (value is None) or (operator is not None and operator not in _OPERATORS):
        raise BadRequest("operator and value go together; operator one of " + ", ".join(_OPERATORS))
    rows = []
    for row in fake.served_scores:
        flat = legacy_row(row)
        if (names and row["name"] not in names) or (types and row["dataType"] not in types):
            continue
        if not _in_time(row, request) or (operator and not _OPERATORS[operator](flat["value"], value)):
            continue
        rows.append(flat)
    rows.sort(key=lambda r: (r["timestamp"], r["id"]), reverse=True)
    total_pages = max(1, -(-len(rows) // limit))
    meta = {"page": page, "limit": limit, "totalItems": len(rows), "totalPages": total_pages}
    return Reply(200, {"data": rows[(page - 1) * limit : page * limit], "meta": meta})


# Score-view dimension (or time dimension) -> key of the joined score row the fake evaluates.
SCORE_ROW_KEYS = {d: d for d in ("name", "traceName", "dataType", "environment", "timestamp")}


def _score_view_rows(fake: FakeLangfuse, query: dict[str, Any], version: str = "v2") -> list[dict[str, Any]]:
    """Counts per dimension of a score view; dimensions and filters checked against the server's
    declaration of that view for the API version asked (langfuse_filter_rules.json). Both time bounds
    are inclusive. A query that reads the trace (traceName) joins it, and the join keeps only scores
    whose trace also started within [from, to] (queryBuilder.ts buildJoins)."""
    view = metrics_view(query["view"], version)
    dims = [d.get("field") for d in query.get("dimensions") or [] if isinstance(d, dict)]
    check_dimensions(dims, view, query, version)
    if any(d not in SCORE_ROW_KEYS for d in dims):
        raise NotServedByFake(f"the fake's score views group by {sorted(SCORE_ROW_KEYS)} only, not {dims}")
    keep = metrics_predicate(query.get("filters"), view, SCORE_ROW_KEYS)
    columns = {f.get("column") for f in query.get("filters") or [] if isinstance(f, dict)}
    joins_trace = bool(view.trace_joined & {*dims, *columns})
    start, end = parse_bound(query.get("fromTimestamp")), parse_bound(query.get("toTimestamp"))
    counts: dict[tuple[Any, ...], int] = {}
    for row in fake.served_scores:
        if row["dataType"] not in SCORE_VIEWS[query["view"]] or not start <= parse_ts(row["timestamp"]) <= end:
            continue
        trace = fake.traces.get(str(_trace_of(row)))
        if joins_trace and (trace is None or not start <= parse_ts(trace["timestamp"]) <= end):
            continue
        full = {**row, "traceName": (trace or {}).get("name")}
        if not keep(full):
            continue
        key = tuple(full.get(d) for d in dims)
        counts[key] = counts.get(key, 0) + 1
    # ClickHouse's UInt64 count reaches JSON as a string, as in the observations view.
    return [{**dict(zip(dims, key, strict=True)), "count_count": str(n)} for key, n in sorted(counts.items(), key=str)]


def _metrics_with_scores(fallback: Handler, version: str) -> Handler:
    def handler(fake: FakeLangfuse, request: RecordedRequest) -> Reply:
        try:
            query = json.loads(request.param("query") or "")
        except ValueError:
            raise InvalidRequest("Invalid JSON in query parameter") from None
        if isinstance(query, dict) and query.get("view") in SCORE_VIEWS:
            return Reply(200, {"data": _score_view_rows(fake, query, version)})
        return fallback(fake, request)

    return handler


def v1_observations_by_level(fake: FakeLangfuse, request: RecordedRequest) -> Reply:
    """The legacy observations route with its `level` parameter (one level, exact match) honoured."""
    level = request.param("level")
    if level is None:
        return v1_observations(fake, request)
    if level not in ("DEBUG", "DEFAULT", "WARNING", "ERROR"):
        raise BadRequest("level must be one of DEBUG, DEFAULT, WARNING, ERROR")
    rows = [r for r in fake.rows if isinstance(r, dict) and r.get("level") == level]
    view = SimpleNamespace(rows=rows, traces=fake.traces, ignore_page=fake.ignore_page, requests=fake.requests)
    return v1_observations(view, request)  # type: ignore[arg-type]


# Looked up before the fake's other routes (tests/fakes/langfuse_server.py).
EVENT_ROUTES: list[tuple[str, str, bool, Handler]] = [
    ("GET", "/api/public/v3/scores", True, _v2(v3_scores)),
    ("GET", "/api/public/v2/scores", True, _legacy(legacy_scores)),
    ("GET", "/api/public/observations", True, _legacy(v1_observations_by_level)),
    ("GET", "/api/public/v2/metrics", True, _v2(_metrics_with_scores(v2_metrics, "v2"))),
    ("GET", "/api/public/metrics", True, _legacy(_metrics_with_scores(v1_metrics, "v1"))),
]

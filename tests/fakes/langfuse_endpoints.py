"""The fake Langfuse's endpoint handlers (one function per route), following the API notes and spec."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from tests.fakes.langfuse_filters import BadRequest, condition_holds, parse_filter, parse_ts, run_metrics
from tests.fakes.langfuse_rows import v1_view, v2_view

if TYPE_CHECKING:
    from tests.fakes.langfuse_server import FakeLangfuse, RecordedRequest

V2_GROUP_NAMES = {"core", "basic", "time", "io", "metadata", "model", "usage", "prompt", "metrics", "trace_context"}


@dataclass
class Reply:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None


def _int(request: RecordedRequest, name: str, default: int, low: int, high: int) -> int:
    text = request.param(name)
    try:
        value = default if text is None else int(text)
    except ValueError:
        raise BadRequest(f"{name} must be an integer") from None
    if not low <= value <= high:
        raise BadRequest(f"{name} must be within {low}..{high}")
    return value


def _in_range(row: dict[str, Any], start: datetime | None, end: datetime | None, key: str = "startTime") -> bool:
    ts = parse_ts(row[key])
    return (start is None or ts >= start) and (end is None or ts < end)


def _opt_ts(request: RecordedRequest, name: str) -> datetime | None:
    value = request.param(name)
    return None if value is None else parse_ts(value)


def _fixed_params_hold(row: dict[str, Any], request: RecordedRequest) -> bool:
    for param in ("type", "userId", "sessionId", "traceId", "name"):
        value = request.param(param)
        if value is not None and row.get(param) != value:
            return False
    return _in_range(row, _opt_ts(request, "fromStartTime"), _opt_ts(request, "toStartTime"))


def _sort_key(row: dict[str, Any]) -> tuple[str, str, str]:
    return (str(row.get("startTime")), str(row.get("traceId")), str(row.get("id")))


def v2_observations(fake: FakeLangfuse, request: RecordedRequest) -> Reply:
    if request.param("parseIoAsJson") == "true":
        raise BadRequest("parseIoAsJson is no longer supported")
    limit = _int(request, "limit", 50, 1, 1000)
    groups = [g for g in (request.param("fields") or "core,basic").split(",") if g in V2_GROUP_NAMES]
    expand = set((request.param("expandMetadata") or "").split(",")) - {""}
    text = request.param("filter")
    if text is not None:  # the JSON filter takes precedence over every fixed filter param
        conditions = parse_filter(text)
        rows = [r for r in fake.rows if _valid(r) and all(condition_holds(r, c) for c in conditions)]
    else:
        rows = [r for r in fake.rows if _valid(r) and _fixed_params_hold(r, request)]
    rows.sort(key=_sort_key, reverse=True)
    offset = _decode_cursor(request.param("cursor"))
    page = rows[offset : offset + limit]
    data = [{**v2_view(r, groups, expand), **fake.corrupt} for r in page]
    data += [dict(r) for r in fake.rows if not _valid(r)] if offset == 0 else []
    meta: dict[str, Any] = {}
    if offset + limit < len(rows):
        meta["cursor"] = _encode_cursor(limit if fake.repeat_cursor else offset + limit)
    return Reply(200, {"data": data, "meta": meta})


def _valid(row: dict[str, Any]) -> bool:
    # Raw malformed rows (tests put them in on purpose) cannot be filtered; they are served once.
    try:
        parse_ts(row.get("startTime"))
    except BadRequest:
        return False
    return bool(row.get("id")) and bool(row.get("traceId"))


def _encode_cursor(offset: int) -> str:
    return base64.b64encode(json.dumps({"offset": offset}).encode()).decode()


def _decode_cursor(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        return int(json.loads(base64.b64decode(cursor))["offset"])
    except (ValueError, KeyError, TypeError):
        raise BadRequest("invalid cursor") from None


def _metrics(fake: FakeLangfuse, request: RecordedRequest, *, legacy: bool) -> Reply:
    try:
        query = json.loads(request.param("query") or "")
    except ValueError:
        raise BadRequest("query must be JSON") from None
    rows = run_metrics([r for r in fake.rows if _valid(r)], query, legacy=legacy)
    if fake.metrics_numbers_as_strings:
        rows = [{k: str(v) if k.startswith(("sum_", "count_")) else v for k, v in r.items()} for r in rows]
    return Reply(200, {"data": rows})


def v2_metrics(fake: FakeLangfuse, request: RecordedRequest) -> Reply:
    return _metrics(fake, request, legacy=False)


def v1_metrics(fake: FakeLangfuse, request: RecordedRequest) -> Reply:
    return _metrics(fake, request, legacy=True)


def _page(items: list[Any], request: RecordedRequest, *, ignore_page: bool = False) -> dict[str, Any]:
    page = 1 if ignore_page else _int(request, "page", 1, 1, 10**9)
    limit = _int(request, "limit", 50, 1, 100)
    total_pages = max(1, -(-len(items) // limit))
    meta = {"page": page, "limit": limit, "totalItems": len(items), "totalPages": total_pages}
    return {"data": items[(page - 1) * limit : page * limit], "meta": meta}


def v1_observations(fake: FakeLangfuse, request: RecordedRequest) -> Reply:
    rows = []
    for row in fake.rows:
        if not _valid(row):
            continue
        trace = fake.traces.get(str(row["traceId"]), {})
        # userId lives on the trace in the legacy model.
        joined = {**row, "userId": trace.get("userId"), "sessionId": trace.get("sessionId")}
        if _fixed_params_hold(joined, request):
            rows.append(row)
    rows.sort(key=_sort_key, reverse=True)
    return Reply(200, _page([v1_view(r) for r in rows], request, ignore_page=fake.ignore_page))


def v1_traces(fake: FakeLangfuse, request: RecordedRequest) -> Reply:
    start, end = _opt_ts(request, "fromTimestamp"), _opt_ts(request, "toTimestamp")
    traces = [
        t
        for t in fake.traces.values()
        if _in_range(t, start, end, key="timestamp")
        and all(request.param(p) in (None, t.get(p)) for p in ("userId", "name", "sessionId"))
    ]
    traces.sort(key=lambda t: (t["timestamp"], t["id"]), reverse=True)
    return Reply(200, _page(traces, request))


def v1_trace(fake: FakeLangfuse, request: RecordedRequest) -> Reply:
    trace_id = request.path.rsplit("/", 1)[-1]
    if trace_id not in fake.traces:
        return Reply(404, {"message": "Trace not found", "error": "LangfuseNotFoundError"})
    # The single-trace route returns TraceWithFullDetails: observations and scores as objects.
    members = sorted((r for r in fake.rows if _valid(r) and r["traceId"] == trace_id), key=_sort_key)
    return Reply(200, {**fake.traces[trace_id], "observations": [v1_view(r) for r in members], "scores": []})


def v1_daily(fake: FakeLangfuse, request: RecordedRequest) -> Reply:
    start, end = _opt_ts(request, "fromTimestamp"), _opt_ts(request, "toTimestamp")
    tags = set(request.query.get("tags", []))
    days: dict[str, dict[str, Any]] = {}
    for row in fake.rows:
        if not _valid(row) or not _in_range(row, start, end):
            continue
        trace = fake.traces.get(str(row["traceId"]), {})
        wanted = {"traceName": trace.get("name"), "userId": trace.get("userId"), "environment": row.get("environment")}
        if any(request.param(k) not in (None, v) for k, v in wanted.items()) or not tags <= set(trace.get("tags", [])):
            continue
        date = parse_ts(row["startTime"]).date().isoformat()
        day = days.setdefault(
            date, {"date": date, "countTraces": 0, "countObservations": 0, "totalCost": 0.0, "usage": {}}
        )
        cost = float(row.get("totalCost") or 0)
        day["countObservations"] += 1
        day["totalCost"] += cost
        model = row.get("providedModelName")
        usage = day["usage"].setdefault(
            model,
            {
                "model": model,
                "inputUsage": 0,
                "outputUsage": 0,
                "totalUsage": 0,
                "countObservations": 0,
                "countTraces": 0,
                "totalCost": 0.0,
            },
        )
        usage["countObservations"] += 1
        usage["totalCost"] += cost
    items = [{**d, "usage": list(d["usage"].values())} for _, d in sorted(days.items(), reverse=True)]
    return Reply(200, _page(items, request))


def projects(fake: FakeLangfuse, request: RecordedRequest) -> Reply:
    org = {"id": "org-fake", "name": "Fake Org"}
    return Reply(200, {"data": [{"id": fake.project_id, "name": "fake", "organization": org, "metadata": {}}]})


def health(fake: FakeLangfuse, request: RecordedRequest) -> Reply:
    return Reply(200, {"status": "OK", "version": "3.120.0" if fake.legacy_only else "4.0.0"})


def post_scores(fake: FakeLangfuse, request: RecordedRequest) -> Reply:
    body = request.body
    items = body if isinstance(body, list) else [body]
    if isinstance(body, list) and not fake.scores_accept_list:
        raise BadRequest("Expected object, received array")
    for item in items:
        if not isinstance(item, dict) or "name" not in item or "value" not in item:
            raise BadRequest("name and value are required")
        score_id = str(item.get("id") or f"score-{len(fake.scores) + 1}")
        fake.scores[score_id] = item  # same id overwrites, as Langfuse upserts by id
    if isinstance(body, list):
        return Reply(202, {"message": "Accepted"})
    return Reply(200, {"id": score_id})


Handler = Callable[["FakeLangfuse", "RecordedRequest"], Reply]


def _v2(handler: Handler) -> Handler:
    def guarded(fake: FakeLangfuse, request: RecordedRequest) -> Reply:
        if fake.legacy_only:
            return Reply(404, {"message": "The observations v2 API is only available in a Langfuse v4 write mode"})
        return handler(fake, request)

    return guarded


def _legacy(handler: Handler) -> Handler:
    def guarded(fake: FakeLangfuse, request: RecordedRequest) -> Reply:
        if fake.v2_only:
            return Reply(
                404,
                {"message": "This endpoint is not available on deployments running in Langfuse v4 events_only mode."},
            )
        return handler(fake, request)

    return guarded


# (method, path, exact?, handler). Non-exact routes also match "<path>/<id>".
ROUTES: list[tuple[str, str, bool, Handler]] = [
    ("GET", "/api/public/v2/observations", True, _v2(v2_observations)),
    ("GET", "/api/public/v2/metrics", True, _v2(v2_metrics)),
    ("GET", "/api/public/observations", True, _legacy(v1_observations)),
    ("GET", "/api/public/traces", True, _legacy(v1_traces)),
    ("GET", "/api/public/traces", False, _legacy(v1_trace)),
    ("GET", "/api/public/metrics", True, _legacy(v1_metrics)),
    ("GET", "/api/public/metrics/daily", True, _legacy(v1_daily)),
    ("GET", "/api/public/projects", True, projects),
    ("GET", "/api/public/health", True, health),
    ("POST", "/api/public/scores", True, post_scores),
]

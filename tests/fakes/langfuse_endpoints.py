"""The fake Langfuse's endpoint handlers (one function per route), following the API notes and spec,
and where they differ, the server's source (each rule names the server file it copies; the points are
pinned by tests/sources/test_server_behaviour.py)."""

from __future__ import annotations

import base64
import bisect
import json
import math
import random
import zlib
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from tests.fakes.langfuse_filters import (
    BadRequest,
    condition_holds,
    metrics_range,
    parse_bound,
    parse_filter,
    parse_ts,
    run_metrics,
)
from tests.fakes.langfuse_limits import scan_too_big
from tests.fakes.langfuse_reply import Reply
from tests.fakes.langfuse_rows import ms_iso, v1_view, v2_view

if TYPE_CHECKING:
    from tests.fakes.langfuse_server import FakeLangfuse, RecordedRequest

V2_GROUP_NAMES = {"core", "basic", "time", "io", "metadata", "model", "usage", "prompt", "metrics", "trace_context"}


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
    return None if value is None else parse_bound(value)


def _fixed_params_hold(row: dict[str, Any], request: RecordedRequest) -> bool:
    for param in ("type", "userId", "sessionId", "traceId", "name"):
        value = request.param(param)
        if value is not None and row.get(param) != value:
            return False
    return _in_range(row, _opt_ts(request, "fromStartTime"), _opt_ts(request, "toStartTime"))


RowKey = tuple[int, int, str]


def row_key(row: dict[str, Any]) -> RowKey:
    """The server's order for Observations v2: startTime, then xxHash32(traceId), then id, all DESC
    (packages/shared/src/server/repositories/events.ts). crc32 stands in for xxHash32."""
    started = parse_ts(row.get("startTime"))
    return (int(started.timestamp() * 1000), zlib.crc32(str(row.get("traceId")).encode()), str(row.get("id")))


def _sort_key(row: dict[str, Any]) -> tuple[str, str, str]:
    return (str(row.get("startTime")), str(row.get("traceId")), str(row.get("id")))


def _range_size(fake: FakeLangfuse, conditions: list[Any]) -> int:
    """Rows the time conditions alone select: what the server scans before it can order a page."""
    times = [c for c in conditions if isinstance(c, dict) and c.get("column") == "startTime"]
    return sum(1 for r in fake.rows if _valid(r) and all(condition_holds(r, c) for c in times))


def v2_observations(fake: FakeLangfuse, request: RecordedRequest) -> Reply:
    if request.param("parseIoAsJson") == "true":
        raise BadRequest("parseIoAsJson is no longer supported")
    limit = _int(request, "limit", 50, 1, 1000)
    groups = [g for g in (request.param("fields") or "core,basic").split(",") if g in V2_GROUP_NAMES]
    expand = set((request.param("expandMetadata") or "").split(",")) - {""}
    for bound in ("fromStartTime", "toStartTime"):
        _opt_ts(request, bound)  # the query schema checks both, with or without a JSON filter
    text = request.param("filter")
    if text is not None:  # the JSON filter takes precedence over every fixed filter param
        conditions = parse_filter(text)
        if (too_big := scan_too_big(fake, _range_size(fake, conditions))) is not None:
            return too_big
        rows = [r for r in fake.rows if _valid(r) and all(condition_holds(r, c) for c in conditions)]
    else:
        rows = [r for r in fake.rows if _valid(r) and _fixed_params_hold(r, request)]
    # No FINAL on the events table read: a row stored twice is served twice.
    rows.sort(key=row_key, reverse=True)
    if fake.endless_cursor:
        # A broken server or proxy: the first rows again under a new cursor on every page, for ever.
        page, cursor = rows[:limit], encode_cursor((0, 0, f"endless-{len(fake.requests)}"))
    else:
        page, cursor = keyset_page(rows, sorted(map(row_key, rows)), request.param("cursor"), limit)
        if fake.repeat_cursor and request.param("cursor"):
            cursor = request.param("cursor")
    data = [{**v2_view(r, groups, expand), **fake.corrupt} for r in page]
    data += [dict(r) for r in fake.rows if not _valid(r)] if request.param("cursor") is None else []
    return Reply(200, {"data": data, "meta": {"cursor": cursor} if cursor else {}})


def keyset_page(
    rows: Sequence[dict[str, Any]], ascending_keys: list[RowKey], cursor: str | None, limit: int
) -> tuple[Sequence[dict[str, Any]], str | None]:
    """The page after `cursor` of `rows` (sorted by row_key DESC; `ascending_keys` the same keys in
    ascending order), and the cursor of the page after it, present only while rows remain (the server
    fetches limit+1 rows to know)."""
    total = len(rows)
    start = 0 if cursor is None else total - bisect.bisect_left(ascending_keys, decode_cursor(cursor))
    page = rows[start : start + limit]
    more = start + limit < total
    return page, encode_cursor(row_key(page[-1])) if more and page else None


def encode_cursor(key: RowKey) -> str:
    # The server's cursor is base64 JSON of the last row's sort key; clients treat it as opaque.
    started = datetime.fromtimestamp(key[0] / 1000, tz=UTC)
    body = {"lastStartTimeTo": ms_iso(started), "lastTraceIdHash": key[1], "lastId": key[2]}
    return base64.b64encode(json.dumps(body).encode()).decode()


def decode_cursor(cursor: str) -> RowKey:
    try:
        body = json.loads(base64.b64decode(cursor))
        started = parse_ts(body["lastStartTimeTo"])
        return (int(started.timestamp() * 1000), int(body["lastTraceIdHash"]), str(body["lastId"]))
    except (ValueError, KeyError, TypeError, BadRequest):
        raise BadRequest("invalid cursor") from None


def _valid(row: dict[str, Any]) -> bool:
    # Raw malformed rows (tests put them in on purpose) cannot be filtered; they are served once.
    try:
        parse_ts(row.get("startTime"))
    except BadRequest:
        return False
    return bool(row.get("id")) and bool(row.get("traceId"))


def _metrics(fake: FakeLangfuse, request: RecordedRequest, *, legacy: bool) -> Reply:
    try:
        query = json.loads(request.param("query") or "")
    except ValueError:
        raise BadRequest("query must be JSON") from None
    if not legacy and (limited := fake.metrics_budget.spend(fake.clock())) is not None:
        return limited
    if isinstance(query, dict) and query.get("fromTimestamp") and query.get("toTimestamp"):
        start, end = metrics_range(query)
        in_range = sum(1 for r in fake.rows if _valid(r) and start <= parse_ts(r["startTime"]) <= end)
        if (too_big := scan_too_big(fake, in_range)) is not None:
            return too_big
    rows = run_metrics([r for r in fake.rows if _valid(r)], query, legacy=legacy)
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
    # ORDER BY start_time DESC with no tie-breaker, paged by LIMIT/OFFSET
    # (packages/shared/src/server/repositories/observations.ts): rows sharing a start time come back
    # in no fixed order, so across pages they can repeat or vanish. Each request shuffles the ties.
    shuffle = random.Random(len(fake.requests))
    rows.sort(key=lambda r: (parse_ts(r["startTime"]), shuffle.random()), reverse=True)
    views = [v1_view(r, fake.traces.get(str(r["traceId"]))) for r in rows]
    return Reply(200, _page(views, request, ignore_page=fake.ignore_page))


TRACE_GROUPS = ("core", "io", "scores", "observations", "metrics")


def trace_view(trace: dict[str, Any], fields: set[str]) -> dict[str, Any]:
    """A legacy trace with the requested field groups; the rest are emptied, not left out
    (packages/shared/src/server/repositories/traces.ts; web/src/pages/api/public/traces/index.ts):
    without `io` input, output and metadata are empty, so `fields=core` has no trace metadata."""
    out = dict(trace)
    if "io" not in fields:
        out.update(input=None, output=None, metadata={})
    if "scores" not in fields:
        out["scores"] = []
    if "observations" not in fields:
        out["observations"] = []
    if "metrics" not in fields:
        out.update(totalCost=-1, latency=-1)
    return out


def _trace_fields(request: RecordedRequest) -> set[str]:
    text = request.param("fields")
    return set(TRACE_GROUPS) if text is None else {g for g in text.split(",") if g in TRACE_GROUPS} | {"core"}


def v1_traces(fake: FakeLangfuse, request: RecordedRequest) -> Reply:
    start, end = _opt_ts(request, "fromTimestamp"), _opt_ts(request, "toTimestamp")
    traces = [
        t
        for t in fake.traces.values()
        if _in_range(t, start, end, key="timestamp")
        and all(request.param(p) in (None, t.get(p)) for p in ("userId", "name", "sessionId"))
    ]
    traces.sort(key=lambda t: (t["timestamp"], t["id"]), reverse=True)
    fields = _trace_fields(request)
    return Reply(200, _page([trace_view(t, fields) for t in traces], request))


def v1_trace(fake: FakeLangfuse, request: RecordedRequest) -> Reply:
    trace_id = request.path.rsplit("/", 1)[-1]
    if trace_id not in fake.traces:
        return Reply(404, {"message": "Trace not found", "error": "LangfuseNotFoundError"})
    # The single-trace route returns TraceWithFullDetails: observations and scores as objects.
    members = sorted((r for r in fake.rows if _valid(r) and r["traceId"] == trace_id), key=_sort_key)
    trace = fake.traces[trace_id]
    full = {**trace, "observations": [v1_view(r, trace) for r in members], "scores": []}
    return Reply(200, trace_view(full, _trace_fields(request)))


def v1_daily(fake: FakeLangfuse, request: RecordedRequest) -> Reply:
    # Days, and the time range, are those of the TRACE's timestamp, not the observation's
    # (web/src/pages/api/public/metrics/daily.ts reads the traces table's timestamp).
    start, end = _opt_ts(request, "fromTimestamp"), _opt_ts(request, "toTimestamp")
    tags = set(request.query.get("tags", []))
    days: dict[str, dict[str, Any]] = {}
    for row in fake.rows:
        if not _valid(row):
            continue
        trace = fake.traces.get(str(row["traceId"]), {})
        if not _in_range(trace, start, end, key="timestamp"):
            continue
        wanted = {"traceName": trace.get("name"), "userId": trace.get("userId"), "environment": row.get("environment")}
        if any(request.param(k) not in (None, v) for k, v in wanted.items()) or not tags <= set(trace.get("tags", [])):
            continue
        date = parse_ts(trace["timestamp"]).date().isoformat()
        day = days.setdefault(
            date, {"date": date, "countTraces": 0, "countObservations": 0, "totalCost": 0.0, "usage": {}}
        )
        cost = float(row.get("totalCost") or 0)
        day["countObservations"] += 1
        day["totalCost"] += cost
        model = row.get("model")
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
    """POST /scores as the 2026-08 server takes it: one object (a list is a 400), no timestamp (the
    score's timestamp is the time of the POST), and the scores table keyed by
    (project, toDate(timestamp), name, id) (packages/shared/clickhouse/migrations/unclustered/
    0003_scores.up.sql; worker/src/services/IngestionService/index.ts): the same id on a later day is
    a second score, not an overwrite. With `scores_accept_list` it plays the newer server instead."""
    body = request.body
    if fake.scores_accept_list and isinstance(body, list):
        return post_score_list(fake, body)
    if not isinstance(body, dict):
        raise BadRequest("Expected object, received array" if isinstance(body, list) else "Expected object")
    if score_item_problem(body, fake.refused_scores):
        raise BadRequest(score_item_problem(body, fake.refused_scores))
    now = fake.clock()
    score_id = str(body.get("id") or f"score-{len(fake.score_rows) + 1}")
    stored = {k: v for k, v in body.items() if k != "timestamp"} | {"timestamp": ms_iso(now)}
    fake.score_rows[(now.date().isoformat(), str(body["name"]), score_id)] = stored
    fake.scores[score_id] = stored  # the latest body per id, for tests that read one back
    return Reply(200, {"id": score_id})


def post_score_list(fake: FakeLangfuse, items: list[Any]) -> Reply:
    """The newer server (the spec the SDK 5 client is generated from, langfuse/api/scores/client.py):
    a list of CreateScoreRequest, each kept with its own `timestamp` (default: the time of the POST),
    so the same id and timestamp replace a score; 202 when all are accepted, else 207 with counts and
    one message per rejected score, and nothing of it is stored."""
    problems = [score_item_problem(item, fake.refused_scores) for item in items]
    errors = [problem for problem in problems if problem]
    now = fake.clock()
    for item, problem in zip(items, problems, strict=True):
        if problem:
            continue
        score_id = str(item.get("id") or f"score-{len(fake.score_rows) + 1}")
        stamp = datetime.fromisoformat(item["timestamp"]) if "timestamp" in item else now
        stored = item | {"timestamp": ms_iso(stamp)}
        fake.score_rows[(ms_iso(stamp), str(item["name"]), score_id)] = stored
        fake.scores[score_id] = stored
    if not errors:
        return Reply(202, {"message": "Accepted"})
    accepted = len(items) - len(errors)
    return Reply(207, {"accepted": accepted, "rejected": len(errors), "errors": [{"message": m} for m in errors]})


def score_item_problem(item: Any, refused: set[str]) -> str:
    """Why the server would refuse one score ('' when it would not); `refused` ids stand for scores
    invalid in ways the fake does not check (a value against its score config, say)."""
    if not isinstance(item, dict):
        return "Expected object"
    if str(item.get("id")) in refused:
        return f"Score {item.get('id')} is invalid for its score config"
    if not isinstance(item.get("name"), str) or not item["name"]:
        return "name: Required"
    value = item.get("value")
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return "value: Expected number or string"
    if isinstance(value, float) and not math.isfinite(value):
        return "value: Expected a finite number"
    stamp = item.get("timestamp")
    if stamp is not None:
        try:
            parsed = datetime.fromisoformat(str(stamp))
        except ValueError:
            return "timestamp: Invalid datetime"
        if parsed.tzinfo is None:
            return "timestamp: Invalid datetime (no timezone offset)"
    return ""


def delete_score(fake: FakeLangfuse, request: RecordedRequest) -> Reply:
    """DELETE /scores/{id} removes every stored score with that id, whatever its day."""
    score_id = request.path.rsplit("/", 1)[-1]
    doomed = [key for key in fake.score_rows if key[2] == score_id]
    if not doomed:
        return Reply(404, {"message": "Score not found", "error": "LangfuseNotFoundError"})
    for key in doomed:
        del fake.score_rows[key]
    fake.scores.pop(score_id, None)
    return Reply(204, raw=b"")


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
    ("DELETE", "/api/public/scores", False, delete_score),
]

"""Langfuse's legacy read API, for self-hosted v2/v3 servers that lack Observations/Metrics v2.

These routes were switched off on Langfuse Cloud on 2026-11-16 and return 404 on v4 servers in
events-only mode; the SDK v5 has no wrapper for them, so we call them with plain httpx and Basic auth.
The source only comes here after a v2 route answered 404.

v1 observations carry neither the trace's name, tags, user, session nor its metadata, so we join them
from `/api/public/traces` and emit rows shaped like Observations v2 rows, projected onto the requested
field groups: monitors get the same records from either path. Traces are asked for with
`fields=core,io`: the server returns trace metadata only with the `io` group (`fields=core` gives
`metadata: {}`; packages/shared/src/server/repositories/traces.ts).

`/observations` sorts by start time alone and pages by offset, so rows sharing a start time can repeat
or vanish between pages (packages/shared/src/server/repositories/observations.ts). We page by time
instead: each request asks for rows before the oldest millisecond of the previous page plus that
millisecond itself, and drops the ids already read.

Docs: https://langfuse.com/docs/api-and-data-platform/features/public-api (legacy section)
Spec: GET /api/public/observations, /api/public/traces, /api/public/metrics; /metrics/daily is no longer
in the spec but still served (see reference/langfuse-api-notes.md §3).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from monitors.contracts.errors import SourceError
from monitors.contracts.findings import to_ms
from monitors.contracts.records import (
    CostBucket,
    MalformedRecord,
    Observation,
    decode_metadata,
    parse_observation,
    parse_time,
)
from monitors.contracts.source import CostQuery, ObservationQuery
from monitors.sources.http import EndpointMissing, HttpSession
from monitors.sources.langfuse_legacy_costs import LegacyCosts
from monitors.sources.langfuse_v2 import MAX_PAGES, MILLISECOND, SeenRows, _iso, effective_fields
from monitors.sources.replay import observation_matches

OBSERVATIONS_PATH = "/api/public/observations"
TRACES_PATH = "/api/public/traces"
PAGE_LIMIT = 100  # legacy pages hold at most 100 rows
TRACE_LOOKBACK = timedelta(days=1)  # a trace may start before the observations we read
FEW_TRACES = 3  # below this many unknown traces, fetch them one by one instead of listing
TRACE_FIELDS = "core,io"  # trace metadata comes only with `io`

# Observations v2 field groups, for the keys our v2-shaped rows can hold.
FIELD_GROUPS: dict[str, str] = {
    "name": "basic",
    "level": "basic",
    "statusMessage": "basic",
    "version": "basic",
    "environment": "basic",
    "userId": "basic",
    "sessionId": "basic",
    "isRootObservation": "basic",
    "input": "io",
    "output": "io",
    "metadata": "metadata",
    "model": "model",
    "usageDetails": "usage",
    "costDetails": "usage",
    "totalCost": "usage",
    "tags": "trace_context",
    "traceName": "trace_context",
}


def project_row(row: Mapping[str, Any], fields: set[str]) -> dict[str, Any]:
    """Drop keys of field groups that were not requested (what a v2 server would not return)."""
    return {k: v for k, v in row.items() if FIELD_GROUPS.get(k, "core") in fields}


def project_of(trace: Mapping[str, Any]) -> str | None:
    # htmlPath is "/project/{projectId}/traces/{traceId}".
    parts = str(trace.get("htmlPath") or "").strip("/").split("/")
    return parts[1] if len(parts) >= 2 and parts[0] == "project" else None


def _total_cost(row: Mapping[str, Any]) -> Any:
    details = row.get("costDetails")
    if isinstance(details, Mapping) and details.get("total") is not None:
        return details["total"]
    return row.get("calculatedTotalCost")


def to_v2_row(row: Mapping[str, Any], trace: Mapping[str, Any]) -> dict[str, Any]:
    """A v1 observation plus its trace, as the Observations v2 row Langfuse v4 would return."""
    # v4 stores {...observation metadata, ...trace metadata} on each observation; do the same.
    metadata = {**decode_metadata(row.get("metadata")), **decode_metadata(trace.get("metadata"))}
    return {
        "id": row.get("id"),
        "traceId": row.get("traceId"),
        "type": row.get("type"),
        "startTime": row.get("startTime"),
        "endTime": row.get("endTime"),
        "projectId": project_of(trace),
        "parentObservationId": row.get("parentObservationId"),
        "name": row.get("name"),
        "level": row.get("level"),
        "statusMessage": row.get("statusMessage"),
        "version": row.get("version"),
        "environment": row.get("environment"),
        "userId": trace.get("userId"),
        "sessionId": trace.get("sessionId"),
        "isRootObservation": row.get("parentObservationId") is None,
        "input": row.get("input"),
        "output": row.get("output"),
        "metadata": metadata,
        "model": row.get("model"),
        "usageDetails": row.get("usageDetails"),
        "costDetails": row.get("costDetails"),
        "totalCost": _total_cost(row),
        "tags": trace.get("tags") or [],
        "traceName": trace.get("name"),
    }


def paged_data(body: Any, what: str) -> tuple[list[Any], int | None]:
    """(rows, totalPages) of a legacy paged response."""
    if not isinstance(body, Mapping) or not isinstance(body.get("data"), list):
        raise SourceError(f"Langfuse {what}: response is not a page of results")
    meta = body.get("meta")
    total = meta.get("totalPages") if isinstance(meta, Mapping) else None
    return body["data"], total if isinstance(total, int) else None


def _oldest(rows: list[Any]) -> datetime | None:
    times = []
    for row in rows:
        try:
            times.append(to_ms(parse_time(row.get("startTime"), field_name="startTime")))
        except (MalformedRecord, AttributeError):
            continue  # counted when the row itself is parsed
    return min(times, default=None)


class LegacyReader:
    """Reads v1 observations joined with their traces, and v1 metrics."""

    def __init__(self, session: HttpSession) -> None:
        self.session = session
        self.stats = session.stats
        self.project_id: str | None = None
        self.traces: dict[str, Mapping[str, Any]] = {}
        self._listed: set[tuple[str, str]] = set()
        self._costs = LegacyCosts(session)

    def __repr__(self) -> str:
        return f"LegacyReader(host={self.session.host!r})"

    def pages(self, path: str, params: Mapping[str, Any]) -> Iterator[list[Any]]:
        page = 1
        previous: list[Any] | None = None
        while True:
            body = self.session.get_json(path, {**params, "page": page, "limit": PAGE_LIMIT})
            rows, total_pages = paged_data(body, f"GET {path}")
            if rows and rows == previous:
                # A server ignoring `page` would otherwise be read forever.
                raise SourceError(f"Langfuse GET {path}: page {page} repeats page {page - 1}; stopping")
            previous = rows
            yield rows
            done = page >= total_pages if total_pages is not None else len(rows) < PAGE_LIMIT
            if done or not rows:
                return
            page += 1

    def observations(self, query: ObservationQuery) -> Iterator[Observation]:
        types = sorted({t.upper() for t in query.types})
        params = {
            "type": types[0] if len(types) == 1 else None,
            "level": query.levels[0] if len(query.levels) == 1 else None,
            "userId": query.user_id,
            "traceId": query.trace_id,
        }
        fields = set(effective_fields(query))
        seen = SeenRows()
        for rows in self.time_pages(params, query.window.start, query.window.end):
            self._load_traces(rows, query)
            for row in rows:
                parsed = self._parse(row, fields)
                if parsed is None:
                    continue
                full, projected = parsed
                # Full semantics on the unprojected record: v1 cannot filter session, root or cost.
                if observation_matches(full, query) and seen.first_time(full):
                    yield projected

    def time_pages(self, params: Mapping[str, Any], start: datetime, end: datetime) -> Iterator[list[Any]]:
        """Pages of [start, end) newest first, each bounded by time rather than an offset."""
        upper = end
        for _ in range(MAX_PAGES):
            window = {**params, "fromStartTime": _iso(start), "toStartTime": _iso(upper)}
            body = self.session.get_json(OBSERVATIONS_PATH, {**window, "page": 1, "limit": PAGE_LIMIT})
            rows, _total = paged_data(body, f"GET {OBSERVATIONS_PATH}")
            yield rows
            oldest = _oldest(rows)
            if len(rows) < PAGE_LIMIT or oldest is None:
                return
            if oldest + MILLISECOND >= upper:
                # A whole page in one millisecond: read that millisecond by offset, then go below it.
                boundary = {**params, "fromStartTime": _iso(oldest), "toStartTime": _iso(oldest + MILLISECOND)}
                yield from self.pages(OBSERVATIONS_PATH, boundary)
                upper = oldest
            else:
                upper = oldest + MILLISECOND  # the oldest millisecond again: its rows may straddle pages
            if upper <= start:
                return
        raise SourceError(f"Langfuse GET {OBSERVATIONS_PATH}: still not at the end after {MAX_PAGES} pages; stopping")

    def _parse(self, row: Any, fields: set[str]) -> tuple[Observation, Observation] | None:
        if not isinstance(row, Mapping):
            self.stats.count_malformed(f"observation: expected an object, got {type(row).__name__}")
            return None
        v2_row = to_v2_row(row, self.traces.get(str(row.get("traceId")), {}))
        try:
            full = parse_observation(v2_row)
            projected = parse_observation(project_row(v2_row, fields))
        except MalformedRecord as exc:
            self.stats.count_malformed(f"observation: {exc}")
            return None
        if self.project_id is None and full.project_id:
            self.project_id = full.project_id
        return full, projected

    def _load_traces(self, rows: list[Any], query: ObservationQuery) -> None:
        missing = {str(r.get("traceId")) for r in rows if isinstance(r, Mapping) and r.get("traceId")}
        missing -= self.traces.keys()
        key = (_iso(query.window.start), _iso(query.window.end))
        if len(missing) > FEW_TRACES and key not in self._listed:
            self._listed.add(key)
            params = {"fromTimestamp": _iso(query.window.start - TRACE_LOOKBACK), "toTimestamp": key[1]}
            for traces in self.pages(TRACES_PATH, {**params, "fields": TRACE_FIELDS}):
                self._remember(traces)
            missing -= self.traces.keys()
        for trace_id in sorted(missing):
            try:
                trace = self.session.get_json(f"{TRACES_PATH}/{quote(trace_id, safe='')}", {"fields": TRACE_FIELDS})
            except EndpointMissing:
                trace = {"id": trace_id}  # deleted or not yet ingested: keep the observation
            self._remember([trace])

    def _remember(self, traces: list[Any]) -> None:
        for trace in traces:
            if isinstance(trace, Mapping) and trace.get("id"):
                self.traces[str(trace["id"])] = trace
                if self.project_id is None:
                    self.project_id = project_of(trace)

    def costs(self, query: CostQuery, sum_rows: Callable[[CostQuery], list[CostBucket]]) -> list[CostBucket]:
        return self._costs.costs(query, sum_rows)

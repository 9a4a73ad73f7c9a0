"""The fake Langfuse for benchmarks: the tests' FakeLangfuse with the indexes a real server has.

FakeLangfuse scans and sorts every stored row on every request, which is fine for tests but makes a
benchmark at a million rows measure the fake (seconds per page) instead of the monitors. This
subclass answers the hot routes from indexes built once: rows sorted newest first with their start
times (a window becomes a bisect), cached filter results per query (so cursor pages are slices, as a
database cursor would be), and rows per trace. Replies are built with the fake's own view functions
(`v2_view`, `v1_view`, `run_metrics`, `condition_holds`), so they are the same bytes; the smoke test
(tests/test_benchmarks_smoke.py) compares both servers on the same requests. Every other route, the
per-request `latency` and the request log are FakeLangfuse's own. Each request's arrival time is kept
(`arrivals`) so the runner can report the busiest minute.
"""

from __future__ import annotations

import bisect
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from tests.fakes import langfuse_endpoints as ep
from tests.fakes.langfuse_filters import (
    BadRequest,
    condition_holds,
    metrics_range,
    parse_filter,
    parse_ts,
    run_metrics,
)
from tests.fakes.langfuse_limits import scan_too_big
from tests.fakes.langfuse_rows import traces_of, v1_view, v2_view
from tests.fakes.langfuse_server import FakeLangfuse, Fault, RecordedRequest, _Handler, bad_request

CACHE_QUERIES = 4  # filtered row lists kept for cursor pages (one monitor reads one query at a time)


def read_rows(path: Path) -> Iterator[dict[str, Any]]:
    """Rows of a generated JSONL file, one at a time."""
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)


@dataclass
class IndexedFakeLangfuse(FakeLangfuse):
    """FakeLangfuse over pre-sorted, indexed rows. Build it with `from_rows` (or `from_jsonl`)."""

    arrivals: list[float] = field(default_factory=list)
    compute_seconds: float = 0.0  # time spent building replies (not the injected latency)

    @classmethod
    def from_rows(cls, rows: list[dict[str, Any]], **kwargs: Any) -> IndexedFakeLangfuse:
        fake = cls(**kwargs)
        fake.set_stored_rows(rows)
        return fake

    @classmethod
    def from_jsonl(cls, path: Path, **kwargs: Any) -> IndexedFakeLangfuse:
        return cls.from_rows(list(read_rows(path)), **kwargs)

    def set_stored_rows(self, rows: list[dict[str, Any]]) -> None:
        """Take already-stored v2 rows (the generator's output) as the dataset and index them."""
        rows = [r for r in rows if ep._valid(r)]
        rows.sort(key=ep.row_key, reverse=True)
        self.rows = rows
        # Ascending epoch seconds of the rows reversed, for bisect.
        self._times = [parse_ts(r["startTime"]).timestamp() for r in reversed(rows)]
        self.traces = traces_of(rows, self.project_id)
        self._trace_list = sorted(self.traces.values(), key=lambda t: (t["timestamp"], t["id"]), reverse=True)
        self._trace_times = [parse_ts(t["timestamp"]).timestamp() for t in reversed(self._trace_list)]
        self._by_trace: dict[str, list[dict[str, Any]]] = {}
        for row in reversed(rows):  # ascending, as the single-trace route returns them
            self._by_trace.setdefault(str(row["traceId"]), []).append(row)
        self._cache: OrderedDict[Any, list[Any]] = OrderedDict()
        self._cache_lock = threading.Lock()

    def _handler_base(self) -> type[_Handler]:
        return _IndexedHandler

    def _record(self, request: RecordedRequest) -> Fault | None:
        with self._lock:
            self.arrivals.append(time.monotonic())
        return super()._record(request)

    # -- indexes --------------------------------------------------------------------------------
    def window(self, start: Any, end: Any) -> list[dict[str, Any]]:
        """Stored rows with start in [start, end) (None = open), newest first."""
        lo, hi = _span(self._times, start, end)
        n = len(self.rows)
        return self.rows[n - hi : n - lo]

    def cached(self, key: Any, build: Any) -> list[Any]:
        with self._cache_lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        value = build()
        with self._cache_lock:
            self._cache[key] = value
            while len(self._cache) > CACHE_QUERIES:
                self._cache.popitem(last=False)
        return value


def _span(times: list[float], start: Any, end: Any) -> tuple[int, int]:
    lo = 0 if start is None else bisect.bisect_left(times, start.timestamp())
    hi = len(times) if end is None else bisect.bisect_left(times, end.timestamp())
    return lo, max(lo, hi)


def _time_bounds(conditions: list[Any]) -> tuple[Any, Any]:
    """The widest [start, end) the startTime conditions allow; the conditions are still applied after."""
    start = end = None
    for cond in conditions:
        if isinstance(cond, dict) and cond.get("column") == "startTime" and cond.get("type") == "datetime":
            value = parse_ts(cond.get("value"))
            if cond.get("operator") in (">=", ">"):
                start = value if start is None else max(start, value)
            elif cond.get("operator") in ("<", "<="):
                bound = value if cond["operator"] == "<" else value + timedelta(milliseconds=1)  # "<=" keeps it
                end = bound if end is None else min(end, bound)
    return start, end


def v2_observations(fake: IndexedFakeLangfuse, request: RecordedRequest) -> ep.Reply:
    if request.param("parseIoAsJson") == "true" or request.param("filter") is None or fake.endless_cursor:
        return ep.v2_observations(fake, request)  # rare shapes: the fake's own full scan
    limit = ep._int(request, "limit", 50, 1, 1000)
    groups = [g for g in (request.param("fields") or "core,basic").split(",") if g in ep.V2_GROUP_NAMES]
    expand = set((request.param("expandMetadata") or "").split(",")) - {""}
    text = request.param("filter") or ""
    conditions = parse_filter(text)
    start, end = _time_bounds(conditions)
    if (too_big := scan_too_big(fake, len(fake.window(start, end)))) is not None:
        return too_big

    def build() -> tuple[list[dict[str, Any]], list[Any]]:
        rows = [r for r in fake.window(start, end) if all(condition_holds(r, c) for c in conditions)]
        return rows, [ep.row_key(r) for r in reversed(rows)]

    rows, ascending = fake.cached(("v2", text), build)
    page, cursor = ep.keyset_page(rows, ascending, request.param("cursor"), limit)
    if fake.repeat_cursor and request.param("cursor"):
        cursor = request.param("cursor")
    data = [{**v2_view(r, groups, expand), **fake.corrupt} for r in page]
    return ep.Reply(200, {"data": data, "meta": {"cursor": cursor} if cursor else {}})


def metrics(fake: IndexedFakeLangfuse, request: RecordedRequest, *, legacy: bool) -> ep.Reply:
    try:
        query = json.loads(request.param("query") or "")
        start, end = metrics_range(query)
    except (ValueError, AttributeError, BadRequest):
        return ep._metrics(fake, request, legacy=legacy)  # let the fake produce its own 400
    if not legacy and (limited := fake.metrics_budget.spend(fake.clock())) is not None:
        return limited
    # Metrics v2 reads [from, to] inclusive; the window index is half-open, so widen it by 1 ms.
    rows_in_range = fake.window(start, end + timedelta(milliseconds=1))
    if (too_big := scan_too_big(fake, len(rows_in_range))) is not None:
        return too_big
    return ep.Reply(200, {"data": run_metrics(rows_in_range, query, legacy=legacy)})


def v1_traces(fake: IndexedFakeLangfuse, request: RecordedRequest) -> ep.Reply:
    start, end = ep._opt_ts(request, "fromTimestamp"), ep._opt_ts(request, "toTimestamp")

    def build() -> list[dict[str, Any]]:
        lo, hi = _span(fake._trace_times, start, end)
        n = len(fake._trace_list)
        return [
            t
            for t in fake._trace_list[n - hi : n - lo]
            if all(request.param(p) in (None, t.get(p)) for p in ("userId", "name", "sessionId"))
        ]

    key = ("traces", *(request.param(p) for p in ("fromTimestamp", "toTimestamp", "userId", "name", "sessionId")))
    fields = ep._trace_fields(request)
    return ep.Reply(200, ep._page([ep.trace_view(t, fields) for t in fake.cached(key, build)], request))


def v1_trace(fake: IndexedFakeLangfuse, request: RecordedRequest) -> ep.Reply:
    trace_id = request.path.rsplit("/", 1)[-1]
    if trace_id not in fake.traces:
        return ep.v1_trace(fake, request)
    members = sorted(fake._by_trace.get(trace_id, []), key=ep._sort_key)
    trace = fake.traces[trace_id]
    full = {**trace, "observations": [v1_view(r, trace) for r in members], "scores": []}
    return ep.Reply(200, ep.trace_view(full, ep._trace_fields(request)))


# (method, path, exact?, handler): checked before the fake's own ROUTES.
FAST_ROUTES: list[tuple[str, str, bool, Any]] = [
    ("GET", "/api/public/v2/observations", True, ep._v2(v2_observations)),
    ("GET", "/api/public/v2/metrics", True, ep._v2(lambda f, r: metrics(f, r, legacy=False))),
    ("GET", "/api/public/metrics", True, ep._legacy(lambda f, r: metrics(f, r, legacy=True))),
    ("GET", "/api/public/traces", True, ep._legacy(v1_traces)),
    ("GET", "/api/public/traces", False, ep._legacy(v1_trace)),
]


class _IndexedHandler(_Handler):
    fake: IndexedFakeLangfuse
    # The fake writes headers and body in two sends; with Nagle on, the body waits for the client's
    # delayed ACK (~40 ms on Linux), which would add a hidden 40 ms to every keep-alive request.
    disable_nagle_algorithm = True

    def _route(self, method: str, path: str, request: RecordedRequest) -> ep.Reply:
        started = time.perf_counter()
        try:
            return self._fast_route(method, path, request)
        finally:
            with self.fake._lock:
                self.fake.compute_seconds += time.perf_counter() - started

    def _fast_route(self, method: str, path: str, request: RecordedRequest) -> ep.Reply:
        authorized = self.fake._authorized(self.headers.get("Authorization"))
        if authorized and path not in self.fake.missing_routes:
            for route_method, prefix, exact, handler in FAST_ROUTES:
                matched = path == prefix or (not exact and path.startswith(prefix + "/"))
                if route_method == method and matched:
                    try:
                        return handler(self.fake, request)
                    except BadRequest as exc:
                        return bad_request(exc)
        return super()._route(method, path, request)

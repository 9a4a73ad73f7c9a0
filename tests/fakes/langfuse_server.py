"""FakeLangfuse: a real HTTP server on 127.0.0.1 that plays Langfuse for tests and benchmarks.

It serves one dataset (Observation records or raw v2 rows) through both read paths:
  v2:     GET /api/public/v2/observations (keyset cursor, fields, filter, time params), GET /api/public/v2/metrics
  legacy: GET /api/public/observations, /traces, /traces/{id}, /metrics, /metrics/daily
plus GET /api/public/projects, GET /api/public/health, POST /api/public/scores and DELETE /scores/{id}.

By default it behaves like the Langfuse server (langfuse/langfuse, 2026-08), not only like its spec:
millisecond time bounds, an inclusive Metrics `toTimestamp`, a keyset cursor in `startTime DESC`
order, `model` and `""` ids in v2 rows, `count_count` as a string, trace metadata only with
`fields=io`, scores keyed by the day of the POST (a list body is a 400), a per-organisation Metrics v2
budget (`metrics_budget`, Cloud Core: 100 an hour) answered with 429 and a long Retry-After, 422
when a query reads more than `scan_limit` rows, and the server's error bodies and headers.
tests/sources/test_server_behaviour.py pins each of these with the server file it copies.

Basic auth is checked (401 otherwise, /health excepted); every request is recorded. Faults are
scriptable: `fail_next(prefix, status=429, retry_after=2, times=3)`, `delay_next`, `malformed_next`,
`reply_next` (a 200 with any body), `ignore_page` (legacy pages stuck on page 1),
`latency` (every request), `repeat_cursor`, `endless_cursor` (a new cursor on every page, for ever),
`legacy_only` (404 on v2 routes, like an older server),
`v2_only` (404 on legacy routes, like v4 events-only), `corrupt` (override a field in every v2 row).

    with FakeLangfuse(observations) as lf:
        source = LangfuseSource(lf.url, lf.public_key, lf.secret_key)
"""

from __future__ import annotations

import base64
import contextlib
import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from monitors.contracts.records import Observation
from tests.fakes.langfuse_endpoints import ROUTES
from tests.fakes.langfuse_events_endpoints import EVENT_ROUTES
from tests.fakes.langfuse_filters import BadRequest, InvalidRequest, NotServedByFake
from tests.fakes.langfuse_limits import Budget, rate_limited
from tests.fakes.langfuse_reply import Reply
from tests.fakes.langfuse_rows import stored_row, traces_of
from tests.fakes.serve import serve


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    body: Any = None

    def param(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None


@dataclass
class Fault:
    prefix: str
    times: int
    status: int | None = None
    retry_after: float | str | None = None
    delay: float = 0.0
    malformed: bool = False
    body: Any = None  # a 200 reply with this JSON body instead of the real one
    after: int = 0  # matching requests answered normally before the fault starts


@dataclass
class FakeLangfuse:
    """The fake server. Attributes may be changed while it runs (tests are single-client)."""

    observations: Iterable[Observation | Mapping[str, Any]] = ()
    public_key: str = "pk-lf-fake-public"
    secret_key: str = "sk-lf-fake-secret-DO-NOT-LEAK"
    project_id: str = "proj-fake"
    legacy_only: bool = False
    v2_only: bool = False
    repeat_cursor: bool = False
    endless_cursor: bool = False
    ignore_page: bool = False  # legacy pages: always serve page 1, as a broken proxy might
    scores_accept_list: bool = False  # True plays a newer server that takes the SDK 5 list body
    refused_scores: set[str] = field(default_factory=set)  # score ids the server finds invalid (400 / 207)
    # Metrics v2 per organisation, RateLimitService.ts: Cloud Core 100/hour (Hobby 100/day, Pro
    # 500/hour); Budget(None, 0) is a self-hosted server, which has no limits.
    metrics_budget: Budget = field(default_factory=lambda: Budget(100, 3600))
    scan_limit: int | None = 200_000  # rows one query may read before it times out (422)
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    latency: float = 0.0
    corrupt: dict[str, Any] = field(default_factory=dict)
    missing_routes: set[str] = field(default_factory=set)  # exact paths answered with 404
    requests: list[RecordedRequest] = field(default_factory=list)
    scores: dict[str, dict[str, Any]] = field(default_factory=dict)  # latest body per id
    # (day, name, id); on a list-taking server (timestamp, name, id): what the server replaces a score by
    score_rows: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)
    served_scores: list[dict[str, Any]] = field(default_factory=list)  # Scores v3 rows served to reads
    faults: list[Fault] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.rows = [stored_row(o, self.project_id) for o in self.observations]
        self.traces = traces_of(self.rows, self.project_id)
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle --------------------------------------------------------------------------------
    def start(self) -> FakeLangfuse:
        handler = type("Handler", (self._handler_base(),), {"fake": self})
        self._server, self._thread = serve(handler)
        return self

    def _handler_base(self) -> type[BaseHTTPRequestHandler]:
        """The request handler; the benchmarks' indexed fake swaps in its own."""
        return _Handler

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeLangfuse:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server is not None, "server not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    # -- scripting --------------------------------------------------------------------------------
    def fail_next(
        self, prefix: str, status: int = 500, *, retry_after: float | str | None = None, times: int = 1, after: int = 0
    ) -> None:
        with self._lock:
            self.faults.append(Fault(prefix, times, status=status, retry_after=retry_after, after=after))

    def delay_next(self, prefix: str, seconds: float, *, times: int = 1) -> None:
        with self._lock:
            self.faults.append(Fault(prefix, times, delay=seconds))

    def malformed_next(self, prefix: str, *, times: int = 1) -> None:
        with self._lock:
            self.faults.append(Fault(prefix, times, malformed=True))

    def reply_next(self, prefix: str, body: Any, *, times: int = 1) -> None:
        """Answer the next matching requests with 200 and `body` (e.g. a wrongly shaped document)."""
        with self._lock:
            self.faults.append(Fault(prefix, times, body=body))

    def requests_to(self, prefix: str) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.path.startswith(prefix)]

    def score_copies(self) -> Counter[tuple[str, str]]:
        """Rows held per score (name, id): more than one is a score that the server's analytics count twice."""
        with self._lock:
            return Counter((name, score_id) for _, name, score_id in self.score_rows)

    def set_rows(self, observations: Iterable[Observation | Mapping[str, Any]]) -> None:
        self.rows = [stored_row(o, self.project_id) for o in observations]
        self.traces = traces_of(self.rows, self.project_id)

    # -- used by the handler ----------------------------------------------------------------------
    def _record(self, request: RecordedRequest) -> Fault | None:
        with self._lock:
            self.requests.append(request)
            for fault in self.faults:
                if request.path.startswith(fault.prefix) and fault.times > 0:
                    if fault.after > 0:
                        fault.after -= 1
                        break
                    fault.times -= 1
                    return fault
        return None

    def _authorized(self, header: str | None) -> bool:
        expected = base64.b64encode(f"{self.public_key}:{self.secret_key}".encode()).decode()
        return header == f"Basic {expected}"


class _Handler(BaseHTTPRequestHandler):
    fake: FakeLangfuse
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        return

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def _serve(self, method: str) -> None:
        parts = urlsplit(self.path)
        path = unquote(parts.path)
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        request = RecordedRequest(method, path, parse_qs(parts.query), body)
        fault = self.fake._record(request)
        if self.fake.latency:
            time.sleep(self.fake.latency)
        reply = self._fault_reply(fault) or self._route(method, path, request)
        self._send(reply)

    def _fault_reply(self, fault: Fault | None) -> Reply | None:
        if fault is None:
            return None
        if fault.delay:
            time.sleep(fault.delay)
        if fault.body is not None:
            return Reply(200, fault.body)
        if fault.malformed:
            return Reply(200, raw=b'{"data": [{"id": "cut-off')
        if fault.status == 429 and isinstance(fault.retry_after, int | float):
            return rate_limited(fault.retry_after, 100, self.fake.clock())
        if fault.status is not None:
            headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
            body = {"message": "Rate limit exceeded", "code": "rate_limited"} if fault.status == 429 else {}
            return Reply(fault.status, body or {"message": "Internal Server Error"}, headers=headers)
        return None

    def _route(self, method: str, path: str, request: RecordedRequest) -> Reply:
        if path != "/api/public/health" and not self.fake._authorized(self.headers.get("Authorization")):
            return Reply(401, {"message": "Invalid credentials. Confirm that you've configured the correct host."})
        if path in self.fake.missing_routes:
            return Reply(404, {"message": "Not found", "error": "LangfuseNotFoundError"})
        for route_method, prefix, exact, handler in (*EVENT_ROUTES, *ROUTES):
            matched = path == prefix or (not exact and path.startswith(prefix + "/"))
            if route_method == method and matched:
                try:
                    return handler(self.fake, request)
                except BadRequest as exc:
                    return bad_request(exc)
                except NotServedByFake as exc:
                    return Reply(
                        501, {"message": f"not served by the fake Langfuse: {exc}", "error": "NotServedByFake"}
                    )
        return Reply(404, {"message": "Not found", "error": "LangfuseNotFoundError"})

    def _send(self, reply: Reply) -> None:
        payload = reply.raw if reply.raw is not None else json.dumps(reply.body).encode()
        self.send_response(reply.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for key, value in reply.headers.items():
            self.send_header(key, value)
        self.end_headers()
        # The client may have given up already (a timeout test); there is nobody left to tell.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(payload)


def bad_request(exc: BadRequest) -> Reply:
    """The server's 400s (web/src/features/public-api/server/withMiddlewares.ts): a failed zod
    validation lists its issues in `error`; an InvalidRequestError names itself there."""
    if isinstance(exc, InvalidRequest):
        return Reply(400, {"message": str(exc), "error": "InvalidRequestError"})
    issue = {"code": "custom", "message": str(exc), "path": []}
    return Reply(400, {"message": "Invalid request data", "error": [issue]})

"""The scheduler's HTTP listener: `/metrics` for Prometheus, `/healthz` for the liveness probe.

`/metrics` builds the series from the store at each scrape (monitors.metrics.series), so it reports
runs made by any process sharing the store, CronJobs included. `/healthz` answers 200 "ok" while the
`problem` check returns None and 503 with its reason otherwise (the scheduler passes its own check).
It deliberately does not look at Langfuse or the store: a restart fixes neither, and stale or failing
monitors are what the Prometheus rules in deploy/prometheus alert on.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

log = logging.getLogger("monitors.metrics")


class MetricsListener:
    """A small threaded HTTP server; `start()` binds (port 0 picks a free port), `stop()` closes."""

    def __init__(
        self,
        registry: CollectorRegistry,
        host: str,
        port: int,
        *,
        problem: Callable[[], str | None] = lambda: None,
    ) -> None:
        self.registry = registry
        self.host = host
        self.port = port
        self.problem = problem  # why the process is not alive, or None
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> MetricsListener:
        self._server = ThreadingHTTPServer((self.host, self.port), _handler_for(self))
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="metrics-listener", daemon=True)
        self._thread.start()
        log.info("serving /metrics and /healthz on %s:%d", self.host, self.port)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> MetricsListener:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _handler_for(owner: MetricsListener) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                # Our names need no UTF-8 escaping, so the 0.0.4 text format every Prometheus reads is exact.
                self._answer(200, generate_latest(owner.registry), CONTENT_TYPE_PLAIN_0_0_4)
            elif path == "/healthz":
                problem = owner.problem()
                self._answer(503 if problem else 200, f"{problem or 'ok'}\n".encode())
            else:
                self._answer(404, b"not found: try /metrics or /healthz\n")

        def _answer(self, status: int, body: bytes, content_type: str = "text/plain; charset=utf-8") -> None:
            try:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the scraper gave up

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("metrics listener: " + format, *args)

    return Handler

"""The scheduler's liveness: is its loop turning, and has no job run far past its deadline?

Runs end at their deadline on their own (monitors.support.deadline bounds every request and wait),
but a thread cannot be killed from outside: a job stuck where no deadline reaches (a library call
that never returns) would hold a worker, and its monitor's lock, forever. So the service checks the
running jobs on every turn of its loop, logs a job the moment it passes its deadline, and this probe
answers 503 once a job is `OVERDUE_GRACE` past it (or the loop itself stopped turning): Kubernetes
then restarts the pod, which ends the stuck run and, with it, its lock.

    GET /healthz   200 "ok" | 503 "<reason>"   (the Deployment's liveness probe)
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

OVERDUE_GRACE = 120.0  # seconds past a job's deadline before the pod is declared stuck
STALL_TURNS = 4  # loop turns without a tick before the loop is declared stuck


@dataclass
class Health:
    """What the probe answers from; the service updates it on every turn of its loop."""

    turn_interval: float
    clock: Callable[[], float] = time.monotonic
    last_turn: float = field(default=0.0)
    overdue: dict[str, tuple[float, float]] = field(default_factory=dict)  # job -> (ran, deadline) seconds
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        self.last_turn = self.clock()

    def turned(self, overdue: Mapping[str, tuple[float, float]]) -> None:
        with self._lock:
            self.last_turn = self.clock()
            self.overdue = dict(overdue)

    def problem(self) -> str | None:
        """Why the scheduler is not alive, or None."""
        with self._lock:
            since = self.clock() - self.last_turn
            overdue = dict(self.overdue)
        if since > STALL_TURNS * self.turn_interval + 5:
            return f"the scheduler loop has not turned for {since:.0f}s"
        stuck = sorted(name for name, (ran, limit) in overdue.items() if ran > limit + OVERDUE_GRACE)
        if stuck:
            ran, limit = overdue[stuck[0]]
            return f"job {stuck[0]} has run {ran:.0f}s, past its deadline of {limit:.0f}s" + (
                f" (and {len(stuck) - 1} more)" if len(stuck) > 1 else ""
            )
        return None


def serve_health(health: Health, port: int, host: str = "0.0.0.0") -> ThreadingHTTPServer:
    """Answer GET /healthz on `port` (0: any free port) from a daemon thread; returns the server."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.split("?", 1)[0] != "/healthz":
                self._answer(404, "not found")
                return
            problem = health.problem()
            self._answer(503 if problem else 200, problem or "ok")

        def _answer(self, status: int, text: str) -> None:
            body = (text + "\n").encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # a probe every few seconds is not worth a log line

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="health", daemon=True).start()
    return server

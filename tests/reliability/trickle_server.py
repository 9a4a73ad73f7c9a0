"""A server that answers every request one byte at a time: each read returns well within any read
timeout, yet the answer never ends in useful time. Real HTTP on 127.0.0.1 (port 0), one thread per
connection; it counts requests and stops writing when the client hangs up.

    with TrickleServer(interval=1.0) as server:
        server.url   # http://127.0.0.1:PORT
"""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.fakes.serve import serve

BODY = b'{"data": [], "meta": {"page": 1, "limit": 50, "totalItems": 0, "totalPages": 0}}'


class TrickleServer:
    def __init__(self, interval: float = 1.0) -> None:
        self.interval = interval
        self.requests = 0
        self._lock = threading.Lock()
        self._stopped = threading.Event()

    def __enter__(self) -> TrickleServer:
        self._server, _ = serve(_handler_for(self))
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopped.set()
        self._server.shutdown()
        self._server.server_close()

    def _count(self) -> None:
        with self._lock:
            self.requests += 1


def _handler_for(owner: TrickleServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _trickle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            owner._count()
            head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(BODY)}\r\n\r\n"
            self.close_connection = True
            try:
                for byte in head.encode("ascii") + BODY:
                    if owner._stopped.is_set():
                        return
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    time.sleep(owner.interval)
            except OSError:
                pass  # the client hung up: what a bounded client does

        do_GET = do_POST = _trickle

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler

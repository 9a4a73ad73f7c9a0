"""Start a local HTTP test server on 127.0.0.1 in a background thread: shared by every fake."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self


def serve(handler: type[BaseHTTPRequestHandler], port: int = 0) -> tuple[ThreadingHTTPServer, threading.Thread]:
    """A started server and its thread. Clients keep connections alive, so shutdown does not wait for
    their handler threads."""
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    server.daemon_threads = True
    server.block_on_close = False
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    return server, thread


class ServedFake:
    """A fake that serves itself on 127.0.0.1 inside a `with` block: subclasses give `handler()`, which
    answers through the fake's own state, and may queue failure statuses with `fail_with`."""

    port = 0
    _server: ThreadingHTTPServer | None = None

    def __init__(self) -> None:
        self._failures: list[int] = []
        self._lock = threading.Lock()

    def handler(self) -> type[BaseHTTPRequestHandler]:
        raise NotImplementedError

    def __enter__(self) -> Self:
        self._server, _ = serve(self.handler())
        self.port = self._server.server_address[1]
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def fail_with(self, *statuses: int) -> None:
        """Answer the next requests with these statuses, one each."""
        self._failures.extend(statuses)

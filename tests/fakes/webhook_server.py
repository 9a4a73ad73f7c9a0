"""A local webhook receiver for notifier and pipeline tests: real HTTP on 127.0.0.1, port 0, a thread.

It records every POST (path, headers, raw body, parsed JSON) and answers from a script:

    with WebhookServer() as hook:
        hook.script(Reply(429, headers={"Retry-After": "2"}), Reply(200, "ok"))
        url = hook.url("/hooks/secret-id")
        ...
        assert len(hook.requests) == 2

Each POST takes the next scripted Reply; once the script is empty, `default` answers (200 "ok").
A Reply can delay before answering (for client timeouts), `drop` the connection without an answer, or
`trickle` its answer one byte at a time (a server that defeats per-read timeouts).
`hook.go_down()` closes the listening socket so connections are refused; `hook.come_up()` listens again
on the same port, so a "receiver down for three runs, then up" scenario keeps the same URL.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.fakes.serve import serve


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: str = "ok"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before answering (make the client time out)
    drop: bool = False  # close the connection without any answer
    trickle: float = 0.0  # send the whole answer (status line, headers, body) one byte every this many seconds


@dataclass(frozen=True)
class Recorded:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))


class WebhookServer:
    def __init__(self, default: Reply | None = None) -> None:
        self.default = default or Reply()
        self.requests: list[Recorded] = []
        self._script: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    # --- lifecycle -------------------------------------------------------------------------------
    def start(self) -> WebhookServer:
        self._server, self._thread = serve(_handler_for(self), self.port)
        self.port = self._server.server_address[1]
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    go_down = stop  # connections to the port are refused until come_up()

    def come_up(self) -> None:
        if self._server is None:
            self.start()

    def __enter__(self) -> WebhookServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- scripting and inspection ----------------------------------------------------------------
    def url(self, path: str = "/hooks/test") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def script(self, *replies: Reply) -> None:
        with self._lock:
            self._script.extend(replies)

    def _next(self, recorded: Recorded) -> Reply:
        with self._lock:
            self.requests.append(recorded)
            return self._script.popleft() if self._script else self.default

    def bodies(self) -> list[Any]:
        return [r.json for r in self.requests]


def _handler_for(owner: WebhookServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            reply = owner._next(Recorded(self.path, dict(self.headers.items()), body))
            if reply.delay:
                time.sleep(reply.delay)
            if reply.drop:
                self.close_connection = True
                return
            data = reply.body.encode("utf-8")
            if reply.trickle:
                self._trickle(reply, data)
                return
            try:
                self.send_response(reply.status)
                for key, value in reply.headers.items():
                    self.send_header(key, value)
                if "Content-Type" not in reply.headers:
                    self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (timeout test); nothing to answer

        def _trickle(self, reply: Reply, data: bytes) -> None:
            head = f"HTTP/1.1 {reply.status} OK\r\nContent-Type: text/plain\r\nContent-Length: {len(data)}\r\n\r\n"
            self.close_connection = True
            try:
                for byte in head.encode("ascii") + data:
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    time.sleep(reply.trickle)
            except OSError:
                pass  # the client gave up, as it should

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep test output clean; requests are in owner.requests

    return Handler

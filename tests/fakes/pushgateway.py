"""A local Pushgateway: real HTTP on 127.0.0.1 that keeps groups the way the real one does.

It follows the push API of prometheus/pushgateway's README ("API"):
- `PUT|POST|DELETE /metrics/job/<JOB>{/<LABEL_NAME>/<LABEL_VALUE>}`: the grouping key is in the path;
- PUT replaces the whole group, POST (push-add) replaces only the metric names in the body, DELETE
  drops the group; 200 (PUT/POST/DELETE on success; the real one answers 200 or 202);
- the body is the text exposition format (`Content-Type: text/plain; version=0.0.4`); a body that does
  not parse, a label name that is not valid, or a pushed label that contradicts the grouping key is
  400, as in the real one (its "pushed metrics are invalid or inconsistent with existing metrics");
- `GET /metrics` exposes every group's metrics with the grouping labels added, plus
  `push_time_seconds` per group.
Every request is recorded. `fail_with(status)` answers the next pushes with that status.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import unquote

from prometheus_client.parser import text_string_to_metric_families

from tests.fakes.serve import ServedFake

_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


@dataclass(frozen=True)
class Push:
    method: str
    path: str
    content_type: str
    body: str
    status: int
    authorization: str | None = None

    @property
    def grouping(self) -> dict[str, str]:
        return parse_grouping(self.path)


def parse_grouping(path: str) -> dict[str, str]:
    parts = path.strip("/").split("/")
    if len(parts) < 3 or parts[0] != "metrics" or parts[1] != "job" or len(parts) % 2 != 1:
        raise ValueError(f"not a push path: {path}")
    labels = {"job": unquote(parts[2])}
    for name, value in zip(parts[3::2], parts[4::2], strict=True):
        if not _LABEL_NAME.match(name):
            raise ValueError(f"invalid label name {name!r}")
        labels[name] = unquote(value)
    return labels


class FakePushgateway(ServedFake):
    def __init__(self) -> None:
        super().__init__()
        self.pushes: list[Push] = []
        self.groups: dict[tuple[tuple[str, str], ...], dict[str, Any]] = {}  # key -> {name: family text}

    def handler(self) -> type[BaseHTTPRequestHandler]:
        return _handler_for(self)

    # --- the push API ------------------------------------------------------------------------------

    def handle(
        self, method: str, path: str, content_type: str, body: str, authorization: str | None = None
    ) -> tuple[int, str]:
        with self._lock:
            status, text = self._handle(method, path, content_type, body)
            self.pushes.append(Push(method, path, content_type, body, status, authorization))
            return status, text

    def _handle(self, method: str, path: str, content_type: str, body: str) -> tuple[int, str]:
        if self._failures:
            return self._failures.pop(0), "scripted failure\n"
        try:
            grouping = parse_grouping(path)
        except ValueError as exc:
            return 400, f"{exc}\n"
        key = tuple(sorted(grouping.items()))
        if method == "DELETE":
            self.groups.pop(key, None)
            return 202, ""
        if not content_type.startswith("text/plain"):
            return 415, "only the text format is supported by this fake\n"
        try:
            families = list(text_string_to_metric_families(body))
        except ValueError as exc:
            return 400, f"text format parsing error: {exc}\n"
        for family in families:
            for sample in family.samples:
                for name, value in sample.labels.items():
                    if not _LABEL_NAME.match(name):
                        return 400, f"invalid label name {name!r}\n"
                    if name in grouping and grouping[name] != value:
                        return 400, f"pushed metrics are invalid or inconsistent: label {name} differs\n"
        group = {} if method == "PUT" else dict(self.groups.get(key, {}))
        for family in families:
            group[family.name] = family
        group["push_time_seconds"] = time.time()
        self.groups[key] = group
        return 200, ""

    # --- reading back ------------------------------------------------------------------------------

    def samples(self, name: str) -> list[tuple[dict[str, str], float]]:
        """Every sample called `name` over all groups, with the grouping labels added (as GET /metrics)."""
        out = []
        with self._lock:
            for key, group in self.groups.items():
                for family in group.values():
                    if isinstance(family, float):
                        continue
                    for sample in family.samples:
                        if sample.name == name:
                            out.append(({**dict(key), **sample.labels}, sample.value))
        return out


def _handler_for(owner: FakePushgateway) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _push(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode("utf-8")
            status, text = owner.handle(
                self.command, self.path, self.headers.get("Content-Type", ""), body, self.headers.get("Authorization")
            )
            data = text.encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_PUT = do_POST = do_DELETE = _push

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler

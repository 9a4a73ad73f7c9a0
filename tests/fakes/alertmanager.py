"""A local Alertmanager API v2 receiver: `POST /api/v2/alerts` validated against the official spec.

Each body is checked against `postableAlerts` from reference/alertmanager-api-v2-openapi.yaml with
jsonschema (date-time formats included; `generatorURL`'s `uri` format is checked here by hand, as
jsonschema needs an extra package for it), then against what Alertmanager's own `Validate` refuses
(prometheus/common model.Alert): no labels, an invalid label name, `endsAt` before `startsAt`. A
failing body is answered 400 with a JSON string, as the spec's BadRequest says, and recorded.

Accepted alerts are kept by label set, newest body winning, the way Alertmanager merges re-sends;
`active(at)` lists the ones whose `endsAt` is still ahead.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import yaml

from tests.fakes.serve import ServedFake

SPEC = Path(__file__).resolve().parents[2] / "reference" / "alertmanager-api-v2-openapi.yaml"
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


def postable_alerts_validator() -> jsonschema.Draft4Validator:
    """Swagger 2.0 schemas are JSON Schema draft 4 with `#/definitions/...` references."""
    spec = yaml.safe_load(SPEC.read_text())
    assert spec["paths"]["/alerts"]["post"]["parameters"][0]["schema"] == {"$ref": "#/definitions/postableAlerts"}
    schema = {"$ref": "#/definitions/postableAlerts", "definitions": spec["definitions"]}
    return jsonschema.Draft4Validator(schema, format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER)


def problems(body: Any, validator: jsonschema.Draft4Validator) -> list[str]:
    """Why Alertmanager would refuse this body; empty when it accepts it."""
    found = [f"{'/'.join(map(str, e.path)) or '(body)'}: {e.message}" for e in validator.iter_errors(body)]
    if found:
        return found
    for i, alert in enumerate(body):
        if not alert["labels"]:
            found.append(f"{i}: at least one label pair required")
        found += [f"{i}: invalid label name {n!r}" for n in alert["labels"] if not _LABEL_NAME.match(n)]
        url = alert.get("generatorURL")
        if url is not None and not (urlsplit(url).scheme and urlsplit(url).netloc):
            found.append(f"{i}: generatorURL is not a uri")
        starts, ends = alert.get("startsAt"), alert.get("endsAt")
        if starts and ends and datetime.fromisoformat(ends) < datetime.fromisoformat(starts):
            found.append(f"{i}: start time must be before end time")
    return found


@dataclass(frozen=True)
class Post:
    path: str
    headers: dict[str, str]
    body: Any
    status: int
    problems: tuple[str, ...]


class FakeAlertmanager(ServedFake):
    def __init__(self) -> None:
        super().__init__()
        self.posts: list[Post] = []
        self.alerts: dict[tuple[tuple[str, str], ...], dict[str, Any]] = {}
        self.validator = postable_alerts_validator()

    def handler(self) -> type[BaseHTTPRequestHandler]:
        return _handler_for(self)

    def handle(self, path: str, headers: dict[str, str], raw: bytes) -> tuple[int, str]:
        with self._lock:
            if path != "/api/v2/alerts":
                status, found, body = 404, ["no such path"], None
            elif self._failures:
                status, found, body = self._failures.pop(0), ["scripted failure"], None
            else:
                try:
                    body = json.loads(raw)
                    found = problems(body, self.validator)
                except ValueError as exc:
                    body, found = None, [f"not JSON: {exc}"]
                status = 400 if found else 200
            self.posts.append(Post(path, headers, body, status, tuple(found)))
            if status == 200:
                for alert in body:
                    self.alerts[tuple(sorted(alert["labels"].items()))] = alert
            return status, json.dumps("; ".join(found)) if status != 200 else ""

    def active(self, at: datetime) -> list[dict[str, Any]]:
        return [a for a in self.alerts.values() if datetime.fromisoformat(a["endsAt"]) > at]


def _handler_for(owner: FakeAlertmanager) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            status, text = owner.handle(self.path, dict(self.headers.items()), raw)
            data = text.encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler

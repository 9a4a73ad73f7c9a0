"""A PagerDuty-like Events API v2 receiver: validates each event against the schema written from
PagerDuty's reference (pagerduty_events_v2.schema.json) and answers as PagerDuty does.

- a valid event: 202 {"status": "success", "message": "Event processed", "dedup_key": ...}
- an invalid one: 400 {"status": "invalid event", "message": "Event object is invalid", "errors": [...]}
- scripted replies (429, 500, ...), a replaced `default`, and go_down()/come_up() as in WebhookServer.

It also keeps incidents by dedup_key (open on trigger, closed on resolve), so tests can check the
lifecycle the way an on-call engineer would see it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema

from tests.fakes.webhook_server import Recorded, Reply, WebhookServer

SCHEMA = json.loads((Path(__file__).with_name("pagerduty_events_v2.schema.json")).read_text(encoding="utf-8"))
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)


def schema_errors(body: Any) -> list[str]:
    """Every way `body` breaks the Events API v2 schema ([] when it is valid)."""
    return [f"{'/'.join(map(str, e.absolute_path)) or '(event)'}: {e.message}" for e in VALIDATOR.iter_errors(body)]


class PagerDutyServer(WebhookServer):
    def __init__(self) -> None:
        super().__init__()
        self.incidents: dict[str, str] = {}  # dedup_key -> "triggered" | "resolved"
        self.rejected: list[list[str]] = []
        self.statuses: list[int] = []  # the answer to each request, in order

    def url(self, path: str = "/v2/enqueue") -> str:
        return super().url(path)

    def _next(self, recorded: Recorded) -> Reply:
        reply = self._answer(recorded)
        self.statuses.append(reply.status)
        return reply

    def _answer(self, recorded: Recorded) -> Reply:
        with self._lock:
            scripted = bool(self._script)
        reply = super()._next(recorded)
        if scripted or self.default != Reply():
            return reply  # a scripted answer, or a default the test set (e.g. 500 for every request)
        try:
            body = recorded.json
        except ValueError:
            return Reply(400, json.dumps({"status": "invalid event", "message": "Invalid JSON"}))
        errors = schema_errors(body)
        if errors:
            self.rejected.append(errors)
            reply = {"status": "invalid event", "message": "Event object is invalid", "errors": errors}
            return Reply(400, json.dumps(reply), headers={"Content-Type": "application/json"})
        key = body.get("dedup_key", "generated-key")
        self.incidents[key] = "resolved" if body["event_action"] == "resolve" else "triggered"
        reply = {"status": "success", "message": "Event processed", "dedup_key": key}
        return Reply(202, json.dumps(reply), headers={"Content-Type": "application/json"})

    def accepted(self) -> list[Any]:
        """Bodies of the events answered 202, in order."""
        return [r.json for r, status in zip(self.requests, self.statuses, strict=True) if status == 202]

"""PagerDuty Events API v2: one incident per finding, resolved when the finding no longer holds.

Setup:
1. In PagerDuty: Services -> your service -> Integrations -> Add integration -> "Events API V2".
2. Copy its Integration Key (the routing key) into the environment, e.g. PAGERDUTY_ROUTING_KEY, and
   reference it from monitors.yaml:

       channels:
         oncall: {kind: pagerduty, routing_key: "${PAGERDUTY_ROUTING_KEY}"}
       routes:
         - {min_severity: critical, channels: [oncall], send_resolved: true}

   EU accounts set `events_url: https://events.eu.pagerduty.com/v2/enqueue`.

Each firing alert is an `event_action: trigger` with `dedup_key` = the finding's fingerprint, so a
re-sent or escalated alert updates the same incident instead of opening a new one; a resolved notice is
`event_action: resolve` with the same key. On a route with `group_by` the key is the group's, for every
message of the group, so the group is one incident; a resolved notice closes it only when no other
alert of the group is still open on the channel (else nothing is sent). Severities map critical ->
critical, warning -> warning, info -> info. PagerDuty answers 202 when it accepted the event; 400 means
the event is invalid and is reported, not retried; 429 and 5xx are retried (in the run, then by the
outbox on later runs).

Docs: https://developer.pagerduty.com/docs/events-api-v2-overview (send an alert event: summary is at
most 1024 characters, dedup_key at most 255). The routing key is a credential: it is never logged, and
it is removed from any error text PagerDuty sends back.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from monitors.contracts.findings import Severity, Status
from monitors.contracts.message import Message
from monitors.notifiers.base import DeliveryResult, WebhookNotifier, check_webhook_url
from monitors.notifiers.markup import identifier, is_http, neutral, safe_url
from monitors.support.safe_text import TRUNCATED

EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"
SUMMARY_MAX = 1024
DEDUP_KEY_MAX = 255
FIELD_MAX = 255  # source, component, group, class
DETAIL_MAX = 2000  # per custom_details value
# PagerDuty refuses an event over 512 KB; custom_details get this much, the rest of the event stays small.
DETAILS_MAX_BYTES = 400_000
MAX_LINKS = 10
SEVERITY = {Severity.CRITICAL: "critical", Severity.WARNING: "warning", Severity.INFO: "info"}


class PagerDutyNotifier(WebhookNotifier):
    """Sends each message to the Events API v2 as a trigger or, for a resolved notice, a resolve."""

    kind: ClassVar[str] = "pagerduty"
    resolves_natively: ClassVar[bool] = True  # a resolved notice closes the incident its trigger opened
    max_body_chars: ClassVar[int] = SUMMARY_MAX
    request_timeout: ClassVar[float] = 10.0
    status_reasons: ClassVar[Mapping[int, str]] = {
        400: "PagerDuty rejected the event as invalid",
        401: "the routing key was not accepted",
        403: "PagerDuty refused the event",
        404: "no Events API at this URL",
        413: "the event is larger than PagerDuty accepts",
    }

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid")

        kind: Literal["pagerduty"] = "pagerduty"
        routing_key: SecretStr = Field(description="Integration key of an Events API v2 integration.")
        events_url: str = Field(EVENTS_URL, description="Events API URL; EU accounts: events.eu.pagerduty.com.")
        source: str = Field("langfuse-monitors", max_length=FIELD_MAX, description="Shown as the event's source.")
        timeout: float = Field(10.0, gt=0, le=120, description="Seconds per HTTP attempt.")

        @field_validator("events_url")
        @classmethod
        def _url(cls, value: str) -> str:
            return check_webhook_url(SecretStr(value)).get_secret_value()

        @field_validator("routing_key")
        @classmethod
        def _key(cls, value: SecretStr) -> SecretStr:
            key = value.get_secret_value().strip()
            if len(key) != 32 or not key.isalnum():
                raise ValueError("must be the 32-character integration key (the value is not shown: it is a secret)")
            return SecretStr(key)

    def target_url(self, config: Any) -> str:
        return str(config.events_url)

    def payload(self, message: Message) -> dict[str, Any]:
        return event(message, self.config.routing_key.get_secret_value(), source=self.config.source)

    def deliver(self, message: Message, *, timeout: float | None = None) -> DeliveryResult:
        if message.status is Status.RESOLVED and message.still_open:
            # Resolving would close the group's incident while other alerts of it still stand.
            reason = f"incident left open: {len(message.still_open)} other alert(s) of its group still stand"
            self.log.info("%s channel %s: nothing sent, %s", self.kind, self.name, reason)
            return DeliveryResult(True, False, None, reason, attempts=0)
        return super().deliver(message, timeout=timeout)

    def failure_reason(self, status: int, body: str) -> str:
        body = body.replace(self.config.routing_key.get_secret_value(), "…")
        reason = super().failure_reason(status, body)
        try:
            errors = json.loads(body).get("errors") or []
        except (ValueError, AttributeError):
            return reason
        detail = "; ".join(neutral(e, 200) for e in errors[:3] if isinstance(e, str))
        return f"{reason}: {detail}" if detail else reason


def dedup_key(message: Message) -> str:
    """The incident key: the group's, for a route that groups (every message of the group, a lone part
    too, updates one incident), else the fingerprint (defanged: it holds agent text and PagerDuty shows
    it), or the title when a message has none. Deterministic, so a resolve finds its trigger; keys that
    read alike stay apart (see `identifier`)."""
    key = f"group:{message.group}" if message.group else message.fingerprint or f"message:{message.title}"
    return identifier(key, DEDUP_KEY_MAX)


def event(message: Message, routing_key: str, *, source: str = "langfuse-monitors") -> dict[str, Any]:
    """The Events API v2 body for `message`: a trigger, or a resolve for a resolved notice."""
    key = dedup_key(message)
    if message.status is Status.RESOLVED:
        return {"routing_key": routing_key, "event_action": "resolve", "dedup_key": key}
    payload: dict[str, Any] = {
        "summary": neutral(message.title if not message.summary else f"{message.title}: {message.summary}", SUMMARY_MAX)
        or "langfuse-monitors alert",
        "source": neutral(source, FIELD_MAX),
        "severity": SEVERITY.get(message.severity, "info"),
        "custom_details": _details(message),
    }
    if message.observed_at:
        payload["timestamp"] = message.observed_at
    for name, value in (("component", message.monitor), ("group", message.group), ("class", message.kind)):
        if value:
            payload[name] = neutral(value, FIELD_MAX)
    body: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": key,
        "payload": payload,
        "client": "langfuse-monitors",
    }
    links = [{"href": safe_url(x.url), "text": neutral(x.label, 200)} for x in message.links if is_http(x.url)]
    if links:
        body["links"] = links[:MAX_LINKS]
    return body


def _details(message: Message) -> dict[str, Any]:
    """The fields, then the sections (a group's parts), as many as fit DETAILS_MAX_BYTES, then the footer.

    What does not fit is counted under TRUNCATED. A name that repeats (two parts titled alike, two
    fields with one label) gets " (2)", " (3)": no detail overwrites another.
    """
    footer = neutral(message.footer, 500) if message.footer else ""
    room = DETAILS_MAX_BYTES - _wire_size("footer", footer)
    entries: list[tuple[str, Any]] = [
        (neutral(label, 100) or "-", neutral(value, DETAIL_MAX)) for label, value in message.fields
    ]
    entries += [
        (neutral(s.heading, 200) or "-", [neutral(line, DETAIL_MAX) for line in s.lines[:50]]) for s in message.sections
    ]
    details: dict[str, Any] = {}
    for i, (name, value) in enumerate(entries):
        room -= _wire_size(name, value) + 10  # 10: a " (n)" suffix and the separator
        if room < 100:  # what the note takes
            what = "part" if message.group else "detail"
            details[TRUNCATED] = f"{len(entries) - i} more {what}(s) not shown"
            break
        details[_unique(name, details)] = value
    if footer:
        details[_unique("footer", details)] = footer
    return details


def _wire_size(name: str, value: Any) -> int:
    """Bytes of `"name": value` in the body as sent (non-ASCII characters are escaped there)."""
    return len(json.dumps(name)) + len(json.dumps(value)) + 2


def _unique(name: str, taken: Mapping[str, Any]) -> str:
    if name not in taken:
        return name
    n = 2
    while f"{name} ({n})" in taken:
        n += 1
    return f"{name} ({n})"

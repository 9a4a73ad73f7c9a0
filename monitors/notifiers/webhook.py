"""Generic webhook: a versioned JSON envelope POSTed to any URL, optionally signed with HMAC-SHA256.

Setup:
1. Give your receiver an https endpoint that accepts a JSON POST and answers 2xx.
2. Optionally pick a shared secret; each request then carries
   `X-Langfuse-Monitors-Signature: sha256=<hex HMAC-SHA256 of the raw body>`. Verify it before you
   trust the body (compare in constant time, e.g. Python's `hmac.compare_digest`).
3. In monitors.yaml (secrets from the environment or a mounted file):

       channels:
         hooks:
           kind: webhook
           webhook_url: "${ALERT_WEBHOOK_URL}"
           secret: "${ALERT_WEBHOOK_SECRET}"                       # optional
           headers: {Authorization: "Bearer ${ALERT_WEBHOOK_TOKEN}"}  # optional, values are secrets

The envelope (version 1; a field is only ever added within a version):

    {"type": "langfuse-monitors.alert", "version": 1, "fingerprint": "cost:per-agent:llm-fix:2026-11-21",
     "monitor": "cost", "kind": "budget", "severity": "critical", "status": "firing" | "resolved",
     "title": "...", "summary": "...", "fields": [{"label": "...", "value": "..."}],
     "sections": [{"heading": "...", "lines": ["..."]}], "links": [{"label": "...", "url": "https://..."}],
     "group": "agent=llm-fix day=2026-11-21", "parts": ["<fingerprint>", ...], "observed_at": "...Z",
     "footer": "..."}

Text is plain (no markup) and may come from an agent: it is cleaned of control characters and
defanged ('@' and "://" carry an invisible U+2060), so a receiver that forwards it into a chat pings no
one; the receiver still escapes it for its own format. `links` are built by us, never from agent text.
`fingerprint` and `parts` identify findings: one that cannot be shown whole (too long, or holding a
blob-like id) ends with " #<digest of all of it>", so two findings never share one.
The URL, the secret and the header values are credentials: never logged.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from monitors.contracts.message import Message
from monitors.notifiers.base import WebhookNotifier, check_webhook_url
from monitors.notifiers.markup import identifier, is_http, neutral, safe_url

ENVELOPE_TYPE = "langfuse-monitors.alert"
ENVELOPE_VERSION = 1
SIGNATURE_HEADER = "X-Langfuse-Monitors-Signature"
_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")  # an HTTP header name (RFC 9110 token)
_RESERVED = {"content-type", "content-length", "host", "user-agent", SIGNATURE_HEADER.lower()}


class WebhookChannelNotifier(WebhookNotifier):
    """POSTs the versioned JSON envelope of each message to one URL."""

    kind: ClassVar[str] = "webhook"
    max_body_chars: ClassVar[int] = 4000  # summary; the whole envelope stays well under 100 KB
    title_max: ClassVar[int] = 300
    field_value_max: ClassVar[int] = 2000
    max_fields: ClassVar[int] = 50
    max_sections: ClassVar[int] = 50
    max_section_lines: ClassVar[int] = 100
    request_timeout: ClassVar[float] = 10.0
    status_reasons: ClassVar[Mapping[int, str]] = {
        401: "the receiver wants credentials (check headers)",
        403: "the receiver refused the request (check the secret or headers)",
        404: "no receiver at this URL",
        413: "the receiver says the body is too large",
    }

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid")

        kind: Literal["webhook"] = "webhook"
        webhook_url: SecretStr = Field(description="Receiver URL; use ${ALERT_WEBHOOK_URL}.")
        secret: SecretStr | None = Field(None, description="HMAC-SHA256 key; signs the body when set.")
        headers: dict[str, SecretStr] = Field(default_factory=dict, description="Extra request headers.")
        timeout: float = Field(10.0, gt=0, le=120, description="Seconds per HTTP attempt.")

        _url = field_validator("webhook_url")(check_webhook_url)

        @field_validator("headers")
        @classmethod
        def _header_names(cls, value: dict[str, SecretStr]) -> dict[str, SecretStr]:
            for name, header in value.items():
                if not _TOKEN.match(name):
                    raise ValueError(f"{name!r} is not a valid HTTP header name")
                if name.lower() in _RESERVED:
                    raise ValueError(f"{name!r} is set by the channel itself")
                if any(c in header.get_secret_value() for c in "\r\n\0"):
                    raise ValueError(f"the value of {name!r} holds a line break (not shown: it may be a secret)")
            return value

    def payload(self, message: Message) -> dict[str, Any]:
        return envelope(message, self)

    def extra_headers(self, body: bytes) -> dict[str, str]:
        headers = {name: value.get_secret_value() for name, value in self.config.headers.items()}
        if self.config.secret is not None:
            headers[SIGNATURE_HEADER] = "sha256=" + sign(self.config.secret.get_secret_value(), body)
        return headers


def sign(secret: str, body: bytes) -> str:
    """Hex HMAC-SHA256 of the exact body bytes: what a receiver recomputes to verify a request."""
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def envelope(message: Message, limits: Any = WebhookChannelNotifier) -> dict[str, Any]:
    """The version-1 envelope of `message`, every string defanged and within `limits`."""
    fields = [
        {"label": neutral(label, 200), "value": neutral(value, limits.field_value_max)}
        for label, value in message.fields[: limits.max_fields]
    ]
    if len(message.fields) > limits.max_fields:
        fields.append({"label": "truncated", "value": f"{len(message.fields) - limits.max_fields} more field(s)"})
    sections = [
        {
            "heading": neutral(section.heading, limits.title_max),
            "lines": [neutral(line, limits.field_value_max) for line in section.lines[: limits.max_section_lines]],
        }
        for section in message.sections[: limits.max_sections]
    ]
    return {
        "type": ENVELOPE_TYPE,
        "version": ENVELOPE_VERSION,
        "fingerprint": identifier(message.fingerprint, 400),
        "monitor": message.monitor,
        "kind": neutral(message.kind, 100),
        "severity": message.severity.label,
        "status": message.status.value,
        "title": neutral(message.title, limits.title_max),
        "summary": neutral(message.summary, limits.max_body_chars),
        "fields": fields,
        "sections": sections,
        "links": [{"label": neutral(x.label, 200), "url": safe_url(x.url)} for x in message.links if is_http(x.url)],
        "group": neutral(message.group, 400),
        "parts": [identifier(p, 400) for p in message.parts],
        "observed_at": message.observed_at,
        "footer": neutral(message.footer, 500),
    }

"""Mattermost incoming webhooks: Markdown text plus one attachment (colour, fields, links).

Setup:
1. System Console -> Integrations -> Integration Management: enable incoming webhooks (and, only if
   you set `username`, `icon_url` or `channel` below, "Enable integrations to override usernames /
   profile picture icons"; a webhook may be locked to its channel).
2. Main menu -> Integrations -> Incoming Webhooks -> Add Incoming Webhook; pick the channel.
3. Put the URL (https://mattermost.example.com/hooks/<id>) in the environment, e.g.
   MATTERMOST_WEBHOOK_URL, and reference it from monitors.yaml:

       channels:
         ops-mm: {kind: mattermost, webhook_url: "${MATTERMOST_WEBHOOK_URL}", username: monitors}

The hook id in the URL is a credential: anyone holding it can post. It is never logged.

Docs:
- Incoming webhooks: https://developers.mattermost.com/integrate/webhooks/incoming/
- Message attachments (fallback, color, fields, short): https://developers.mattermost.com/integrate/reference/message-attachments/
- Post length: 16383 characters since Mattermost 5.0 (4000 before). Servers before 5.0 also rejected
  attachments over 7900 characters in total, so attachment content is kept under that.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from monitors.contracts.findings import Severity
from monitors.contracts.message import Message
from monitors.notifiers.base import WebhookNotifier, check_webhook_url
from monitors.support.safe_text import markdown_link, mattermost_markdown, mattermost_plain

POST_MAX = 16383
ATTACHMENT_MAX = 7900
TITLE_MAX = 500
LABEL_MAX = 200
FIELD_VALUE_MAX = 1000
LINKS_MAX = 2000
SHORT_FIELD = 40  # values up to this long render side by side

SEVERITY_COLOR = {Severity.CRITICAL: "#D0021B", Severity.WARNING: "#F5A623", Severity.INFO: "#4A90E2"}
SEVERITY_MARK = {
    Severity.CRITICAL: ":red_circle: **CRITICAL**",
    Severity.WARNING: ":large_orange_diamond: **WARNING**",
    Severity.INFO: ":information_source: **INFO**",
}

# Mattermost answers errors with JSON {"id": ..., "message": ..., "status_code": ...}; we read the id.
MATTERMOST_ERRORS: Mapping[str, str] = {
    "web.incoming_webhook.invalid.app_error": "the webhook id is invalid or was deleted",
    "web.incoming_webhook.disabled.app_error": "incoming webhooks are disabled on this server",
    "web.incoming_webhook.parse.app_error": "Mattermost could not parse the payload",
    "web.incoming_webhook.text.app_error": "the payload has no text",
    "web.incoming_webhook.channel.app_error": "the channel override does not exist",
    "web.incoming_webhook.channel_locked.app_error": "this webhook is locked to its own channel",
    "web.incoming_webhook.permissions.app_error": "the webhook may not post to that channel",
    "web.incoming_webhook.user.app_error": "the webhook's owner no longer exists",
}
_ERROR_ID = re.compile(r"[a-z0-9_.]{1,100}")


class MattermostNotifier(WebhookNotifier):
    """Posts a Markdown message with one coloured attachment to a Mattermost incoming webhook."""

    kind: ClassVar[str] = "mattermost"
    max_body_chars: ClassVar[int] = POST_MAX  # the post's text; attachments have their own budget
    request_timeout: ClassVar[float] = 10.0  # seconds per attempt unless Config.timeout says otherwise
    # Mattermost answers 501 when an admin disabled incoming webhooks: retrying will not help.
    permanent_statuses: ClassVar[frozenset[int]] = frozenset({501})
    status_reasons: ClassVar[Mapping[int, str]] = {
        400: "Mattermost rejected the payload",
        401: "the webhook is not authorised",
        403: "posting with this webhook is forbidden (channel locked or overrides disabled)",
        404: "the webhook was not found (deleted, or a wrong URL)",
        413: "the payload is too large",
        501: "incoming webhooks are disabled on this server",
    }

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid")

        kind: Literal["mattermost"] = "mattermost"
        webhook_url: SecretStr = Field(description="Incoming webhook URL; use ${MATTERMOST_WEBHOOK_URL}.")
        username: str | None = Field(None, description="Display name override (needs server permission).")
        icon_url: str | None = Field(None, description="Avatar override (needs server permission).")
        channel: str | None = Field(None, description="Channel override, e.g. town-square.")
        timeout: float = Field(10.0, gt=0, le=120, description="Seconds per HTTP attempt.")

        _url = field_validator("webhook_url")(check_webhook_url)

    def payload(self, message: Message) -> dict[str, Any]:
        body: dict[str, Any] = {"text": _text(message), "attachments": [_attachment(message)]}
        for key in ("username", "icon_url", "channel"):
            value = getattr(self.config, key)
            if value:
                body[key] = value
        return body

    def failure_reason(self, status: int, body: str) -> str:
        try:
            error_id = str(json.loads(body).get("id", ""))
        except (ValueError, AttributeError):
            error_id = ""
        if error_id in MATTERMOST_ERRORS:
            return f"HTTP {status}: {MATTERMOST_ERRORS[error_id]} ({error_id})"
        reason = super().failure_reason(status, body)
        # The id is a fixed message key, never user data, so it is safe to repeat when it looks like one.
        return f"{reason} ({error_id})" if _ERROR_ID.fullmatch(error_id) else reason


def _text(message: Message) -> str:
    mark = SEVERITY_MARK.get(message.severity, message.severity.label.upper())
    head = f"#### {mark} {mattermost_markdown(message.title, TITLE_MAX)}"
    if not message.summary.strip():
        return head
    return f"{head}\n{mattermost_markdown(message.summary, POST_MAX - len(head) - 1)}"


def _attachment(message: Message) -> dict[str, Any]:
    label = message.severity.label.upper()
    text = _links(message)
    budget = ATTACHMENT_MAX - len(text) - len(message.footer[:300])
    fields, budget = _fields(message, budget)
    sections = _sections(message, budget)
    attachment: dict[str, Any] = {
        "fallback": mattermost_plain(f"{label}: {message.title}", TITLE_MAX),
        "color": SEVERITY_COLOR.get(message.severity, "#888888"),
    }
    if fields:
        attachment["fields"] = fields
    if text or sections:
        attachment["text"] = "\n\n".join(part for part in (sections, text) if part)
    if message.footer.strip():
        attachment["footer"] = mattermost_plain(message.footer, 300)
    return attachment


def _links(message: Message) -> str:
    links = [link for link in (markdown_link(x.url, x.label, LABEL_MAX) for x in message.links) if link]
    text = ""
    for i, link in enumerate(links):
        candidate = f"{text} · {link}" if text else f":link: {link}"
        reserve = 60 if i < len(links) - 1 else 0  # room for the "more links" note
        if len(candidate) + reserve > LINKS_MAX:
            return f"{text} … (truncated: {len(links) - i} more link(s))".strip()
        text = candidate
    return text


def _fields(message: Message, budget: int) -> tuple[list[dict[str, Any]], int]:
    out: list[dict[str, Any]] = []
    for i, (label, value) in enumerate(message.fields):
        title = mattermost_plain(label, LABEL_MAX)
        shown = mattermost_markdown(value, min(FIELD_VALUE_MAX, max(budget - len(title) - 100, 0)))
        if budget - len(title) - len(shown) < 100:
            note = f"{len(message.fields) - i} more field(s) not shown"
            out.append({"title": "… (truncated)", "value": note, "short": False})
            return out, 0
        short = len(value) <= SHORT_FIELD and "\n" not in value
        out.append({"title": title, "value": shown or "-", "short": short})
        budget -= len(title) + len(shown)
    return out, budget


def _sections(message: Message, budget: int) -> str:
    parts: list[str] = []
    for i, section in enumerate(message.sections):
        heading = f"##### {mattermost_markdown(section.heading, LABEL_MAX)}"
        room = budget - len(heading) - 60
        if room < 100:
            parts.append(f"… (truncated: {len(message.sections) - i} more section(s) not shown)")
            break
        body = mattermost_markdown("\n".join(section.lines), min(room, POST_MAX))
        parts.append(f"{heading}\n{body}" if body else heading)
        budget -= len(parts[-1]) + 2
    return "\n\n".join(parts)

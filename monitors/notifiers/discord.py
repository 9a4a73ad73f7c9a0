"""Discord channel webhooks: one embed per message, mentions disabled.

Setup:
1. Server Settings -> Integrations -> Webhooks -> New Webhook; pick the channel; "Copy Webhook URL".
2. Put the URL (https://discord.com/api/webhooks/<id>/<token>) in the environment, e.g.
   DISCORD_WEBHOOK_URL, and reference it from monitors.yaml:

       channels:
         ops-discord: {kind: discord, webhook_url: "${DISCORD_WEBHOOK_URL}", username: monitors}

The token in the URL is a credential: never logged.

Every body carries `allowed_mentions: {"parse": []}`, so Discord resolves no mention at all; agent text
is also escaped (monitors.notifiers.markup.discord_markdown: Markdown syntax backslash-escaped, '@',
"://" and "www." defanged, '<' '>' as lookalikes), so it can neither ping, link nor format.
Limits (https://discord.com/developers/docs/resources/message#embed-object-embed-limits): title 256,
description 4096, 25 fields of name 256 / value 1024, footer 2048, and 6000 characters in all.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from monitors.contracts.findings import Severity, Status
from monitors.contracts.message import Message
from monitors.notifiers.base import WebhookNotifier, check_webhook_url
from monitors.notifiers.markup import discord_markdown, is_http, safe_url
from monitors.support.safe_text import TRUNCATED

TITLE_MAX = 256
DESCRIPTION_MAX = 4096
MAX_FIELDS = 25
FIELD_NAME_MAX = 256
FIELD_VALUE_MAX = 1024
FOOTER_MAX = 2048
EMBED_TOTAL_MAX = 6000
USERNAME_MAX = 80
SHORT_FIELD = 40  # values this short sit side by side (inline)
SEVERITY_COLOR = {Severity.CRITICAL: 0xD00000, Severity.WARNING: 0xF2A900, Severity.INFO: 0x3A7BD5}
RESOLVED_COLOR = 0x2EB67D


class DiscordNotifier(WebhookNotifier):
    """Posts one embed per message to a Discord channel webhook."""

    kind: ClassVar[str] = "discord"
    max_body_chars: ClassVar[int] = DESCRIPTION_MAX
    request_timeout: ClassVar[float] = 10.0
    status_reasons: ClassVar[Mapping[int, str]] = {
        400: "Discord rejected the message (invalid embed)",
        401: "the webhook token is not valid",
        403: "the webhook may not post in this channel",
        404: "the webhook was deleted (Unknown Webhook)",
        413: "the message is too large",
    }

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid")

        kind: Literal["discord"] = "discord"
        webhook_url: SecretStr = Field(description="Channel webhook URL; use ${DISCORD_WEBHOOK_URL}.")
        username: str | None = Field(None, max_length=USERNAME_MAX, description="Overrides the webhook's name.")
        timeout: float = Field(10.0, gt=0, le=120, description="Seconds per HTTP attempt.")

        _url = field_validator("webhook_url")(check_webhook_url)

        @field_validator("username")
        @classmethod
        def _username(cls, value: str | None) -> str | None:
            # Discord refuses these in webhook names.
            if value is not None and any(bad in value.lower() for bad in ("discord", "clyde", "@", "#", "`")):
                raise ValueError("may not contain 'discord', 'clyde', '@', '#' or '`'")
            return value

    def payload(self, message: Message) -> dict[str, Any]:
        body: dict[str, Any] = {"embeds": [embed(message)], "allowed_mentions": {"parse": []}}
        if self.config.username:
            body["username"] = self.config.username
        return body


def embed(message: Message) -> dict[str, Any]:
    """One embed within Discord's limits; fields and sections past the 6000-character total are counted."""
    mark = "RESOLVED" if message.status is Status.RESOLVED else message.severity.label.upper()
    title = discord_markdown(f"{mark}: {message.title}", TITLE_MAX)
    footer = discord_markdown(message.footer, FOOTER_MAX) if message.footer.strip() else ""
    links = _links(message)
    room = EMBED_TOTAL_MAX - len(title) - len(footer) - len(links) - 200  # 200: the "not shown" field
    description = discord_markdown(message.summary, max(min(DESCRIPTION_MAX - len(links) - 2, room // 2), 0))
    room -= len(description)
    fields: list[dict[str, Any]] = []
    items = [(label, value, len(value) <= SHORT_FIELD) for label, value in message.fields]
    items += [(s.heading, "\n".join(s.lines), False) for s in message.sections]
    for i, (label, value, inline) in enumerate(items):
        name = discord_markdown(label, FIELD_NAME_MAX) or "-"
        shown = discord_markdown(value, FIELD_VALUE_MAX) or "-"
        if (len(fields) == MAX_FIELDS - 1 and i < len(items) - 1) or len(name) + len(shown) > room:
            fields.append({"name": TRUNCATED, "value": f"{len(items) - i} more field(s) not shown", "inline": False})
            break
        fields.append({"name": name, "value": shown, "inline": inline})
        room -= len(name) + len(shown)
    out: dict[str, Any] = {
        "title": title,
        "description": "\n\n".join(part for part in (description, links) if part),
        "color": RESOLVED_COLOR if message.status is Status.RESOLVED else SEVERITY_COLOR.get(message.severity, 0),
    }
    if fields:
        out["fields"] = fields
    if footer:
        out["footer"] = {"text": footer}
    if message.observed_at:
        out["timestamp"] = message.observed_at
    return out


def _links(message: Message) -> str:
    """Our links as masked links, as many as fit a quarter of the description."""
    text = ""
    for x in message.links:
        if not is_http(x.url):
            continue
        url = safe_url(x.url)
        link = f"[{discord_markdown(x.label, 200)}]({url})"
        candidate = f"{text} · {link}" if text else link
        if len(candidate) > DESCRIPTION_MAX // 4:
            return f"{text} … (more links not shown)"
        text = candidate
    return text

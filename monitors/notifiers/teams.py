"""Microsoft Teams through a Power Automate "Workflows" webhook carrying an Adaptive Card.

The classic Office 365 connectors (outlook.office.com/webhook URLs, MessageCard) are retired; Teams
channels now receive webhooks through Workflows.

Setup:
1. In the Teams channel: ... -> Workflows -> "Post to a channel when a webhook request is received"
   (or in Power Automate, the template of that name); pick the team and channel, then copy the URL
   (https://prod-NN.<region>.logic.azure.com/workflows/.../triggers/manual/paths/invoke?...&sig=...).
2. Put it in the environment, e.g. TEAMS_WEBHOOK_URL, and reference it from monitors.yaml:

       channels:
         ops-teams: {kind: teams, webhook_url: "${TEAMS_WEBHOOK_URL}"}

The URL (its `sig` parameter) is a credential: never logged. The flow answers 202 Accepted.

Payload: `{"type": "message", "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive",
"content": <AdaptiveCard 1.4>}]}`. TextBlocks and FactSet values render a Markdown subset in Teams, so
agent text has its syntax characters swapped for lookalikes and '@', "://" and "www." defanged
(monitors.notifiers.markup.teams_markdown); our own links are `Action.OpenUrl` buttons.
Docs: https://adaptivecards.io/explorer/ and https://learn.microsoft.com/microsoftteams/platform/
task-modules-and-cards/cards/cards-format (Teams messages are limited to about 28 KB).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from monitors.contracts.findings import Severity, Status
from monitors.contracts.message import Message
from monitors.notifiers.base import WebhookNotifier, check_webhook_url
from monitors.notifiers.markup import is_http, safe_url, teams_markdown
from monitors.support.safe_text import TRUNCATED

CARD_VERSION = "1.4"
MAX_PAYLOAD_BYTES = 27_000  # Teams rejects messages over ~28 KB; keep room for its own wrapping
TITLE_MAX = 200
TEXT_MAX = 3000
FACT_TITLE_MAX = 100
FACT_VALUE_MAX = 1000
MAX_FACTS = 20
MAX_ACTIONS = 6  # Teams shows at most six actions on a card
SEVERITY_STYLE = {Severity.CRITICAL: "attention", Severity.WARNING: "warning", Severity.INFO: "accent"}


class TeamsNotifier(WebhookNotifier):
    """Posts one Adaptive Card per message to a Teams Workflows webhook."""

    kind: ClassVar[str] = "teams"
    max_body_chars: ClassVar[int] = TEXT_MAX
    request_timeout: ClassVar[float] = 15.0
    status_reasons: ClassVar[Mapping[int, str]] = {
        400: "the workflow rejected the request (is it the 'webhook request is received' trigger?)",
        401: "the workflow URL's signature was not accepted",
        403: "the workflow refused the request",
        404: "the workflow or its trigger no longer exists",
        413: "the card is larger than Teams accepts",
    }

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid")

        kind: Literal["teams"] = "teams"
        webhook_url: SecretStr = Field(description="Workflows webhook URL; use ${TEAMS_WEBHOOK_URL}.")
        timeout: float = Field(15.0, gt=0, le=120, description="Seconds per HTTP attempt.")

        _url = field_validator("webhook_url")(check_webhook_url)

    def payload(self, message: Message) -> dict[str, Any]:
        return {
            "type": "message",
            "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive", "content": card(message)}],
        }


def card(message: Message) -> dict[str, Any]:
    """An Adaptive Card 1.4 for `message` that fits Teams' size limit: sections are dropped first; when
    the rest alone is too large (long fields of characters that take three bytes each), every text is
    cut shorter until the card fits."""
    for divisor in _SHRINK:
        content = _card(message, divisor)
        if _size(content) <= MAX_PAYLOAD_BYTES:
            break
    return content


# Each step divides the text limits: 3000 characters of summary and 1000 per field become 1500 and 500, ...
_SHRINK = (1, 2, 4, 8, 16, 32)


def _card(message: Message, divisor: int) -> dict[str, Any]:
    """The card with text limits divided by `divisor`, with as many sections as fit (maybe none)."""
    text_max = TEXT_MAX // divisor
    head = _head(message, text_max)
    facts = _facts(message, FACT_VALUE_MAX // divisor)
    actions = [
        {"type": "Action.OpenUrl", "title": teams_markdown(x.label, 100) or "Open", "url": safe_url(x.url)}
        for x in message.links
        if is_http(x.url)
    ][:MAX_ACTIONS]
    sections = [_section(s.heading, s.lines, text_max) for s in message.sections]
    footer = [_text(message.footer, size="Small", subtle=True)] if message.footer.strip() else []
    while True:
        shown = [block for section in sections for block in section]
        if len(sections) < len(message.sections):
            note = f"{TRUNCATED}: {len(message.sections) - len(sections)} more section(s) not shown"
            shown.append(_text(note, size="Small", subtle=True))
        content: dict[str, Any] = {
            "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
            "type": "AdaptiveCard",
            "version": CARD_VERSION,
            "body": head + facts + shown + footer,
            "msteams": {"width": "Full"},
        }
        if actions:
            content["actions"] = actions
        if _size(content) <= MAX_PAYLOAD_BYTES or not sections:
            return content
        sections = sections[:-1]


def _size(content: dict[str, Any]) -> int:
    return len(json.dumps(content, ensure_ascii=False).encode("utf-8"))


def _head(message: Message, text_max: int) -> list[dict[str, Any]]:
    mark = "RESOLVED" if message.status is Status.RESOLVED else message.severity.label.upper()
    style = "good" if message.status is Status.RESOLVED else SEVERITY_STYLE.get(message.severity, "default")
    title = {
        "type": "Container",
        "style": style,
        "bleed": True,
        "items": [_text(f"{mark}: {message.title}", size="Large", weight="Bolder", limit=TITLE_MAX)],
    }
    return [title, _text(message.summary, limit=text_max)] if message.summary.strip() else [title]


def _facts(message: Message, value_max: int) -> list[dict[str, Any]]:
    facts = [
        {"title": teams_markdown(label, FACT_TITLE_MAX) or "-", "value": teams_markdown(value, value_max) or "-"}
        for label, value in message.fields[:MAX_FACTS]
    ]
    if len(message.fields) > MAX_FACTS:
        facts.append({"title": TRUNCATED, "value": f"{len(message.fields) - MAX_FACTS} more field(s) not shown"})
    return [{"type": "FactSet", "facts": facts}] if facts else []


def _section(heading: str, lines: tuple[str, ...], text_max: int) -> list[dict[str, Any]]:
    return [_text(heading, weight="Bolder", limit=TITLE_MAX, separator=True), _text("\n".join(lines), limit=text_max)]


def _text(text: str, *, limit: int = TEXT_MAX, **style: Any) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "TextBlock", "text": teams_markdown(text, limit) or "-", "wrap": True}
    for key, value in style.items():
        if key == "subtle":
            block["isSubtle"] = value
        else:
            block[key] = value
    return block

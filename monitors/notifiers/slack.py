"""Slack incoming webhooks, with Block Kit and a plain-text fallback.

Setup:
1. https://api.slack.com/apps -> Create New App -> From scratch; pick the workspace.
2. Features -> Incoming Webhooks -> Activate, then "Add New Webhook to Workspace" and pick the channel.
3. Put the URL (https://hooks.slack.com/services/T.../B.../...) in the environment, e.g.
   SLACK_WEBHOOK_URL, and reference it from monitors.yaml:

       channels:
         ops-slack: {kind: slack, webhook_url: "${SLACK_WEBHOOK_URL}"}

The URL is a credential: anyone holding it can post to the channel. It is never logged.

Docs:
- Incoming webhooks and their errors: https://api.slack.com/messaging/webhooks#handling_errors
- Block Kit limits: https://api.slack.com/reference/block-kit/blocks (header text 150, section text
  3000, section fields 10 x 2000, 50 blocks per message)
- Escaping (&, <, >): https://api.slack.com/reference/surfaces/formatting#escaping

Every mrkdwn text object is sent with `verbatim: true`, so Slack does not auto-link URLs, channel names
or mentions in it; the text is also escaped (monitors.support.safe_text.slack_mrkdwn).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from monitors.contracts.findings import Severity
from monitors.contracts.message import Message, Section
from monitors.notifiers.base import WebhookNotifier, check_webhook_url
from monitors.support.safe_text import slack_link, slack_mrkdwn, slack_plain

HEADER_MAX = 150
SECTION_TEXT_MAX = 3000
FIELD_TEXT_MAX = 2000
FIELDS_PER_SECTION = 10
MAX_BLOCKS = 50
LABEL_MAX = 200

SEVERITY_MARK = {Severity.CRITICAL: "🔴 CRITICAL", Severity.WARNING: "🟠 WARNING", Severity.INFO: "🔵 INFO"}

# Slack answers a failed webhook call with a short error code as the body.
SLACK_ERRORS: Mapping[str, str] = {
    "invalid_payload": "Slack could not parse the payload (invalid_payload)",
    "invalid_blocks": "Slack rejected the Block Kit blocks (invalid_blocks)",
    "invalid_blocks_format": "Slack rejected the Block Kit layout (invalid_blocks_format)",
    "too_many_attachments": "too many attachments (too_many_attachments)",
    "user_not_found": "the webhook's user no longer exists (user_not_found)",
    "channel_not_found": "the webhook's channel no longer exists (channel_not_found)",
    "channel_is_archived": "the webhook's channel is archived (channel_is_archived)",
    "action_prohibited": "a workspace admin restricted posting to this channel (action_prohibited)",
    "posting_to_general_channel_denied": "only admins may post to this channel (posting_to_general_channel_denied)",
    "no_service": "the webhook was disabled, removed or never existed (no_service)",
    "no_service_id": "the webhook URL is missing its service id (no_service_id)",
    "no_team": "the workspace of this webhook no longer exists (no_team)",
    "team_disabled": "the workspace of this webhook is disabled (team_disabled)",
    "invalid_token": "the webhook token is no longer valid (invalid_token)",
}


class SlackNotifier(WebhookNotifier):
    """Posts a Block Kit message to one Slack incoming webhook."""

    kind: ClassVar[str] = "slack"
    max_body_chars: ClassVar[int] = SECTION_TEXT_MAX  # one section block's text; longer is truncated
    request_timeout: ClassVar[float] = 10.0  # seconds per attempt unless Config.timeout says otherwise
    status_reasons: ClassVar[Mapping[int, str]] = {
        400: "Slack rejected the payload",
        403: "posting is forbidden for this webhook",
        404: "the webhook or its channel was not found",
        410: "the webhook's channel is archived",
        413: "the payload is too large",
    }

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid")

        kind: Literal["slack"] = "slack"
        webhook_url: SecretStr = Field(description="Incoming webhook URL; use ${SLACK_WEBHOOK_URL}.")
        timeout: float = Field(10.0, gt=0, le=120, description="Seconds per HTTP attempt.")

        _url = field_validator("webhook_url")(check_webhook_url)

    def payload(self, message: Message) -> dict[str, Any]:
        mark = SEVERITY_MARK.get(message.severity, message.severity.label.upper())
        fallback = f"{mark}: {message.title}"
        if message.summary:
            fallback += f" - {message.summary}"
        return {
            "text": slack_mrkdwn(fallback, 500),
            "blocks": _blocks(message, mark),
            "unfurl_links": False,
            "unfurl_media": False,
        }

    def failure_reason(self, status: int, body: str) -> str:
        code = body.strip()
        if code in SLACK_ERRORS:
            return f"HTTP {status}: {SLACK_ERRORS[code]}"
        return super().failure_reason(status, body)


def _mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text, "verbatim": True}


def _blocks(message: Message, mark: str) -> list[dict[str, Any]]:
    header = slack_plain(f"{mark}: {message.title}", HEADER_MAX)
    blocks: list[dict[str, Any]] = [{"type": "header", "text": {"type": "plain_text", "text": header, "emoji": False}}]
    if message.summary.strip():
        blocks.append({"type": "section", "text": _mrkdwn(slack_mrkdwn(message.summary, SECTION_TEXT_MAX))})
    tail = _tail_blocks(message)
    # Header, summary and the tail (links, footer) always fit; fields and sections share what is left.
    room = MAX_BLOCKS - len(blocks) - len(tail)
    blocks.extend(_body_blocks(message, room))
    return blocks + tail


def _body_blocks(message: Message, room: int) -> list[dict[str, Any]]:
    body = [
        _fields_block(message.fields[i : i + FIELDS_PER_SECTION])
        for i in range(0, len(message.fields), FIELDS_PER_SECTION)
    ]
    body += [_section_block(section) for section in message.sections]
    if len(body) <= room:
        return body
    dropped = len(body) - (room - 1)
    note = f"… (truncated: {dropped} more block(s) of fields or sections not shown)"
    return [*body[: room - 1], {"type": "context", "elements": [_mrkdwn(note)]}]


def _fields_block(fields: tuple[tuple[str, str], ...]) -> dict[str, Any]:
    items = []
    for label, value in fields:
        head = f"*{slack_mrkdwn(label, LABEL_MAX)}*\n" if label.strip() else ""
        items.append(_mrkdwn(head + (slack_mrkdwn(value, FIELD_TEXT_MAX - len(head)) or "-")))
    return {"type": "section", "fields": items}


def _section_block(section: Section) -> dict[str, Any]:
    head = f"*{slack_mrkdwn(section.heading, LABEL_MAX)}*\n"
    lines = "\n".join(section.lines)
    return {"type": "section", "text": _mrkdwn(head + (slack_mrkdwn(lines, SECTION_TEXT_MAX - len(head)) or "-"))}


def _tail_blocks(message: Message) -> list[dict[str, Any]]:
    tail: list[dict[str, Any]] = []
    links = [link for link in (slack_link(x.url, x.label, LABEL_MAX) for x in message.links) if link]
    if links:
        tail.append({"type": "section", "text": _mrkdwn(_join_links(links))})
    if message.footer.strip():
        footer = slack_plain(message.footer, FIELD_TEXT_MAX)
        tail.append({"type": "context", "elements": [{"type": "plain_text", "text": footer, "emoji": False}]})
    return tail


def _join_links(links: list[str]) -> str:
    """Links joined on one line, as many as fit a section; a link is never cut in half."""
    text = ""
    for i, link in enumerate(links):
        candidate = f"{text} · {link}" if text else link
        reserve = 60 if i < len(links) - 1 else 0  # room for the "more links" note
        if len(candidate) + reserve > SECTION_TEXT_MAX:
            return f"{text} … (truncated: {len(links) - i} more link(s))".strip()
        text = candidate
    return text

"""Builders for the newer channels (webhook, PagerDuty, Teams, Discord, email) against local receivers."""

from __future__ import annotations

from typing import Any

import requests

from monitors.notifiers.discord import DiscordNotifier
from monitors.notifiers.email import EmailNotifier
from monitors.notifiers.pagerduty import PagerDutyNotifier
from monitors.notifiers.teams import TeamsNotifier
from monitors.notifiers.webhook import WebhookChannelNotifier
from monitors.support.retry import RetryPolicy
from tests.fakes.smtp_server import SmtpServer
from tests.fakes.webhook_server import WebhookServer

ROUTING_KEY = "routingkey" + "0" * 21 + "1"  # 32 characters, like a real integration key
WEBHOOK_SECRET = "whsec-test-0123456789"
HTTP_KINDS = ("webhook", "pagerduty", "teams", "discord")
HTTP_CLASSES = {
    "webhook": WebhookChannelNotifier,
    "pagerduty": PagerDutyNotifier,
    "teams": TeamsNotifier,
    "discord": DiscordNotifier,
}


def http_config(kind: str, url: str, **extra: Any) -> dict[str, Any]:
    """A channel body as it would appear in monitors.yaml."""
    if kind == "pagerduty":
        return {"kind": kind, "routing_key": ROUTING_KEY, "events_url": url, **extra}
    if kind == "webhook":
        return {"kind": kind, "webhook_url": url, "secret": WEBHOOK_SECRET, **extra}
    return {"kind": kind, "webhook_url": url, **extra}


def http_notifier(kind: str, hook: WebhookServer, retry: RetryPolicy, session: requests.Session | None = None) -> Any:
    cls = HTTP_CLASSES[kind]
    config = cls.Config.model_validate(http_config(kind, hook.url(f"/{kind}/SECRETPATH")))
    return cls(kind, config, retry=retry, session=session)


def email_config(smtp: SmtpServer, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "email",
        "host": "127.0.0.1",
        "port": smtp.port,
        "security": "starttls" if smtp.tls else "none",
        "from_addr": "langfuse-monitors <alerts@example.com>",
        "to": ["oncall@example.com", "Lead <lead@example.com>"],
        "timeout": 5,
    }
    if smtp.user is not None:
        body |= {"username": smtp.user, "password": smtp.password}
    return body | extra


def email_notifier(smtp: SmtpServer, retry: RetryPolicy, **extra: Any) -> EmailNotifier:
    config = EmailNotifier.Config.model_validate(email_config(smtp, **extra))
    return EmailNotifier("mail", config, retry=retry, ssl_context=smtp.client_context() if smtp.tls else None)

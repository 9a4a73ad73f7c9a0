"""The hostile-text corpus (the one the Slack and Mattermost suites use) through every new format, as the
local receivers got it: 0 live mentions, links, images or markup. Also: the text is escaped, not dropped,
and no credential of these channels leaks into results or logs."""

from __future__ import annotations

import logging
from dataclasses import replace

import pytest

from monitors.contracts.findings import Link, Severity, Status
from monitors.contracts.message import Message, Section
from monitors.engine.render import message_for
from monitors.support.safe_text import WORD_JOINER
from tests.fakes.smtp_server import SmtpServer
from tests.fakes.webhook_server import Reply
from tests.notifiers.channels import HTTP_KINDS, ROUTING_KEY, WEBHOOK_SECRET, email_notifier, http_notifier
from tests.notifiers.conftest import critical_finding
from tests.notifiers.hostile_check import harm_in_email, harm_in_json, strings
from tests.reliability.harness import HOSTILE, HOSTILE_TEXT, LANGFUSE_HOST


def hostile_message(status: Status = Status.FIRING) -> Message:
    return Message(
        title=f"Loop in {HOSTILE_TEXT}",
        severity=Severity.CRITICAL,
        summary=HOSTILE_TEXT,
        fields=tuple((f"field {i} {text}", text) for i, text in enumerate(HOSTILE)),
        links=(
            Link(HOSTILE[2], f"{LANGFUSE_HOST}/project/p/traces/t-1"),
            Link("javascript", "javascript:alert(1)"),  # never rendered: not http(s)
        ),
        sections=(Section(HOSTILE[5], HOSTILE), Section("tools", (HOSTILE[1], HOSTILE[3]))),
        footer=HOSTILE[6],
        fingerprint=f"audit:{HOSTILE[0]}:loop",
        monitor="audit",
        kind="loop",
        status=status,
        observed_at="2026-03-12T09:00:00Z",
        group=f"agent={HOSTILE[8]}",
    )


@pytest.mark.parametrize("kind", HTTP_KINDS)
@pytest.mark.parametrize("status", list(Status))
def test_hostile_text_is_neutral_in_every_json_channel(kind, status, hook, session, retry):
    assert harm_in_json({"text": HOSTILE_TEXT}, kind)  # the check itself sees the raw corpus as harmful
    assert http_notifier(kind, hook, retry, session).deliver(hostile_message(status)).ok
    body = hook.requests[0].json
    assert harm_in_json(body, kind) == []
    flat = "\n".join(text for _, text in strings(body))
    assert f"@{WORD_JOINER}channel" in flat  # escaped, not dropped (a resolve carries the defanged key)
    assert "javascript" not in "".join(str(v) for k, v in _links(body))


def _links(node, key=""):
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _links(v, k)
    elif isinstance(node, list):
        for v in node:
            yield from _links(v, key)
    elif key in ("url", "href"):
        yield key, node


@pytest.mark.parametrize("status", list(Status))
def test_hostile_text_is_neutral_in_email(status, retry):
    with SmtpServer() as smtp:
        assert email_notifier(smtp, retry).deliver(hostile_message(status)).ok
    email = smtp.messages[0]
    assert harm_in_email(email) == []
    assert f"@{WORD_JOINER}here" in email["Subject"]
    html = email.get_body(("html",)).get_content()
    assert "&lt;script" not in html and "‹script›" in html  # escaped to a lookalike, still readable
    assert f'href="{LANGFUSE_HOST}/project/p/traces/t-1"' in html and "javascript:" not in html


def test_the_checks_catch_each_kind_of_harm():
    assert harm_in_json({"description": "[x](https://evil.example)"}, "discord")
    assert harm_in_json({"description": "**bold**"}, "discord")
    assert harm_in_json({"value": "<@123>"}, "discord")
    assert harm_in_json({"text": "_it_"}, "teams")
    assert harm_in_json({"summary": "see www.evil.example"}, "pagerduty")
    assert harm_in_json({"url": "https://evil.example/x"}, "webhook")
    assert harm_in_json({"title": "bidi \u202eevil"}, "webhook")


@pytest.mark.parametrize("kind", HTTP_KINDS)
@pytest.mark.parametrize("reply", [Reply(500, "boom"), Reply(400, "bad"), Reply(drop=True)])
def test_channel_credentials_never_leak(kind, reply, hook, session, retry, caplog):
    caplog.set_level(logging.DEBUG)
    retry.attempts = 2
    hook.default = replace(reply, body=f"{reply.body} {ROUTING_KEY} {WEBHOOK_SECRET} /{kind}/SECRETPATH")
    notifier = http_notifier(kind, hook, retry, session)
    result = notifier.deliver(message_for(critical_finding()))
    assert not result.ok
    seen = [repr(result), result.reason, repr(notifier), repr(notifier.config), str(notifier.config)]
    seen += [record.getMessage() for record in caplog.records]
    # PagerDuty's events URL is public (its secret is the routing key); every other URL is a credential.
    secrets = (ROUTING_KEY, WEBHOOK_SECRET) if kind == "pagerduty" else (ROUTING_KEY, WEBHOOK_SECRET, "SECRETPATH")
    for text in seen:
        for secret in secrets:
            assert secret not in text, (kind, text)


def test_smtp_password_never_leaks(retry, caplog):
    caplog.set_level(logging.DEBUG)
    with SmtpServer(user="alerts", password="the-right-one", tls=True) as smtp:
        notifier = email_notifier(smtp, retry, password="wrong-SECRET-pw")
        result = notifier.deliver(message_for(critical_finding()))
    assert not result.ok
    seen = [repr(result), repr(notifier), repr(notifier.config), *(r.getMessage() for r in caplog.records)]
    assert not [text for text in seen if "wrong-SECRET-pw" in text]

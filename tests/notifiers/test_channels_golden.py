"""Golden payloads of the newer channels, as their local receivers got them, plus each format's limits.

Regenerate after an intended change with `UPDATE_GOLDEN=1 pytest tests/notifiers/test_channels_golden.py`
and review the diff of tests/golden/ like code.
"""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from monitors.contracts.findings import Status
from monitors.contracts.message import Section
from monitors.engine.render import message_for
from monitors.notifiers import discord, teams
from monitors.support.safe_text import TRUNCATED
from tests.fakes.pagerduty_server import PagerDutyServer, schema_errors
from tests.fakes.smtp_server import SmtpServer
from tests.notifiers.channels import HTTP_KINDS, email_notifier, http_notifier
from tests.notifiers.conftest import critical_finding, warning_finding
from tests.notifiers.test_golden import FINDINGS, _check, _dump

HUGE = "The agent kept retrying the same tool call. " * 5000


@pytest.mark.parametrize("kind", HTTP_KINDS)
@pytest.mark.parametrize("severity", sorted(FINDINGS))
def test_http_channel_payload_matches_golden(kind, severity, hook, session, retry):
    assert http_notifier(kind, hook, retry, session).deliver(message_for(FINDINGS[severity]())).ok
    assert len(hook.requests) == 1
    assert hook.requests[0].headers["Content-Type"] == "application/json"
    _check(f"{kind}_{severity}.json", _dump(hook.requests[0].json))


def test_pagerduty_resolve_matches_golden(hook, session, retry):
    resolved = replace(critical_finding(), status=Status.RESOLVED, title="Drift no longer holds")
    assert http_notifier("pagerduty", hook, retry, session).deliver(message_for(resolved)).ok
    _check("pagerduty_resolved.json", _dump(hook.requests[0].json))


@pytest.mark.parametrize("severity", sorted(FINDINGS))
def test_email_matches_golden(severity, retry):
    with SmtpServer() as smtp:
        assert email_notifier(smtp, retry).deliver(message_for(FINDINGS[severity]())).ok
    email = smtp.messages[0]
    text = email.get_body(("plain",)).get_content()
    html = email.get_body(("html",)).get_content()
    golden = f"Subject: {email['Subject']}\n\n{text}\n----- html -----\n{html}"
    _check(f"email_{severity}.txt", golden.replace("\r\n", "\n"))


def test_pagerduty_bodies_follow_the_events_v2_schema(session, retry):
    with PagerDutyServer() as pd:
        notifier = http_notifier("pagerduty", pd, retry, session)
        for finding in (warning_finding(), critical_finding()):
            assert notifier.deliver(message_for(finding)).ok
            assert notifier.deliver(replace(message_for(finding), summary=HUGE, title=HUGE)).ok
            assert notifier.deliver(message_for(replace(finding, status=Status.RESOLVED))).ok
        assert [schema_errors(r.json) for r in pd.requests] == [[]] * 6
        assert pd.statuses == [202] * 6
        key = critical_finding().fingerprint
        assert pd.incidents[key] == "resolved"
        trigger = pd.requests[0].json
        assert (trigger["event_action"], trigger["dedup_key"]) == ("trigger", warning_finding().fingerprint)
        assert trigger["payload"]["severity"] == "warning" and pd.requests[3].json["payload"]["severity"] == "critical"


def test_schema_rejects_what_pagerduty_rejects():
    assert schema_errors({"routing_key": "x" * 32, "event_action": "trigger"})  # no payload
    assert schema_errors({"routing_key": "x" * 32, "event_action": "resolve"})  # no dedup_key
    bad = {"summary": "s", "source": "x", "severity": "fatal"}
    assert schema_errors({"routing_key": "x" * 32, "event_action": "trigger", "payload": bad})


def test_discord_huge_message_stays_within_embed_limits(hook, session, retry):
    fields = tuple((f"Field {i}", HUGE[:3000]) for i in range(40))
    sections = tuple(Section(f"Part {i}", (HUGE[:5000],)) for i in range(10))
    message = replace(message_for(critical_finding()), title=HUGE, summary=HUGE, fields=fields, sections=sections)
    assert http_notifier("discord", hook, retry, session).deliver(message).ok
    body = hook.requests[0].json
    assert body["allowed_mentions"] == {"parse": []}
    embed = body["embeds"][0]
    assert len(embed["title"]) <= discord.TITLE_MAX and embed["title"].endswith(TRUNCATED)
    assert len(embed["description"]) <= discord.DESCRIPTION_MAX
    assert len(embed["fields"]) <= discord.MAX_FIELDS
    assert all(len(f["name"]) <= 256 and len(f["value"]) <= 1024 for f in embed["fields"])
    total = len(embed["title"]) + len(embed["description"]) + len(embed["footer"]["text"])
    total += sum(len(f["name"]) + len(f["value"]) for f in embed["fields"])
    assert total <= discord.EMBED_TOTAL_MAX
    assert embed["fields"][-1]["name"] == TRUNCATED and "not shown" in embed["fields"][-1]["value"]
    assert "traces/7f3e" in embed["description"]  # the links survive


def test_teams_huge_message_fits_the_size_limit(hook, session, retry):
    sections = tuple(Section(f"Part {i}", (HUGE[:5000],)) for i in range(20))
    message = replace(message_for(critical_finding()), summary=HUGE, sections=sections)
    assert http_notifier("teams", hook, retry, session).deliver(message).ok
    card = hook.requests[0].json["attachments"][0]["content"]
    assert len(json.dumps(card, ensure_ascii=False).encode()) <= teams.MAX_PAYLOAD_BYTES
    texts = [block.get("text", "") for block in card["body"]]
    assert any("more section(s) not shown" in t for t in texts)
    assert card["actions"][0]["url"].endswith("traces/7f3e")


def test_webhook_envelope_is_signed_over_the_exact_body(hook, session, retry):
    from monitors.notifiers.webhook import SIGNATURE_HEADER, sign
    from tests.notifiers.channels import WEBHOOK_SECRET

    assert http_notifier("webhook", hook, retry, session).deliver(message_for(warning_finding())).ok
    request = hook.requests[0]
    assert request.headers[SIGNATURE_HEADER] == "sha256=" + sign(WEBHOOK_SECRET, request.body)
    assert request.json["version"] == 1 and request.json["status"] == "firing"


def test_pagerduty_400_is_reported_not_retried_and_429_5xx_are_retried(session, retry, sleeps):
    from tests.fakes.webhook_server import Reply

    invalid = '{"status": "invalid event", "message": "Event object is invalid", "errors": ["Length of summary"]}'
    with PagerDutyServer() as pd:
        notifier = http_notifier("pagerduty", pd, retry, session)
        pd.script(Reply(400, invalid))
        bad = notifier.deliver(message_for(critical_finding()))
        assert (bad.ok, bad.retryable, bad.status, bad.attempts) == (False, False, 400, 1)
        assert bad.reason == "HTTP 400: PagerDuty rejected the event as invalid: Length of summary"
        assert sleeps == []
        pd.script(Reply(429, "", headers={"Retry-After": "3"}), Reply(502, "bad gateway"))
        ok = notifier.deliver(message_for(critical_finding()))
        assert (ok.ok, ok.status, ok.attempts) == (True, 202, 3) and sleeps[0] == 3.0
        pd.default = Reply(500, "")
        down = notifier.deliver(message_for(critical_finding()))
    assert (down.ok, down.retryable, down.status, down.attempts) == (False, True, 500, retry.attempts)

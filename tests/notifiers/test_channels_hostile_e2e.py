"""Hostile agent text end to end through the new channels: the real audit monitor, the real pipeline with
a grouping route (so agent-chosen names also land in group titles and keys), and every new notifier
posting to its local receiver. Every payload as received is harmless and still carries the text."""

from __future__ import annotations

from monitors.engine.config import settings_from_dict
from monitors.engine.pipeline import RunDeps, run_once
from monitors.sources.replay import ReplaySource
from monitors.store.store import Store
from monitors.support.safe_text import WORD_JOINER
from tests.fakes.pagerduty_server import PagerDutyServer, schema_errors
from tests.fakes.smtp_server import SmtpServer
from tests.fakes.webhook_server import WebhookServer
from tests.notifiers.channels import email_config, http_config
from tests.notifiers.hostile_check import harm_in_email, harm_in_json, strings
from tests.reliability.harness import HOSTILE, HOSTILE_TEXT, LANGFUSE_HOST, NOW, notifiers_for, tool_session, window

EVIL_AGENT = "bot <!here> @all [x](https://evil.example)"
KINDS = ("webhook", "teams", "discord")


def test_audit_with_hostile_names_through_every_new_channel(sqlite_store: Store) -> None:
    calls = [("search<!channel>@here", {"q": HOSTILE_TEXT}), ("open [x](https://evil.example)", {"p": HOSTILE[3]})]
    source = ReplaySource.from_observations(
        tool_session("sess-@here", calls * 4, agent=EVIL_AGENT), host=LANGFUSE_HOST, project_id="proj-1"
    )
    with WebhookServer() as hook, PagerDutyServer() as pd, SmtpServer() as smtp:
        channels = {kind: http_config(kind, hook.url(f"/{kind}/x")) for kind in KINDS}
        channels |= {"pagerduty": http_config("pagerduty", pd.url()), "email": email_config(smtp)}
        raw = {
            "channels": channels,
            "routes": [{"channels": list(channels), "group_by": ["agent", "session"]}],
        }
        settings = settings_from_dict(raw, env={})
        deps = RunDeps(source, sqlite_store, notifiers_for(settings))
        summary = run_once("audit", settings, deps, now=NOW, since=window().start, until=NOW)
    assert (summary.status, summary.findings, summary.delivered) == ("ok", 1, 5), summary.line()
    for request in hook.requests:
        kind = request.path.split("/")[1]
        assert harm_in_json(request.json, kind) == [], kind
        text = "\n".join(t for _, t in strings(request.json))
        assert f"@{WORD_JOINER}here" in text and "traces/trace-sess-%40here" in text, kind
    [event] = pd.requests
    assert schema_errors(event.json) == [] and harm_in_json(event.json, "pagerduty") == []
    [email] = smtp.messages
    assert harm_in_email(email) == []
    assert f"search‹!channel›@{WORD_JOINER}here" in email.get_body(("plain",)).get_content()

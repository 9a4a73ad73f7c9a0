"""Drive every notifier into every failure; the webhook URL and its secret path must leak nowhere.

Checked: every log record at DEBUG from every logger (urllib3 included), the DeliveryResult, the
notifier's and config's repr, and any exception raised.
"""

from __future__ import annotations

import io
import logging

import pytest

from monitors.engine.render import message_for, test_message
from monitors.notifiers.mattermost import MattermostNotifier
from monitors.notifiers.slack import SlackNotifier
from monitors.notifiers.stdout import StdoutNotifier
from tests.fakes.webhook_server import Reply
from tests.notifiers.conftest import SECRET_PATH, critical_finding

FAILURES = {
    "429-exhausted": lambda hook: setattr(hook, "default", Reply(429, "", headers={"Retry-After": "1"})),
    "500": lambda hook: setattr(hook, "default", Reply(500, "internal error")),
    "400": lambda hook: hook.script(Reply(400, "invalid_payload")),
    "404": lambda hook: hook.script(Reply(404, "no_service")),
    # A server that echoes the URL back in its error body (some proxies do).
    "400-echo": lambda hook: hook.script(Reply(400, f"bad webhook {hook.url(SECRET_PATH)} at {SECRET_PATH}")),
    "redirect": lambda hook: hook.script(Reply(301, "", headers={"Location": hook.url(SECRET_PATH + "/x")})),
    "timeout": lambda hook: setattr(hook, "default", Reply(200, delay=0.6)),
    "drop": lambda hook: setattr(hook, "default", Reply(drop=True)),
    "down": lambda hook: hook.go_down(),
}


def _secrets(url: str) -> list[str]:
    return [url, SECRET_PATH, *[part for part in SECRET_PATH.split("/") if "SECRET" in part or "Token" in part]]


@pytest.mark.parametrize("failure", sorted(FAILURES))
@pytest.mark.parametrize("cls", [SlackNotifier, MattermostNotifier])
def test_webhook_url_never_leaks(cls, failure, hook, session, retry, caplog):
    caplog.set_level(logging.DEBUG)  # root: captures urllib3's request lines too
    retry.attempts = 2
    url = hook.url(SECRET_PATH)
    notifier = cls("ops", cls.Config(webhook_url=url, timeout=0.2), retry=retry, session=session)
    FAILURES[failure](hook)
    try:
        result = notifier.deliver(message_for(critical_finding()))
    except Exception as exc:
        leaked = any(secret in f"{exc!r} {exc.__context__!r}" for secret in _secrets(url))
        pytest.fail(f"deliver raised {type(exc).__name__} (URL in it: {leaked})")
    assert not result.ok
    seen = [repr(result), result.reason]
    seen += [repr(notifier), repr(notifier.config), str(notifier.config)]
    seen += [record.getMessage() for record in caplog.records]
    assert any(record.name.startswith("monitors.notifiers") for record in caplog.records)
    for text in seen:
        for secret in _secrets(url):
            assert secret not in text, (failure, text)


@pytest.mark.parametrize("cls", [SlackNotifier, MattermostNotifier])
def test_success_logs_name_channel_and_redacted_host_only(cls, hook, session, retry, caplog):
    caplog.set_level(logging.DEBUG)
    url = hook.url(SECRET_PATH)
    assert cls("ops", cls.Config(webhook_url=url), retry=retry, session=session).deliver(test_message()).ok
    lines = [record.getMessage() for record in caplog.records]
    assert any(f"channel ops (127.0.0.1:{hook.port}/…)" in line for line in lines)
    assert not [line for line in lines for secret in _secrets(url) if secret in line]


def test_stdout_notifier_reports_a_closed_stream_instead_of_raising(monkeypatch):
    closed = io.StringIO()
    closed.close()
    monkeypatch.setattr("sys.stdout", closed)
    result = StdoutNotifier("console").deliver(test_message())
    assert (result.ok, result.retryable) == (False, False)
    assert "stdout" in result.reason

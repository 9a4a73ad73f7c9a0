"""Delivery against a live local receiver: retries, Retry-After, timeouts, permanent failures."""

from __future__ import annotations

import json
import time

import pytest

from monitors.engine.render import message_for, test_message
from monitors.notifiers.mattermost import MattermostNotifier
from monitors.notifiers.slack import SlackNotifier
from tests.fakes.webhook_server import Reply
from tests.notifiers.conftest import warning_finding

NOTIFIERS = [SlackNotifier, MattermostNotifier]


def make(cls, hook, session, retry, timeout=5.0, path="/hooks/abc"):
    return cls("ops", cls.Config(webhook_url=hook.url(path), timeout=timeout), retry=retry, session=session)


@pytest.mark.parametrize("cls", NOTIFIERS)
def test_429_with_retry_after_then_200_delivers_once(cls, hook, session, retry, sleeps):
    hook.script(Reply(429, "rate_limited", headers={"Retry-After": "7"}), Reply(200, "ok"))
    result = make(cls, hook, session, retry).deliver(message_for(warning_finding()))
    assert (result.ok, result.status, result.attempts) == (True, 200, 2)
    assert sleeps == [7.0]  # the server's Retry-After, not our own backoff
    assert len(hook.requests) == 2 and hook.requests[0].body == hook.requests[1].body


@pytest.mark.parametrize("cls", NOTIFIERS)
def test_repeated_500_returns_retryable_after_all_attempts(cls, hook, session, retry, sleeps):
    hook.default = Reply(500, "boom")
    result = make(cls, hook, session, retry).deliver(message_for(warning_finding()))
    assert (result.ok, result.retryable, result.status) == (False, True, 500)
    assert result.attempts == retry.attempts == len(hook.requests)
    assert len(sleeps) == retry.attempts - 1
    for i, wait in enumerate(sleeps):  # exponential backoff with full jitter, capped
        ceiling = min(retry.max_delay, retry.base_delay * 2**i)
        assert ceiling / 2 <= wait <= ceiling


@pytest.mark.parametrize("cls", NOTIFIERS)
def test_retry_after_on_last_attempt_is_reported(cls, hook, session, retry):
    hook.default = Reply(503, "busy", headers={"Retry-After": "12"})
    result = make(cls, hook, session, retry).deliver(test_message())
    assert result.retryable and result.retry_after == 12.0


@pytest.mark.parametrize(
    ("cls", "reply", "expected"),
    [
        (SlackNotifier, Reply(400, "invalid_payload"), "invalid_payload"),
        (SlackNotifier, Reply(404, "no_service"), "no_service"),
        (SlackNotifier, Reply(404, "channel_not_found"), "channel no longer exists"),
        (SlackNotifier, Reply(410, "channel_is_archived"), "archived"),
        (SlackNotifier, Reply(403, "action_prohibited"), "admin restricted"),
        (SlackNotifier, Reply(404, "something new"), "not found"),
        (
            MattermostNotifier,
            Reply(400, json.dumps({"id": "web.incoming_webhook.invalid.app_error", "status_code": 400})),
            "invalid or was deleted",
        ),
        (MattermostNotifier, Reply(404, "not json"), "webhook was not found"),
        (MattermostNotifier, Reply(403, json.dumps({"id": "some.other.app_error"})), "(some.other.app_error)"),
        (
            MattermostNotifier,
            Reply(501, json.dumps({"id": "web.incoming_webhook.disabled.app_error"})),
            "disabled on this server",
        ),
    ],
)
def test_client_errors_are_permanent_with_a_reason(cls, reply, expected, hook, session, retry, sleeps):
    hook.script(reply)
    result = make(cls, hook, session, retry).deliver(test_message())
    assert (result.ok, result.retryable, result.status, result.attempts) == (False, False, reply.status, 1)
    assert expected in result.reason
    assert sleeps == [] and len(hook.requests) == 1


@pytest.mark.parametrize("cls", NOTIFIERS)
def test_a_timed_out_post_is_not_retried_in_the_call(cls, hook, session, retry):
    # The POST reached the chat; only its answer was late. Another POST now would be a duplicate, so the
    # result says "unconfirmed" and the outbox decides (at most one more POST, on the next run).
    hook.script(Reply(200, delay=1.5), Reply(200, "ok"))
    result = make(cls, hook, session, retry, timeout=0.3).deliver(test_message())
    assert (result.ok, result.retryable, result.unconfirmed, result.status, result.attempts) == (
        False, True, True, None, 1,
    )  # fmt: skip
    assert "may have arrived" in result.reason
    assert len(hook.requests) == 1


@pytest.mark.parametrize("cls", NOTIFIERS)
def test_an_answer_trickled_past_the_timeout_is_cut_off_at_the_timeout(cls, hook, session, retry):
    hook.script(Reply(200, "x" * 40, trickle=0.1))  # one byte every 0.1 s: 4 s, each read well within 0.5 s
    started = time.monotonic()
    result = make(cls, hook, session, retry, timeout=0.5).deliver(test_message())
    assert time.monotonic() - started < 1.5
    assert (result.ok, result.unconfirmed, result.attempts) == (False, True, 1)
    assert "no complete answer within 0.5s" in result.reason


@pytest.mark.parametrize("cls", NOTIFIERS)
def test_dropped_connection_is_retried(cls, hook, session, retry):
    hook.script(Reply(drop=True))
    result = make(cls, hook, session, retry).deliver(test_message())
    assert (result.ok, result.attempts) == (True, 2)


@pytest.mark.parametrize("cls", NOTIFIERS)
def test_receiver_down_is_retryable_then_delivers_when_up(cls, hook, session, retry):
    notifier = make(cls, hook, session, retry)
    hook.go_down()
    down = notifier.deliver(test_message())
    assert (down.ok, down.retryable, down.status) == (False, True, None)
    assert "connection failed" in down.reason
    hook.come_up()
    assert notifier.deliver(test_message()).ok
    assert len(hook.requests) == 1


@pytest.mark.parametrize("cls", NOTIFIERS)
def test_redirect_is_not_followed(cls, hook, session, retry):
    hook.script(Reply(302, "", headers={"Location": hook.url("/elsewhere")}))
    result = make(cls, hook, session, retry).deliver(test_message())
    assert (result.ok, result.retryable, result.status) == (False, False, 302)
    assert [r.path for r in hook.requests] == ["/hooks/abc"]


@pytest.mark.parametrize("cls", NOTIFIERS)
def test_request_is_json_with_timeout_and_user_agent(cls, hook, session, retry):
    assert make(cls, hook, session, retry, path="/hooks/xyz").deliver(test_message()).ok
    request = hook.requests[0]
    assert request.path == "/hooks/xyz"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["User-Agent"].startswith("langfuse-monitors/")


@pytest.mark.parametrize("cls", NOTIFIERS)
@pytest.mark.parametrize("url", ["ftp://hooks.example.com/x", "not a url", "https://", ""])
def test_config_rejects_non_http_urls_without_echoing_them(cls, url):
    from pydantic import ValidationError

    with pytest.raises(ValidationError) as info:
        cls.Config(webhook_url=url)
    messages = " ".join(e["msg"] for e in info.value.errors())
    assert "http(s) URL" in messages
    if url:
        assert url not in messages


@pytest.mark.parametrize("cls", NOTIFIERS)
def test_config_rejects_unknown_keys(cls):
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        cls.Config(webhook_url="https://hooks.example.com/x", colour="red")


@pytest.mark.parametrize("cls", NOTIFIERS)
def test_a_tls_failure_says_tls_not_connection_refused(cls, hook, session, retry):
    # https:// to a receiver that speaks plain HTTP (or whose certificate is not trusted): the handshake
    # fails after the connection was made, and the reason has to point at TLS, not at a refused port.
    url = hook.url("/hooks/abc").replace("http://", "https://")
    notifier = cls("ops", cls.Config(webhook_url=url, timeout=5.0), retry=retry, session=session)
    result = notifier.deliver(test_message())
    assert (result.ok, result.retryable, result.status) == (False, True, None)
    assert result.reason == "TLS handshake failed (certificate not trusted or expired, or no TLS at this URL)"
    assert hook.requests == []

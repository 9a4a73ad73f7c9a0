"""The email channel against a local SMTP server (aiosmtpd): STARTTLS, AUTH, multipart, no header
injection, and which SMTP failures are retried."""

from __future__ import annotations

from dataclasses import replace

import pytest
from pydantic import ValidationError

from monitors.engine.render import message_for, test_message
from monitors.notifiers.email import EmailNotifier
from tests.fakes.smtp_server import SmtpServer
from tests.notifiers.channels import email_config, email_notifier
from tests.notifiers.conftest import warning_finding


def test_starttls_with_auth_delivers_a_multipart_message(retry):
    with SmtpServer(user="alerts", password="s3cret-pw", tls=True) as smtp:
        result = email_notifier(smtp, retry).deliver(message_for(warning_finding()))
    assert (result.ok, result.status) == (True, 250), result.reason
    assert smtp.logins == ["alerts"]
    email = smtp.messages[0]
    assert email.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in email.iter_parts()] == ["text/plain", "text/html"]
    assert email["Subject"] == "[langfuse-monitors] WARNING: code-review-agent at 82% of its daily budget"
    assert smtp.envelopes == [("alerts@example.com", ["oncall@example.com", "lead@example.com"])]
    html = email.get_body(("html",)).get_content()
    assert '<a href="https://cloud.langfuse.com/project/proj-1/dashboards">Cost dashboard</a>' in html
    assert "Spent today" in email.get_body(("plain",)).get_content()


def test_a_title_with_line_breaks_cannot_inject_headers(retry):
    evil = "Loop\r\nBcc: victim@example.com\r\nX-Evil: 1\n\n<b>body</b>"
    with SmtpServer() as smtp:
        assert email_notifier(smtp, retry).deliver(replace(test_message(), title=evil)).ok
    email = smtp.messages[0]
    assert email["Bcc"] is None and email["X-Evil"] is None
    assert "\n" not in email["Subject"] and "\r" not in email["Subject"]
    assert email["Subject"].endswith("Loop Bcc: victim@⁠example.com X-Evil: 1 ‹b›body‹/b›")
    assert smtp.envelopes[0][1] == ["oncall@example.com", "lead@example.com"]
    assert "<b>" not in email.get_body(("html",)).get_content()


def test_an_encoded_word_in_a_title_is_shown_as_typed_not_decoded_into_headers_or_mentions(retry):
    # RFC 2047 encoded words in agent text: the email package decodes them when the subject is set,
    # which would turn escaped text back into CR/LF (a Bcc header) or a live "@here <!channel>".
    bcc = "=?utf-8?q?Loop=0D=0ABcc:_thief=40evil.example?="
    mention = "=?utf-8?b?QGhlcmUgPCFjaGFubmVsPg==?="  # "@here <!channel>"
    with SmtpServer() as smtp:
        notifier = email_notifier(smtp, retry)
        assert notifier.deliver(replace(test_message(), title=bcc)).ok
        assert notifier.deliver(replace(test_message(), title=mention)).ok
    assert [recipients for _, recipients in smtp.envelopes] == [["oncall@example.com", "lead@example.com"]] * 2
    first, second = smtp.messages
    assert first["Bcc"] is None
    assert "Loop" in first["Subject"] and "Bcc:" in first["Subject"] and "thief" in first["Subject"]
    assert "@here" not in second["Subject"] and "<!channel>" not in second["Subject"]
    assert "QGhlcmUgPCFjaGFubmVsPg" in second["Subject"]  # the text as the agent wrote it


def test_wrong_password_is_permanent_and_not_echoed(retry, sleeps):
    with SmtpServer(user="alerts", password="right", tls=True) as smtp:
        config = email_config(smtp, password="wrong-password-123")
        notifier = EmailNotifier("mail", EmailNotifier.Config.model_validate(config), retry=retry)
        notifier.ssl_context = smtp.client_context()
        result = notifier.deliver(test_message())
    assert (result.ok, result.retryable, result.status, result.attempts) == (False, False, 535, 1)
    assert "wrong-password-123" not in result.reason and sleeps == []
    assert smtp.messages == []


def test_a_4xx_reply_is_retried_and_a_5xx_reply_is_not(retry, sleeps):
    with SmtpServer() as smtp:
        smtp.reject_next(451, "try again later")
        first = email_notifier(smtp, retry).deliver(test_message())
        assert (first.ok, first.attempts) == (True, 2) and len(smtp.messages) == 1
        smtp.reject_next(554, "message refused")
        second = email_notifier(smtp, retry).deliver(test_message())
    assert (second.ok, second.retryable, second.status) == (False, False, 554)
    assert "554" in second.reason and "message refused" in second.reason


def test_server_down_is_retryable_then_delivers_when_up(retry):
    with SmtpServer() as smtp:
        notifier = email_notifier(smtp, retry)
        smtp.go_down()
        down = notifier.deliver(test_message())
        assert (down.ok, down.retryable, down.status) == (False, True, None)
        smtp.come_up()
        assert notifier.deliver(test_message()).ok
    assert len(smtp.messages) == 1


def test_untrusted_certificate_is_a_permanent_tls_failure(retry):
    with SmtpServer(tls=True) as smtp:
        config = EmailNotifier.Config.model_validate(email_config(smtp))
        result = EmailNotifier("mail", config, retry=retry).deliver(test_message())  # system trust store
    assert (result.ok, result.retryable) == (False, False) and "TLS failed" in result.reason


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"to": ["not-an-address"]}, "not an email address"),
        ({"to": []}, "at least 1"),
        ({"from_addr": "a@example.com\r\nBcc: x@example.com"}, "not an email address"),
        ({"password": None}, "username and password go together"),
        ({"security": "tls"}, "starttls"),
        ({"colour": "red"}, "Extra inputs"),
    ],
)
def test_config_errors_are_plain(change, message):
    base = {"kind": "email", "host": "smtp.example.com", "from_addr": "a@example.com", "to": ["b@example.com"]}
    base |= {"username": "u", "password": "p"}
    with pytest.raises(ValidationError) as info:
        EmailNotifier.Config.model_validate({k: v for k, v in (base | change).items()})
    assert message in str(info.value)

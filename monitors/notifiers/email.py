"""Email over SMTP (STARTTLS, implicit TLS or plain for a local relay), multipart text + HTML.

Setup:
1. Pick an SMTP server and an account allowed to send from `from_addr` (for example a transactional
   mail service, or your company relay). Port 587 speaks STARTTLS, 465 implicit TLS (`security: ssl`).
2. Put the password in the environment or a mounted file and reference it from monitors.yaml:

       channels:
         ops-mail:
           kind: email
           host: smtp.example.com
           port: 587
           security: starttls            # starttls | ssl | none (none only for a relay on localhost)
           username: alerts@example.com
           password: "${SMTP_PASSWORD}"
           from_addr: "langfuse-monitors <alerts@example.com>"
           to: [oncall@example.com]

Agent text cannot inject headers: the subject is one line (CR/LF and control characters removed) and the
email package refuses any header value holding a line break. In the HTML part every string is
entity-escaped and defanged ('@', "://", "www."), and the only links are the ones we built; the text
part is defanged the same way. SMTP 4xx replies, timeouts and dropped connections are retried (in the
run, then by the outbox on later runs); 5xx replies (bad credentials, refused recipients) are
permanent and reported. The password is never logged.
"""

from __future__ import annotations

import html
import logging
import smtplib
import ssl
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from typing import ClassVar, Literal

import requests
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from monitors.contracts.findings import Status
from monitors.contracts.message import Message
from monitors.notifiers.base import DeliveryResult, default_retry
from monitors.notifiers.markup import html_text, is_http, neutral, one_line, safe_url
from monitors.support.retry import RetryBudget, RetryPolicy

SUBJECT_MAX = 200
# CRLF line ends for SMTP; lines up to RFC 5322's hard limit, so a subject is not folded before its first
# word (the default 78 folds "Subject:\n [prefix] ...", and readers see a leading space).
_POLICY = policy.SMTP.clone(max_line_length=998)
TEXT_MAX = 20_000  # per block of text; an alert is a few KB
MAX_RECIPIENTS = 50


def _address(value: str) -> str:
    addr = parseaddr(value)[1]
    if not addr or "@" not in addr or any(c in value for c in "\r\n"):
        raise ValueError(f"{value!r} is not an email address")
    Address(addr_spec=addr)  # raises on a malformed address
    return value


class EmailNotifier:
    """Sends each message as one multipart (text + HTML) email to the configured recipients."""

    kind: ClassVar[str] = "email"
    max_body_chars: ClassVar[int] = TEXT_MAX
    request_timeout: ClassVar[float] = 20.0

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid")

        kind: Literal["email"] = "email"
        host: str = Field(description="SMTP server host name.")
        port: int | None = Field(None, ge=1, le=65535, description="Default: 587 (starttls), 465 (ssl), 25 (none).")
        security: Literal["starttls", "ssl", "none"] = Field(
            "starttls", description="starttls (port 587), ssl (implicit TLS, 465) or none (a local relay only)."
        )
        username: str | None = Field(None, description="SMTP login; with password.")
        password: SecretStr | None = Field(None, description="Use ${SMTP_PASSWORD} or ${file:/run/secrets/smtp}.")
        from_addr: str = Field(description="Sender, e.g. 'langfuse-monitors <alerts@example.com>'.")
        to: list[str] = Field(min_length=1, max_length=MAX_RECIPIENTS, description="Recipients.")
        subject_prefix: str = Field("[langfuse-monitors]", max_length=50, description="Starts every subject.")
        timeout: float = Field(20.0, gt=0, le=120, description="Seconds per SMTP connection.")

        _from = field_validator("from_addr")(_address)

        @field_validator("to")
        @classmethod
        def _recipients(cls, value: list[str]) -> list[str]:
            return [_address(v) for v in value]

        @field_validator("host", "subject_prefix")
        @classmethod
        def _one_line(cls, value: str) -> str:
            if any(c in value for c in "\r\n\0"):
                raise ValueError("must be one line")
            return value

        @model_validator(mode="after")
        def _credentials_together(self) -> EmailNotifier.Config:
            if (self.username is None) != (self.password is None):
                raise ValueError("username and password go together (both or neither)")
            return self

        @property
        def effective_port(self) -> int:
            return self.port or {"starttls": 587, "ssl": 465, "none": 25}[self.security]

    def __init__(
        self,
        name: str,
        config: Config,
        *,
        retry: RetryPolicy | None = None,
        session: requests.Session | None = None,  # accepted for a uniform constructor; SMTP needs none
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.name = name
        self.config = config
        self.retry = retry or default_retry()
        self.ssl_context = ssl_context or ssl.create_default_context()
        self.where = f"{config.host}:{config.effective_port}"
        self.log = logging.getLogger("monitors.notifiers.email")

    def __repr__(self) -> str:
        return f"<EmailNotifier {self.name} {self.where}>"

    def build(self, message: Message) -> EmailMessage:
        """The email for `message`: a one-line subject, a text part and an HTML alternative."""
        email = EmailMessage(policy=_POLICY)
        email["Subject"] = subject(message, self.config.subject_prefix)
        email["From"] = self.config.from_addr
        email["To"] = ", ".join(self.config.to)
        email["Date"] = formatdate(localtime=False, usegmt=True)
        domain = parseaddr(self.config.from_addr)[1].rpartition("@")[2] or None
        email["Message-ID"] = make_msgid(domain=domain)
        email.set_content(text_body(message))
        email.add_alternative(html_body(message), subtype="html")
        return email

    def deliver(self, message: Message) -> DeliveryResult:
        """Send the email; never raises for SMTP or network trouble (see DeliveryResult)."""
        email = self.build(message)
        budget = RetryBudget(self.retry)
        attempts = 0
        while True:
            attempts += 1
            result = self._attempt(email)
            if result.ok or not result.retryable:
                break
            wait = budget.next_wait(None)
            if wait is None:
                break
            self.log.info(
                "email channel %s (%s): attempt %d failed (%s)", self.name, self.where, attempts, result.reason
            )
            budget.sleep(wait)
        result = DeliveryResult(result.ok, result.retryable, result.status, result.reason, attempts=attempts)
        level = logging.INFO if result.ok else logging.WARNING
        self.log.log(level, "email channel %s (%s): %s", self.name, self.where, result.reason)
        return result

    def _attempt(self, email: EmailMessage) -> DeliveryResult:
        cfg = self.config
        try:
            if cfg.security == "ssl":
                client: smtplib.SMTP = smtplib.SMTP_SSL(
                    cfg.host, cfg.effective_port, timeout=cfg.timeout, context=self.ssl_context
                )
            else:
                client = smtplib.SMTP(cfg.host, cfg.effective_port, timeout=cfg.timeout)
            with client:
                if cfg.security == "starttls":
                    client.starttls(context=self.ssl_context)
                if cfg.username and cfg.password:
                    client.login(cfg.username, cfg.password.get_secret_value())
                refused = client.send_message(email)
        except smtplib.SMTPResponseException as exc:
            return self._reply_result(exc.smtp_code, exc.smtp_error)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            transient = all(400 <= c < 500 for c in codes)
            return DeliveryResult(False, transient, max(codes, default=None), "every recipient was refused")
        except smtplib.SMTPNotSupportedError:
            return DeliveryResult(False, False, None, "the server does not support STARTTLS or AUTH (check security)")
        except ssl.SSLError as exc:
            reason = f"TLS failed ({type(exc).__name__}; check host, port and security)"
            return DeliveryResult(False, False, None, reason)
        except smtplib.SMTPServerDisconnected:
            return DeliveryResult(False, True, None, "the server closed the connection")
        except smtplib.SMTPException as exc:  # smtplib's errors are OSErrors: this goes first
            return DeliveryResult(False, True, None, f"SMTP error ({type(exc).__name__})")
        except OSError as exc:  # refused, reset, timed out, name lookup
            return DeliveryResult(False, True, None, f"connection failed ({type(exc).__name__})")
        if refused:
            return DeliveryResult(True, False, 250, f"sent; refused by the server for {len(refused)} recipient(s)")
        return DeliveryResult(True, False, 250, "sent")

    def _reply_result(self, code: int, text: bytes | str) -> DeliveryResult:
        raw = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
        if self.config.password is not None:
            raw = raw.replace(self.config.password.get_secret_value(), "…")
        if code == 535:
            return DeliveryResult(False, False, code, "SMTP 535: the username or password was not accepted")
        reason = f"SMTP {code}: {one_line(raw, 200)}"
        return DeliveryResult(False, 400 <= code < 500, code, reason)


def subject(message: Message, prefix: str = "") -> str:
    mark = "RESOLVED" if message.status is Status.RESOLVED else message.severity.label.upper()
    return one_line(f"{prefix} {mark}: {message.title}".strip(), SUBJECT_MAX)


def text_body(message: Message) -> str:
    mark = "RESOLVED" if message.status is Status.RESOLVED else message.severity.label.upper()
    lines = [f"{mark}: {neutral(message.title, 500)}", ""]
    if message.summary.strip():
        lines += [neutral(message.summary, TEXT_MAX), ""]
    lines += [f"{neutral(label, 100)}: {neutral(value, 4000)}" for label, value in message.fields]
    for section in message.sections:
        lines += ["", f"== {neutral(section.heading, 300)} =="]
        lines += [neutral(line, 4000) for line in section.lines]
    if message.links:
        lines.append("")
        lines += [f"{neutral(x.label, 200)}: {safe_url(x.url)}" for x in message.links if is_http(x.url)]
    if message.footer.strip():
        lines += ["", "-- ", neutral(message.footer, 500)]
    return "\n".join(lines) + "\n"


def html_body(message: Message) -> str:
    mark = "RESOLVED" if message.status is Status.RESOLVED else message.severity.label.upper()
    parts = [f"<h2>{mark}: {html_text(message.title, 500)}</h2>"]
    if message.summary.strip():
        parts.append(f"<p>{html_text(message.summary, TEXT_MAX)}</p>")
    if message.fields:
        rows = "".join(
            f'<tr><th align="left" valign="top">{html_text(label, 100)}</th><td>{html_text(value, 4000)}</td></tr>'
            for label, value in message.fields
        )
        parts.append(f"<table>{rows}</table>")
    for section in message.sections:
        parts.append(f"<h3>{html_text(section.heading, 300)}</h3>")
        parts.append("<p>" + "<br>\n".join(html_text(line, 4000) for line in section.lines) + "</p>")
    links = [f'<a href="{_href(x.url)}">{html_text(x.label, 200)}</a>' for x in message.links if is_http(x.url)]
    if links:
        parts.append("<p>" + " · ".join(links) + "</p>")
    if message.footer.strip():
        parts.append(f"<p><small>{html_text(message.footer, 500)}</small></p>")
    return "<!DOCTYPE html>\n<html><body>\n" + "\n".join(parts) + "\n</body></html>\n"


def _href(url: str) -> str:
    return html.escape(safe_url(url), quote=True)

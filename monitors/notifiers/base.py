"""What every notifier shares: the DeliveryResult, the webhook POST loop with retries, and redaction.

A webhook URL is a credential (Slack and Mattermost both put the secret in its path), so nothing here
logs, returns or raises it: logs name the channel and the redacted host (`hooks.slack.com/…`), and
requests' exceptions, whose messages embed the URL, are mapped to fixed, safe reasons. urllib3 logs
request paths at DEBUG; a filter on its loggers redacts them (see `_RedactPaths`).

Failure classes (Alertmanager's notify/util.go Retrier is the model): 2xx is delivered; 408, 425, 429,
5xx, refused connections and connect timeouts are retried within the call with backoff honouring
Retry-After (monitors.support.retry), then returned as `retryable=True` so the outbox keeps the row for
the next run; any other status is permanent, with a readable reason from a per-service map. A wait that
the run would not finish (a Retry-After above the policy's `max_delay`, 30 s, or beyond the run's
deadline) is not begun: the call returns at once and the next run tries again.

A POST that was sent but got no answer in time (read timeout, or the total budget spent on a trickling
answer) is `unconfirmed`: the chat may already show it, and webhooks take no idempotency key, so it is
never retried within the call; the outbox decides whether it is worth one more POST (delivery.py).
Each POST ends within its timeout from start to end, and within what is left of the run's deadline.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, ClassVar
from urllib.parse import urlsplit

import requests
from pydantic import SecretStr

from monitors.contracts.message import Message
from monitors.notifiers.transport import BoundedAdapter, Watchdog
from monitors.support.deadline import request_budget, run_time_left
from monitors.support.retry import RetryBudget, RetryPolicy, is_retryable_status, parse_retry_after

USER_AGENT = "langfuse-monitors/0.1"
# Enough of an error body to read a service's error code; the rest is never looked at.
_MAX_ERROR_BODY = 512


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    """The outcome of one `deliver` call. `reason` is safe to log: it never holds the webhook URL."""

    ok: bool
    retryable: bool
    status: int | None
    reason: str
    retry_after: float | None = None
    attempts: int = 1
    unconfirmed: bool = False  # sent, but no answer came: the chat may have received it
    answered_after: float | None = None  # seconds the last POST waited for its answer; None: no answer


def default_retry() -> RetryPolicy:
    """Short in-call retries: the outbox retries again on the next run, so a run never waits long."""
    return RetryPolicy(attempts=3, base_delay=1.0, max_delay=30.0, max_total_wait=45.0)


def redact_host(url: str) -> str:
    """'https://hooks.slack.com/services/T/B/x' -> 'hooks.slack.com/…' (the path is the secret)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or "?"
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "(invalid url)"
    return f"{host}{port}/…"


def check_webhook_url(value: SecretStr) -> SecretStr:
    """Pydantic validator: an http(s) URL with a host. The message never repeats the value."""
    url = value.get_secret_value().strip()
    try:
        parts = urlsplit(url)
        ok = parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:
        ok = False
    if not ok:
        raise ValueError("must be an http(s) URL with a host (the value is not shown: it is a secret)")
    return SecretStr(url)


class WebhookNotifier:
    """Base for notifiers that POST JSON to an incoming-webhook URL held in `config.webhook_url`."""

    kind: ClassVar[str] = ""
    max_body_chars: ClassVar[int] = 4000
    request_timeout: ClassVar[float] = 10.0  # seconds; Config.timeout overrides it
    # Status -> readable reason for permanent failures; subclasses extend it.
    status_reasons: ClassVar[Mapping[int, str]] = {}
    # Statuses the retry policy would retry but that this service uses for permanent conditions.
    permanent_statuses: ClassVar[frozenset[int]] = frozenset()

    def __init__(
        self,
        name: str,
        config: Any,
        *,
        retry: RetryPolicy | None = None,
        session: requests.Session | None = None,
    ) -> None:
        self.name = name
        self.config = config
        self.retry = retry or default_retry()
        self.session = session or requests.Session()
        for prefix in ("http://", "https://"):
            self.session.mount(prefix, BoundedAdapter())
        self._url = self.target_url(config)
        self.where = redact_host(self._url)
        self.log = logging.getLogger(f"monitors.notifiers.{self.kind}")

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} {self.where}>"

    def target_url(self, config: Any) -> str:
        """Where to POST; a secret (most services put the credential in the URL)."""
        return str(config.webhook_url.get_secret_value())

    def payload(self, message: Message) -> dict[str, Any]:
        """The JSON body for `message`, escaped and within the service's limits."""
        raise NotImplementedError

    def extra_headers(self, body: bytes) -> dict[str, str]:
        """Headers beyond User-Agent and Content-Type (e.g. a signature over the exact body)."""
        return {}

    @property
    def timeout(self) -> float:
        """Seconds one POST may take, from connecting to the last byte of the answer."""
        return float(getattr(self.config, "timeout", None) or self.request_timeout)

    def deliver(self, message: Message, *, timeout: float | None = None) -> DeliveryResult:
        """POST the message (each attempt within `timeout`, default the channel's); never raises for
        HTTP trouble (see DeliveryResult)."""
        body = self.payload(message)
        budget = RetryBudget(self.retry)
        attempts = 0
        while True:
            attempts += 1
            result = replace(self._attempt(body, timeout or self.timeout), attempts=attempts)
            if result.ok or not result.retryable or result.unconfirmed:
                break
            if _waits_too_long(result.retry_after, self.retry):
                reason = f"{result.reason}; asked to wait {result.retry_after:g}s, longer than this run waits"
                result = replace(result, reason=reason)
                break
            wait = budget.next_wait(result.retry_after)
            if wait is None or wait >= run_time_left():
                break  # the outbox keeps it for the next run: sleeping past the run's deadline helps no one
            self.log.info(
                "%s channel %s (%s): attempt %d failed (%s); retrying in %.1fs",
                self.kind, self.name, self.where, attempts, result.reason, wait,
            )  # fmt: skip
            budget.sleep(wait)
        self._log_outcome(result)
        return result

    def _log_outcome(self, result: DeliveryResult) -> None:
        if result.ok:
            self.log.info("%s channel %s (%s): delivered", self.kind, self.name, self.where)
            return
        kind = "may have arrived" if result.unconfirmed else "will retry later" if result.retryable else "permanent"
        self.log.warning(
            "%s channel %s (%s): not delivered after %d attempt(s), %s: %s",
            self.kind, self.name, self.where, result.attempts, kind, result.reason,
        )  # fmt: skip

    def _attempt(self, body: dict[str, Any], timeout: float) -> DeliveryResult:
        budget = request_budget(timeout)  # the POST's own timeout, or less when the run ends sooner
        if budget <= 0:
            return DeliveryResult(False, True, None, "not sent: the run's deadline was reached")
        # Serialised here (as requests' json= would) so a signature covers the exact bytes sent.
        data = json.dumps(body, allow_nan=False).encode("utf-8")
        headers = {"User-Agent": USER_AGENT, "Content-Type": "application/json", **self.extra_headers(data)}
        with Watchdog(budget) as watchdog:
            started = time.monotonic()
            try:
                response = self.session.post(
                    self._url,
                    data=data,
                    timeout=budget,
                    allow_redirects=False,  # a redirect would re-send the body somewhere we did not choose
                    headers=headers,
                )
                status, text = response.status_code, response.text[:_MAX_ERROR_BODY]
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
                response.close()
                answered_after = time.monotonic() - started
            except requests.RequestException as exc:
                if watchdog.fired:
                    reason = f"no complete answer within {budget:g}s (it may have arrived)"
                    return DeliveryResult(False, True, None, reason, unconfirmed=True)
                # str(exc) embeds the URL: only the exception's class decides the reason.
                return _exception_result(exc, budget)
        if 200 <= status < 300:
            return DeliveryResult(True, False, status, "delivered", answered_after=answered_after)
        reason = self.failure_reason(status, self._scrub(text))
        retryable = is_retryable_status(status) and status not in self.permanent_statuses
        return DeliveryResult(
            False, retryable, status, reason, retry_after if retryable else None, answered_after=answered_after
        )

    def failure_reason(self, status: int, body: str) -> str:
        """A readable reason for a failed status; `body` is already scrubbed of the URL."""
        return f"HTTP {status}: {self.status_reasons.get(status, _generic_reason(status))}"

    def _scrub(self, text: str) -> str:
        """Remove the URL and its path segments from a response body before anyone reads it."""
        parts = urlsplit(self._url)
        for secret in (self._url, parts.path, *[s for s in parts.path.split("/") if len(s) >= 6]):
            if secret:
                text = text.replace(secret, "…")
        return text


def _waits_too_long(retry_after: float | None, policy: RetryPolicy) -> bool:
    """Does the service ask for a longer wait than the policy allows or the run has left? Then waiting
    less than asked only earns another refusal: the row stays pending for the next run, which tries once
    without sleeping."""
    return retry_after is not None and retry_after > min(policy.max_delay, run_time_left())


def _generic_reason(status: int) -> str:
    if status == 429:
        return "rate limited"
    if status >= 500:
        return "server error"
    if 300 <= status < 400:
        return "unexpected redirect (check the webhook URL)"
    return "rejected"


def _exception_result(exc: requests.RequestException, timeout: float) -> DeliveryResult:
    if isinstance(exc, requests.ReadTimeout):
        # The request was sent; its answer is what timed out.
        return DeliveryResult(
            False, True, None, f"timed out after {timeout:g}s (it may have arrived)", unconfirmed=True
        )
    if isinstance(exc, requests.Timeout):
        return DeliveryResult(False, True, None, f"timed out connecting after {timeout:g}s")
    if isinstance(exc, requests.exceptions.SSLError):
        # Retried like any connection failure: an expired certificate is usually renewed soon.
        reason = "TLS handshake failed (certificate not trusted or expired, or no TLS at this URL)"
        return DeliveryResult(False, True, None, reason)
    if isinstance(exc, requests.ConnectionError):
        return DeliveryResult(False, True, None, "connection failed (refused, reset or name lookup)")
    if isinstance(exc, requests.exceptions.InvalidURL | requests.exceptions.MissingSchema):
        return DeliveryResult(False, False, None, "the webhook URL is not a valid http(s) URL")
    if isinstance(exc, requests.exceptions.InvalidSchema):
        return DeliveryResult(False, False, None, "the webhook URL scheme is not http or https")
    return DeliveryResult(False, True, None, f"request failed ({type(exc).__name__})")


# urllib3 logs '"POST /hooks/<secret> HTTP/1.1" 200' at DEBUG; the path of a webhook is a credential.
_URL_PATH = re.compile(r"(https?://[^/\s\"']+)/[^\s\"')]*")
_PATH = re.compile(r"(?<![\w.:/-])/[^\s\"')]+")


class _RedactPaths(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            text = record.getMessage()
        except (TypeError, ValueError):
            return True
        record.msg, record.args = _PATH.sub("/…", _URL_PATH.sub(r"\1/…", text)), None
        return True


for _name in ("urllib3.connectionpool", "urllib3.util.retry", "urllib3.connection", "urllib3.poolmanager"):
    logging.getLogger(_name).addFilter(_RedactPaths())

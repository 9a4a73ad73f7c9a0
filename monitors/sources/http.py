"""HTTP plumbing shared by the Langfuse read paths: one httpx client, request counting, retries.

Every request (SDK or plain httpx) goes through one `httpx.Client` whose event hook counts it into
`SourceStats`, so the run summary reports what a run really cost against Langfuse's rate limits
(https://langfuse.com/faq/all/api-limits). Retries follow monitors/support/retry.py: 429, 5xx and
timeouts are retried, honouring `Retry-After` (capped by the policy), then a `SourceError` names the
endpoint and the status.

Time: `timeout` bounds each request from start to end (monitors.sources.transport), and the run's
deadline (monitors.support.deadline) bounds the requests and the waits between them, so a server that
trickles bytes or a retry storm cannot keep a run alive past its deadline.

Secrets: error text never contains the keys in any encoding a server or proxy might echo back (raw,
URL-encoded, base64 of `public:secret` as in the Basic header): see `credential_forms`.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable, Mapping
from typing import Any, TypeVar
from urllib.parse import quote, quote_plus, urlsplit

import httpx

from monitors.contracts.errors import SourceError
from monitors.contracts.source import SourceStats
from monitors.sources.transport import BoundedTransport, start_request
from monitors.support.deadline import current_run_deadline, request_budget, run_time_left
from monitors.support.ratelimit import MinuteLimiter
from monitors.support.retry import RetryBudget, RetryPolicy, is_retryable_status, parse_retry_after

log = logging.getLogger(__name__)

T = TypeVar("T")


class EndpointMissing(SourceError):
    """The server answered 404 for a whole route: an older (or events-only) Langfuse."""


class Refused(SourceError):
    """400: the server found the request itself invalid; sending it again would fail again."""


class QueryTimedOut(SourceError):
    """422: Langfuse gave up on a query too big for it (a ClickHouse timeout); ask for less."""


class Retryable(Exception):
    """One attempt failed in a way worth retrying (raised inside `HttpSession.call`)."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


def endpoint_of(url: httpx.URL) -> str:
    """The path we count requests by (no query string: it can carry user ids)."""
    return url.path


class HttpSession:
    """An httpx client with Basic auth, request counting and the shared retry policy."""

    def __init__(
        self,
        host: str,
        public_key: str,
        secret_key: str,
        *,
        timeout: float,
        retry: RetryPolicy,
        stats: SourceStats,
        transport: httpx.BaseTransport | None = None,
        limiter: MinuteLimiter | None = None,
    ) -> None:
        self.host = host.rstrip("/")
        self.retry = retry
        self.stats = stats
        self.limiter = limiter
        self.timeout = timeout
        self._secrets = credential_forms(public_key, secret_key)
        parts = urlsplit(self.host)
        # host[:port] only: a URL's user:password part never reaches a message.
        self.where = f"{parts.hostname}:{parts.port}" if parts.port else str(parts.hostname or self.host)
        self.client = httpx.Client(
            base_url=self.host,
            auth=httpx.BasicAuth(public_key, secret_key),
            timeout=timeout,
            transport=transport or BoundedTransport(),
            event_hooks={"request": [self._count]},
        )

    def __repr__(self) -> str:
        return f"HttpSession(host={self.host!r})"

    def _count(self, request: httpx.Request) -> None:
        # Every request, the SDK's and retries included, passes here before it is sent.
        if self.limiter is not None:
            self.limiter.acquire()
        self.stats.count_request(endpoint_of(request.url))
        start_request(request_budget(self.timeout))

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def close(self) -> None:
        self.client.close()

    def call(self, what: str, attempt: Callable[[], T]) -> T:
        """Run `attempt` until it succeeds, retrying on `Retryable` and transport errors, within the
        retry policy and the run's deadline."""
        budget = RetryBudget(self.retry)
        while True:
            self._check_run_deadline(what, budget)
            try:
                return attempt()
            except Retryable as exc:
                reason, retry_after = exc.reason, exc.retry_after
            except httpx.TimeoutException as exc:
                self._check_run_deadline(what, budget)  # the run's deadline cut it short: say so
                ours = str(exc).startswith("no complete answer")  # the total budget, not one read
                reason, retry_after = f"timed out ({exc if ours else exc.__class__.__name__})", None
            except httpx.TransportError as exc:
                reason, retry_after = f"connection to {self.where} failed ({exc.__class__.__name__})", None
            except SourceError as exc:
                exc.args = (self.redact(str(exc)),)  # keep the subclass and its fields (BudgetSpent.retry_after)
                raise exc.with_traceback(None) from None
            wait = budget.next_wait(retry_after)
            if wait is not None and wait >= run_time_left():
                wait = None  # waiting would outlast the run: report now, with the real reason
            if wait is None:
                msg = f"Langfuse {what}: {reason}; gave up after {budget.attempt} attempt(s)"
                raise SourceError(self.redact(msg)) from None
            self.stats.retries += 1
            log.info("Langfuse %s: %s; retrying in %.1fs", what, self.redact(reason), wait)
            budget.sleep(wait)

    def _check_run_deadline(self, what: str, budget: RetryBudget) -> None:
        run = current_run_deadline()
        if run is not None and run.expired:
            raise SourceError(
                f"Langfuse {what}: stopped at the run deadline of {run.describe()} "
                f"({self.stats.requests} request(s) made, {budget.attempt} retried)"
            )

    def check_status(self, what: str, status: int, headers: Mapping[str, str], body: Any) -> None:
        """Raise Retryable / EndpointMissing / SourceError for a non-2xx status."""
        if 200 <= status < 300:
            return
        if is_retryable_status(status):
            raise Retryable(f"HTTP {status}", parse_retry_after(_header(headers, "retry-after")))
        detail = self.redact(_message(body))[:200]  # redact first: a cut could split an encoded key
        msg = f"Langfuse {what}: HTTP {status}" + (f": {detail}" if detail else "")
        if status in (401, 403):
            # Keys of another project or cloud region are refused the same way as wrong keys.
            msg += f" (check langfuse.public_key and secret_key, and that langfuse.host, {self.where}, issued them)"
        if status == 404:
            raise EndpointMissing(self.redact(msg))
        if status == 422:
            raise QueryTimedOut(self.redact(msg))
        if status == 400:
            raise Refused(self.redact(msg))
        raise SourceError(self.redact(msg))

    def get_json(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """GET a JSON document with retries (the legacy endpoints, which the SDK does not wrap)."""
        what = f"GET {path}"

        def attempt() -> Any:
            response = self.client.get(path, params=_clean(params or {}))
            return self.decode(what, response)

        return self.call(what, attempt)

    def post_json(self, path: str, body: Any) -> httpx.Response:
        what = f"POST {path}"

        def attempt() -> httpx.Response:
            response = self.client.post(path, json=body)
            self.check_status(what, response.status_code, response.headers, _safe_json(response))
            return response

        return self.call(what, attempt)

    def decode(self, what: str, response: httpx.Response) -> Any:
        body = _safe_json(response)
        self.check_status(what, response.status_code, response.headers, body)
        if body is _INVALID:
            raise self.undecodable(what, response.headers)
        return body

    def undecodable(self, what: str, headers: Mapping[str, str] | None) -> Exception:
        """What to raise for a 2xx answer that is not JSON."""
        if (_header(headers, "content-type") or "").lower().startswith("text/html"):
            # A web page answered, not the API: the host is wrong, and asking again will not fix it.
            return SourceError(
                f"Langfuse {what}: {self.where} answered with an HTML page, not JSON: "
                "is langfuse.host the base URL of your Langfuse (e.g. https://cloud.langfuse.com)?"
            )
        # A cut-off body from a proxy is usually transient; retry before giving up.
        return Retryable("response body is not valid JSON")


_INVALID = object()


def credential_forms(public_key: str, secret_key: str) -> tuple[str, ...]:
    """Every way the keys may come back in an echoed request: raw, URL-encoded, and base64 of each and
    of `public:secret` (the Basic header), padded or not; longest first, so no part is left behind."""
    forms: set[str] = set()
    for value in (public_key, secret_key, f"{public_key}:{secret_key}" if public_key and secret_key else ""):
        if not value:
            continue
        forms |= {value, quote(value, safe=""), quote_plus(value, safe="")}
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            encoded = encode(value.encode("utf-8")).decode("ascii")
            forms |= {encoded, encoded.rstrip("=")}
    return tuple(sorted((f for f in forms if len(f) >= 4), key=len, reverse=True))


def _safe_json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except (ValueError, UnicodeDecodeError):
        return _INVALID


def _header(headers: Mapping[str, str] | None, name: str) -> str | None:
    if not headers:
        return None
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


def _message(body: Any) -> str:
    # Langfuse error bodies are {"message": ..., "error": ...}; the caller redacts, then shortens it.
    if isinstance(body, Mapping) and isinstance(body.get("message"), str):
        return body["message"][:10_000]
    return ""


def _clean(params: Mapping[str, Any]) -> dict[str, Any]:
    cleaned: dict[str, Any] = {}
    for key, value in params.items():
        if value is None:
            continue
        if isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, dict | list) and key in ("query", "filter"):
            value = json.dumps(value)
        cleaned[key] = value
    return cleaned

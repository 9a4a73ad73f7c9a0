"""HTTP plumbing shared by the Langfuse read paths: one httpx client, request counting, retries.

Every request (SDK or plain httpx) goes through one `httpx.Client` whose event hook counts it into
`SourceStats`, so the run summary reports what a run really cost against Langfuse's rate limits
(https://langfuse.com/faq/all/api-limits). Retries follow monitors/retry.py: 429, 5xx and timeouts are
retried, honouring `Retry-After` (capped by the policy), then a `SourceError` names the endpoint and the
status. Error text never contains the keys: Basic auth lives in a header we never print.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import httpx

from monitors.contracts.errors import SourceError
from monitors.contracts.source import SourceStats
from monitors.support.ratelimit import MinuteLimiter
from monitors.support.retry import RetryBudget, RetryPolicy, is_retryable_status, parse_retry_after

log = logging.getLogger(__name__)

T = TypeVar("T")


class EndpointMissing(SourceError):
    """The server answered 404 for a whole route: an older (or events-only) Langfuse."""


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
        self._secrets = tuple(s for s in (public_key, secret_key) if s)
        self.client = httpx.Client(
            base_url=self.host,
            auth=httpx.BasicAuth(public_key, secret_key),
            timeout=timeout,
            transport=transport,
            event_hooks={"request": [self._count]},
        )

    def __repr__(self) -> str:
        return f"HttpSession(host={self.host!r})"

    def _count(self, request: httpx.Request) -> None:
        # Every request, the SDK's and retries included, passes here before it is sent.
        if self.limiter is not None:
            self.limiter.acquire()
        self.stats.count_request(endpoint_of(request.url))

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def close(self) -> None:
        self.client.close()

    def call(self, what: str, attempt: Callable[[], T]) -> T:
        """Run `attempt` until it succeeds, retrying on `Retryable` and transport errors."""
        budget = RetryBudget(self.retry)
        while True:
            try:
                return attempt()
            except Retryable as exc:
                reason, retry_after = exc.reason, exc.retry_after
            except httpx.TimeoutException as exc:
                reason, retry_after = f"timed out ({exc.__class__.__name__})", None
            except httpx.TransportError as exc:
                reason, retry_after = f"connection failed ({exc.__class__.__name__})", None
            wait = budget.next_wait(retry_after)
            if wait is None:
                msg = f"Langfuse {what}: {reason}; gave up after {budget.attempt} attempt(s)"
                raise SourceError(self.redact(msg)) from None
            self.stats.retries += 1
            log.info("Langfuse %s: %s; retrying in %.1fs", what, self.redact(reason), wait)
            budget.sleep(wait)

    def check_status(self, what: str, status: int, headers: Mapping[str, str], body: Any) -> None:
        """Raise Retryable / EndpointMissing / SourceError for a non-2xx status."""
        if 200 <= status < 300:
            return
        if is_retryable_status(status):
            raise Retryable(f"HTTP {status}", parse_retry_after(_header(headers, "retry-after")))
        detail = _message(body)
        msg = f"Langfuse {what}: HTTP {status}" + (f": {detail}" if detail else "")
        if status == 404:
            raise EndpointMissing(self.redact(msg))
        if status == 422:
            raise QueryTimedOut(self.redact(msg))
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
            # A cut-off body from a proxy is usually transient; retry before giving up.
            raise Retryable("response body is not valid JSON")
        return body


_INVALID = object()


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
    # Langfuse error bodies are {"message": ..., "error": ...}; keep the message short.
    if isinstance(body, Mapping) and isinstance(body.get("message"), str):
        return body["message"][:200]
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

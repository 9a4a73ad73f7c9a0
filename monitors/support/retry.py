"""One retry policy for every outbound call: Langfuse reads, GitLab, webhooks.

Retryable: 429, 5xx, 408, timeouts and connection errors. A `Retry-After` header is the authoritative
wait (Langfuse and Slack both send it); otherwise exponential backoff with full jitter. The total wait
is bounded so a scheduled run never hangs on a dead service: it gives up and reports.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import parsedate_to_datetime

RETRYABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


def is_retryable_status(status: int) -> bool:
    return status in RETRYABLE_STATUS or 500 <= status < 600


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date); None if absent/bad."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when: datetime = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


@dataclass
class RetryPolicy:
    """How many times and how long to retry.

    Attributes:
        attempts: total tries including the first.
        base_delay: first backoff step in seconds (doubles each retry, full jitter).
        max_delay: cap for one wait, also applied to Retry-After.
        max_total_wait: the run gives up once waiting would exceed this many seconds in total.
    """

    attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 30.0
    max_total_wait: float = 60.0
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    rng: random.Random = field(default_factory=random.Random, repr=False)

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """The wait before retry number `attempt` (1-based)."""
        if retry_after is not None:
            return min(retry_after, self.max_delay)
        ceiling = min(self.max_delay, self.base_delay * (2 ** (attempt - 1)))
        return self.rng.uniform(ceiling / 2, ceiling)


class RetryBudget:
    """Tracks one call's retries against a policy; `next_wait` returns None when it is time to stop."""

    def __init__(self, policy: RetryPolicy) -> None:
        self.policy = policy
        self.attempt = 0
        self.waited = 0.0

    def next_wait(self, retry_after: float | None = None) -> float | None:
        self.attempt += 1
        if self.attempt >= self.policy.attempts:
            return None
        wait = self.policy.delay(self.attempt, retry_after)
        if self.waited + wait > self.policy.max_total_wait:
            return None
        self.waited += wait
        return wait

    def sleep(self, seconds: float) -> None:
        self.policy.sleep(seconds)

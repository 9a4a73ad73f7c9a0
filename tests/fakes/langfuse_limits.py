"""The fake Langfuse's limits: the per-organisation rate-limit budgets of Langfuse Cloud and the point
where a query is too big for ClickHouse, with the replies the server gives for each."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from tests.fakes.langfuse_reply import Reply
from tests.fakes.langfuse_rows import ms_iso

if TYPE_CHECKING:
    from tests.fakes.langfuse_server import FakeLangfuse


@dataclass
class Budget:
    """A per-organisation fixed-window rate limit, as RateLimitService.ts runs them on Langfuse Cloud:
    the window starts at the first request; once `points` are spent every request gets 429 with the
    seconds left in the window as Retry-After (up to a day on the Hobby plan). None = self-hosted."""

    points: int | None
    seconds: int
    started: datetime | None = None
    used: int = 0

    def spend(self, now: datetime) -> Reply | None:
        if self.points is None:
            return None
        if self.started is None or now >= self.started + timedelta(seconds=self.seconds):
            self.started, self.used = now, 0
        if self.used < self.points:
            self.used += 1
            return None
        left = self.started + timedelta(seconds=self.seconds) - now
        return rate_limited(max(1, -int(-left.total_seconds() // 1)), self.points, now + left)


def rate_limited(retry_after: float, limit: int, reset: datetime) -> Reply:
    """The server's 429: headers from createHttpHeaderFromRateLimit and the structured body of
    unstable-public-api-error-contract.ts (web/src/features/public-api/server/RateLimitService.ts)."""
    seconds = max(0, -int(-retry_after // 1))
    headers = {
        "Retry-After": str(seconds),
        "X-RateLimit-Limit": str(limit),
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": reset.strftime("%a %b %d %Y %H:%M:%S GMT+0000 (Coordinated Universal Time)"),
    }
    details = {"retryAfterSeconds": seconds, "limit": limit, "remaining": 0, "resetAt": ms_iso(reset)}
    body = {"message": "Rate limit exceeded", "code": "rate_limited", "details": details}
    return Reply(429, body, headers=headers)


def scan_too_big(fake: FakeLangfuse, rows_in_range: int) -> Reply | None:
    """A query reading more rows than ClickHouse manages in time: the server maps the
    ClickHouseResourceError to 422 (web/src/features/public-api/server/withMiddlewares.ts)."""
    if fake.scan_limit is None or rows_in_range <= fake.scan_limit:
        return None
    advice = "Query timed out. Narrow the time range or lower the limit, and retry."
    return Reply(422, {"message": advice, "error": "Request timed out"})

"""A client-side request budget per minute, so a run never trips the server's rate limit.

Langfuse Cloud limits the general API per organization (Hobby: 30 requests a minute) and every monitor
shares that budget with the agents' own reads. Waiting a little before a request is cheaper than a 429
storm: a catch-up run or a week of drift spreads its requests instead of bursting.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

WINDOW_SECONDS = 60.0


class MinuteLimiter:
    """At most `per_minute` requests in any sliding 60 seconds; `acquire` sleeps when the budget is spent."""

    def __init__(
        self,
        per_minute: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if per_minute < 1:
            raise ValueError("per_minute must be at least 1")
        self.per_minute = per_minute
        self.clock = clock
        self.sleep = sleep
        self.sent: deque[float] = deque()
        self.waited = 0.0

    def acquire(self) -> None:
        now = self.clock()
        while self.sent and now - self.sent[0] >= WINDOW_SECONDS:
            self.sent.popleft()
        if len(self.sent) >= self.per_minute:
            pause = WINDOW_SECONDS - (now - self.sent[0])
            self.sleep(pause)
            self.waited += pause
            now += pause
            self.sent.popleft()
        self.sent.append(now)

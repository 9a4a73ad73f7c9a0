"""The client-side minute budget, with an injected clock: no real waiting."""

from __future__ import annotations

from datetime import timedelta

import pytest

from monitors.contracts.findings import RunWindow
from monitors.contracts.source import ObservationQuery
from monitors.sources.langfuse import LangfuseSource
from monitors.support.ratelimit import MinuteLimiter
from monitors.support.retry import RetryPolicy
from tests.fakes.langfuse_server import FakeLangfuse
from tests.sources.langfuse_data import T0, build_dataset

WINDOW_ALL = RunWindow(T0 - timedelta(hours=2), T0 + timedelta(days=3))


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_requests_beyond_the_budget_wait_for_the_window_to_slide() -> None:
    clock = FakeClock()
    limiter = MinuteLimiter(3, clock=clock, sleep=clock.sleep)
    for _ in range(3):
        limiter.acquire()
        clock.now += 1
    assert clock.sleeps == []
    limiter.acquire()  # the 4th within a minute waits until the 1st is 60 s old
    assert clock.sleeps == [pytest.approx(57.0)]
    clock.now += 61
    limiter.acquire()
    assert len(clock.sleeps) == 1


def test_any_sixty_seconds_hold_at_most_the_budget() -> None:
    clock = FakeClock()
    limiter = MinuteLimiter(5, clock=clock, sleep=clock.sleep)
    times = []
    for _ in range(23):
        limiter.acquire()
        times.append(clock.now)
        clock.now += 0.5
    assert all(sum(1 for t in times if start <= t < start + 60) <= 5 for start in times)


def test_langfuse_source_paces_every_request() -> None:
    clock = FakeClock()
    data = build_dataset(traces=12)
    with FakeLangfuse(data) as server:
        source = LangfuseSource(
            server.url,
            server.public_key,
            server.secret_key,
            page_size=5,
            requests_per_minute=2,
            retry=RetryPolicy(attempts=1, sleep=lambda _s: None),
        )
        limiter = source.session.limiter
        limiter.clock, limiter.sleep = clock, clock.sleep
        rows = list(source.observations(ObservationQuery(WINDOW_ALL)))
    assert len(rows) == len(data)
    pages = source.stats.requests
    # Requests take no time on the fake clock: they go in pairs, each pair a minute after the last.
    assert pages >= 4 and clock.sleeps == [60.0] * (-(-pages // 2) - 1)

"""Deadlines: how long a run may take, and how long one HTTP request may take from start to end.

Socket timeouts bound one read, not a request: a server that sends one byte a second never trips a
10 s read timeout and keeps a run alive forever. So every outbound request gets a total budget, the
smaller of its own timeout and what is left of the run, and the transports (monitors.sources.http,
monitors.notifiers.transport) cut it off when that budget is spent.

The run's deadline is ambient (a context variable set by `run_deadline` around a run), because the
sources and notifiers it must reach are built before the run starts and shared between runs; each
thread (each scheduled job) has its own.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass


class DeadlineReached(Exception):
    """The run's deadline passed; raised where work can stop cleanly (callers turn it into one line)."""


@dataclass(frozen=True)
class Deadline:
    """A point on the monotonic clock, and the budget it was set with (for messages)."""

    end: float
    budget: float

    @classmethod
    def after(cls, seconds: float) -> Deadline:
        return cls(time.monotonic() + seconds, seconds)

    def remaining(self) -> float:
        return max(0.0, self.end - time.monotonic())

    @property
    def expired(self) -> bool:
        return time.monotonic() >= self.end

    def describe(self) -> str:
        return f"{round(self.budget, 1):g}s" if self.budget < 120 else f"{round(self.budget / 60, 1):g}m"


_RUN: ContextVar[Deadline | None] = ContextVar("monitors_run_deadline", default=None)


@contextmanager
def run_deadline(seconds: float | None) -> Iterator[Deadline | None]:
    """Bound everything the current thread does inside the block to `seconds` (None: no bound)."""
    deadline = Deadline.after(seconds) if seconds is not None else None
    token = _RUN.set(deadline)
    try:
        yield deadline
    finally:
        _RUN.reset(token)


def current_run_deadline() -> Deadline | None:
    return _RUN.get()


def request_budget(timeout: float) -> float:
    """Seconds one request may take in total: its own timeout, or less if the run ends sooner."""
    run = _RUN.get()
    return timeout if run is None else min(timeout, run.remaining())


def run_time_left() -> float:
    run = _RUN.get()
    return math.inf if run is None else run.remaining()

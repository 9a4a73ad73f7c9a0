"""Fixtures for notifier tests: a live local webhook receiver, sample findings and a recording sleep."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import requests

from monitors.contracts.findings import Finding, Link, RunWindow, Severity
from monitors.support.retry import RetryPolicy
from tests.fakes.webhook_server import WebhookServer

HOSTILE = "<!channel> @here [click](http://evil) **bold**"
# Looks like a real webhook path: the secret part must never show up anywhere but the request line.
SECRET_PATH = "/hooks/T000SECRET/B000SECRET/XyZsEcReTtOkEn123"


@pytest.fixture
def hook() -> Iterator[WebhookServer]:
    with WebhookServer() as server:
        yield server


@pytest.fixture
def session() -> Iterator[requests.Session]:
    # No proxies from the environment: the receiver is on 127.0.0.1.
    s = requests.Session()
    s.trust_env = False
    yield s
    s.close()


class Sleeps(list[float]):
    """An injected RetryPolicy.sleep that records the waits instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def retry(sleeps: Sleeps) -> RetryPolicy:
    return RetryPolicy(attempts=4, base_delay=0.5, max_delay=30, max_total_wait=60, sleep=sleeps)


WHEN = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)


def warning_finding() -> Finding:
    return Finding(
        monitor="cost",
        dedupe_key="budget:code-review-agent:2026-03-02",
        severity=Severity.WARNING,
        title="code-review-agent at 82% of its daily budget",
        summary="Spent $41.00 of $50.00 today (UTC). At the current rate the budget runs out at 18:10 UTC.",
        observed_at=WHEN,
        kind="budget",
        rank=80,
        window=RunWindow(datetime(2026, 3, 2, 0, 0, tzinfo=UTC), WHEN),
        fields=(("Spent today", "$41.00"), ("Budget", "$50.00"), ("Feature", "code-review-agent")),
        links=(Link("Cost dashboard", "https://cloud.langfuse.com/project/proj-1/dashboards"),),
    )


def critical_finding() -> Finding:
    return Finding(
        monitor="drift",
        dedupe_key="trace-7f3e:commit-9c1a",
        severity=Severity.CRITICAL,
        title=f"Goal drift: {HOSTILE}",
        summary=f"The final commit does not match the objective.\nObjective: {HOSTILE}\nSimilarity 0.18 < 0.35.",
        observed_at=WHEN,
        kind="drift",
        fields=(
            ("Objective", HOSTILE),
            ("Final commit", "chore: bump deps @all _please_ ~review~ `now` <@U123> <#C1> <!subteam^S1>"),
            ("Similarity", "0.18"),
        ),
        links=(
            Link("Trace", "https://cloud.langfuse.com/project/proj-1/traces/7f3e"),
            Link("Merge request !42", "https://gitlab.example.com/group/app/-/merge_requests/42"),
        ),
    )

"""A channel that asks for a longer wait (Retry-After) than the run will wait keeps its alert pending
for the next run at once, instead of the run sleeping part of the wait and being refused again.

The real pipeline, store and Slack notifier against a local receiver; the retry policy is the one a run
builds (monitors.engine.wiring), with its sleep recorded instead of slept.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from monitors.engine import registry
from monitors.engine.pipeline import RunDeps, RunSummary, run_once
from monitors.sources.replay import ReplaySource
from monitors.store.store import Store
from monitors.support.retry import RetryPolicy
from tests.fakes.webhook_server import Reply, WebhookServer
from tests.reliability.harness import NOW, chat_settings, notifiers_for

STEP = timedelta(minutes=15)


@pytest.fixture(autouse=True)
def _scripted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(registry.MONITORS, "scripted", "tests.fakes.scripted_monitor:ScriptedMonitor")


@pytest.fixture
def hook() -> Iterator[WebhookServer]:
    with WebhookServer() as server:
        yield server


def run(
    hook: WebhookServer, store: Store, i: int, sleeps: list[float], deadline: timedelta | None = None
) -> RunSummary:
    settings = chat_settings(hook, {"scripted": {"findings": [{"key": "a1", "title": "a1"}]}}, kinds=("slack",))
    # What wiring builds for a run with the default alerting.retries_per_run (3), sleeping nothing.
    retry = RetryPolicy(attempts=settings.alerting.retries_per_run + 1, max_total_wait=30, sleep=sleeps.append)
    deps = RunDeps(ReplaySource.from_observations([]), store, notifiers_for(settings, retry))
    return run_once("scripted", settings, deps, now=NOW + STEP * i, deadline=deadline)


def test_a_retry_after_longer_than_the_run_waits_leaves_the_alert_for_the_next_run_without_sleeping(
    hook: WebhookServer, sqlite_store: Store
) -> None:
    hook.script(Reply(429, "rate_limited", headers={"Retry-After": "600"}))
    sleeps: list[float] = []
    first = run(hook, sqlite_store, 0, sleeps)
    assert sleeps == [] and len(hook.requests) == 1  # no 30 s nap, no second refused POST
    assert (first.status, first.delivered, first.failed) == ("delivery_failed", 0, 1)
    assert sqlite_store.outbox_counts() == {"pending": 1}
    [row] = sqlite_store.pending_outbox(NOW + STEP)
    assert row.attempts == 1
    second = run(hook, sqlite_store, 1, sleeps)  # the channel is back: the kept alert goes, once
    assert (second.status, second.delivered) == ("ok", 1)
    assert len(hook.requests) == 2 and sqlite_store.outbox_counts() == {"sent": 1}


def test_a_retry_after_past_the_run_deadline_is_not_slept(hook: WebhookServer, sqlite_store: Store) -> None:
    # 20 s is within what a run waits, but not within what is left of a 10-second run.
    hook.script(Reply(429, "rate_limited", headers={"Retry-After": "20"}))
    sleeps: list[float] = []
    summary = run(hook, sqlite_store, 0, sleeps, deadline=timedelta(seconds=10))
    assert sleeps == [] and len(hook.requests) == 1
    assert summary.failed == 1 and sqlite_store.outbox_counts() == {"pending": 1}


def test_a_short_retry_after_is_still_waited_out_in_the_run(hook: WebhookServer, sqlite_store: Store) -> None:
    hook.script(Reply(429, "rate_limited", headers={"Retry-After": "20"}))
    sleeps: list[float] = []
    summary = run(hook, sqlite_store, 0, sleeps, deadline=timedelta(minutes=5))
    assert sleeps == [20.0] and (summary.status, summary.delivered) == ("ok", 1)
    assert len(hook.requests) == 2 and sqlite_store.outbox_counts() == {"sent": 1}

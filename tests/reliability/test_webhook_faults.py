"""Chat faults through the real pipeline and the real Slack and Mattermost notifiers: 429 with
Retry-After, 500s, timeouts, and a receiver down for several runs. Every alert must arrive, in order,
and (except where a timed-out POST did reach the receiver: at most one more copy) exactly once; the
receiver's requests are the ground truth.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from monitors.engine import registry
from monitors.engine.pipeline import RunDeps, run_once
from monitors.sources.replay import ReplaySource
from monitors.store.store import Store
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


def run(hook: WebhookServer, store: Store, titles: list[str], i: int, **channel: Any):
    """Run i of the scripted monitor: one finding per title (keys are the titles)."""
    findings = [{"key": t, "title": t} for t in titles]
    settings = chat_settings(hook, {"scripted": {"findings": findings}})
    for config in settings.channel_configs.values():
        for key, value in channel.items():
            setattr(config, key, value)
    deps = RunDeps(ReplaySource.from_observations([]), store, notifiers_for(settings))
    return run_once("scripted", settings, deps, now=NOW + STEP * i)


def titles_at(hook: WebhookServer, kind: str) -> list[str]:
    """Alert titles the receiver accepted (answered 2xx) on one channel, in arrival order."""
    out = []
    for request in hook.requests:
        if f"/{kind}-" in request.path:
            body = request.json
            text = body["blocks"][0]["text"]["text"] if kind == "slack" else body["attachments"][0]["fallback"]
            out.append(text.split(": ", 1)[1])
    return out


def test_429_with_retry_after_is_ridden_out_in_the_same_run(hook: WebhookServer, sqlite_store: Store) -> None:
    hook.script(Reply(429, "rate_limited", headers={"Retry-After": "1"}), Reply(200))
    summary = run(hook, sqlite_store, ["a1"], 0)
    assert (summary.status, summary.delivered, summary.failed) == ("ok", 2, 0)
    # Slack got its message twice (429 then 200): one accepted post per channel.
    assert len(hook.requests) == 3
    assert sqlite_store.outbox_counts() == {"sent": 2}


def test_500_storm_keeps_the_alert_queued_until_the_chat_recovers(hook: WebhookServer, sqlite_store: Store) -> None:
    hook.default = Reply(500, "oops")
    first = run(hook, sqlite_store, ["a1"], 0)
    assert (first.status, first.exit_code, first.delivered, first.failed) == ("delivery_failed", 1, 0, 2)
    assert sqlite_store.outbox_counts() == {"pending": 2}
    failed_posts = len(hook.requests)
    hook.default = Reply(200)
    second = run(hook, sqlite_store, ["a1"], 1)  # the same finding again: deduped, only the queue is sent
    assert (second.status, second.queued, second.delivered) == ("ok", 0, 2)
    accepted = hook.requests[failed_posts:]
    assert len(accepted) == 2 and {r.path.split("-")[0] for r in accepted} == {"/hooks/slack", "/hooks/mattermost"}


def test_a_timed_out_post_is_sent_once_more_next_run_not_within_the_run(
    hook: WebhookServer, sqlite_store: Store
) -> None:
    hook.script(Reply(200, delay=0.6))  # Slack's first POST arrives but the answer comes too late
    first = run(hook, sqlite_store, ["a1"], 0, timeout=0.2)
    assert (first.status, first.delivered) == ("delivery_failed", 1)  # Mattermost got it; Slack unconfirmed
    assert titles_at(hook, "slack") == ["a1"]  # no second POST within the run (was: retried at once)
    second = run(hook, sqlite_store, ["a1"], 1, timeout=0.2)
    assert (second.status, second.delivered) == ("ok", 1)
    # At-least-once: the timed-out POST did reach the receiver, so Slack saw the alert twice.
    assert titles_at(hook, "slack") == ["a1", "a1"] and titles_at(hook, "mattermost") == ["a1"]


def test_chat_down_for_three_runs_then_every_alert_once_in_order(hook: WebhookServer, sqlite_store: Store) -> None:
    hook.go_down()
    for i in range(3):
        summary = run(hook, sqlite_store, [f"alert {j}" for j in range(i + 1)], i)
        assert (summary.status, summary.queued, summary.delivered) == ("delivery_failed", 2, 0)
    assert hook.requests == [] and sqlite_store.outbox_counts() == {"pending": 6}
    hook.come_up()
    back = run(hook, sqlite_store, ["alert 0", "alert 1", "alert 2"], 3)
    assert (back.status, back.queued, back.delivered) == ("ok", 0, 6)
    for kind in ("slack", "mattermost"):
        assert titles_at(hook, kind) == ["alert 0", "alert 1", "alert 2"]
    after = run(hook, sqlite_store, ["alert 0", "alert 1", "alert 2", "alert 3"], 4)
    assert after.delivered == 2 and len(hook.requests) == 8


def test_one_channel_down_does_not_hold_the_other(hook: WebhookServer, sqlite_store: Store) -> None:
    # Slack answers 503 for three runs (two in-run attempts each); Mattermost is fine throughout.
    hook.default = Reply(200)
    for i in range(3):
        hook.script(Reply(503), Reply(503), Reply(200))  # slack, slack retry, then mattermost
        summary = run(hook, sqlite_store, [f"alert {j}" for j in range(i + 1)], i)
        assert summary.status == "delivery_failed"
    assert titles_at(hook, "mattermost") == ["alert 0", "alert 1", "alert 2"]
    back = run(hook, sqlite_store, ["alert 0", "alert 1", "alert 2"], 3)
    assert back.status == "ok" and back.delivered == 3
    slack = titles_at(hook, "slack")  # runs 0-2 each posted alert 0 twice (503, in-run retry 503)
    assert slack[:6] == ["alert 0"] * 6 and slack[6:] == ["alert 0", "alert 1", "alert 2"]


def test_permanent_404_is_not_retried_and_does_not_block_later_alerts(hook: WebhookServer, sqlite_store: Store) -> None:
    hook.script(Reply(404, "no_service"))
    first = run(hook, sqlite_store, ["gone"], 0)
    assert (first.delivered, first.failed) == (1, 1)
    second = run(hook, sqlite_store, ["gone", "next"], 1)
    assert (second.delivered, second.failed) == (2, 0)
    assert titles_at(hook, "slack") == ["gone", "next"] and titles_at(hook, "mattermost") == ["gone", "next"]
    assert sqlite_store.outbox_counts() == {"failed": 1, "sent": 3}

"""`delivered` and `failed` count the same unit, chat messages: a grouped incident of several alerts is
one message whether it is posted, refused, left behind a channel that is down, or has lost its channel.

Real pipeline, real store (SQLite and PostgreSQL), a local webhook receiver.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from monitors.engine import registry
from monitors.engine.config import settings_from_dict
from monitors.engine.pipeline import RunDeps, RunSummary, run_once
from monitors.sources.replay import ReplaySource
from monitors.store.store import Store
from tests.fakes.webhook_server import Reply, WebhookServer
from tests.notifiers.channels import http_config
from tests.reliability.harness import NOW, notifiers_for

# One alert on its own, queued first (fingerprints sort), then an incident of three alerts of one agent.
SOLO = {"key": "0-solo", "labels": {}}
INCIDENT = [{"key": f"part-{i}", "labels": {"agent": "llm-fix"}} for i in range(3)]


@pytest.fixture(autouse=True)
def _scripted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(registry.MONITORS, "scripted", "tests.engine.lifecycle_monitor:LifecycleMonitor")


@pytest.fixture
def hook() -> Iterator[WebhookServer]:
    with WebhookServer() as server:
        yield server


def run(store: Store, hour: int, channels: dict[str, Any], findings: list[dict[str, Any]] = ()) -> RunSummary:
    raw = {
        "channels": channels,
        "routes": [{"channels": ["hooks"], "group_by": ["agent"]}],
        "monitors": {"scripted": {"findings": list(findings)}},
    }
    if "hooks" not in channels:  # the channel was deleted from the config, and its route with it
        raw["routes"] = [{"channels": list(channels)}]
    settings = settings_from_dict(raw, env={})
    deps = RunDeps(ReplaySource.from_observations([]), store, notifiers_for(settings))
    return run_once("scripted", settings, deps, now=NOW + timedelta(hours=hour))


def test_a_grouped_incident_behind_a_channel_that_is_down_is_one_failed_message(
    hook: WebhookServer, store: Store
) -> None:
    channels = {"hooks": http_config("webhook", hook.url("/h"))}
    hook.default = Reply(503, "down")
    down = run(store, 0, channels, [SOLO, *INCIDENT])
    assert down.queued == 4  # outbox rows: one per alert
    assert (down.delivered, down.failed) == (0, 2)  # the solo alert, tried; the incident, left behind it
    assert store.outbox_counts() == {"pending": 4}

    hook.default = Reply(200, "ok")
    up = run(store, 1, channels)
    assert (up.delivered, up.failed) == (2, 0)  # the same two messages, posted
    assert len({r.body for r in hook.requests[-2:]}) == 2


def test_a_grouped_incident_whose_channel_was_deleted_is_one_failed_message(hook: WebhookServer, store: Store) -> None:
    hook.default = Reply(503, "down")
    run(store, 0, {"hooks": http_config("webhook", hook.url("/h"))}, [SOLO, *INCIDENT])
    gone = run(store, 1, {"other": http_config("webhook", hook.url("/other"))})
    assert (gone.delivered, gone.failed) == (0, 2)  # the solo alert and the incident, given up
    assert store.outbox_counts() == {"failed": 4}

"""A chat that answers late, over runs that each bring a new alert, through the real pipeline, store and
notifier: every alert arrives, and the chat sees at most one duplicate in total (delivery.py)."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest

from monitors.engine import registry
from monitors.engine.config import settings_from_dict
from monitors.engine.pipeline import RunDeps, run_once
from monitors.sources.replay import ReplaySource
from monitors.store.store import Store
from tests.fakes.webhook_server import Reply, WebhookServer
from tests.notifiers.channels import http_config
from tests.reliability.harness import NOW, notifiers_for

TIMEOUT = 0.2  # the channel's; the chat answers every POST after LATE seconds, within twice the timeout
LATE = 0.3


@pytest.fixture(autouse=True)
def _scripted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(registry.MONITORS, "scripted", "tests.engine.lifecycle_monitor:LifecycleMonitor")


def test_a_late_chat_gets_one_duplicate_in_total_when_every_run_brings_a_new_alert(sqlite_store: Store) -> None:
    with WebhookServer(default=Reply(200, delay=LATE)) as hook:
        for i in range(6):
            raw = {
                "channels": {"ops": http_config("webhook", hook.url("/ops"), timeout=TIMEOUT)},
                "routes": [{"channels": ["ops"]}],
                "monitors": {"scripted": {"findings": [{"key": f"alert-{i}"}]}},
            }
            settings = settings_from_dict(raw, env={})
            deps = RunDeps(ReplaySource.from_observations([]), sqlite_store, notifiers_for(settings))
            run_once("scripted", settings, deps, now=NOW + timedelta(hours=i))
        posts = Counter(r.json["fingerprint"] for r in hook.requests)
    assert set(posts) == {f"scripted:alert-{i}" for i in range(6)}  # every alert reached the chat
    assert sum(posts.values()) <= 6 + 1, posts

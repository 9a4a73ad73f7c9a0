"""Every new channel down for three runs, then up: through the real pipeline and outbox, each alert
arrives once, in order (the receiver's log is the ground truth)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from monitors.engine import registry
from monitors.engine.config import settings_from_dict
from monitors.engine.pipeline import RunDeps, run_once
from monitors.sources.replay import ReplaySource
from monitors.store.store import Store
from tests.fakes.pagerduty_server import PagerDutyServer
from tests.fakes.smtp_server import SmtpServer
from tests.fakes.webhook_server import WebhookServer
from tests.notifiers.channels import HTTP_KINDS, email_config, http_config
from tests.reliability.harness import NOW, notifiers_for

STEP = timedelta(minutes=15)


@pytest.fixture(autouse=True)
def _scripted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(registry.MONITORS, "scripted", "tests.fakes.scripted_monitor:ScriptedMonitor")


def _title(kind: str, body: Any) -> str:
    if kind == "webhook":
        return body["title"]
    if kind == "pagerduty":
        return body["dedup_key"].removeprefix("scripted:")
    if kind == "teams":
        return body["attachments"][0]["content"]["body"][0]["items"][0]["text"].split(": ", 1)[1]
    return body["embeds"][0]["title"].split("\\: ", 1)[1]  # discord


class Receiver:
    """One local receiver of `kind` with the same down/up switch and a list of received titles."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.server: Any = {"pagerduty": PagerDutyServer, "email": SmtpServer}.get(kind, WebhookServer)()

    def __enter__(self) -> Receiver:
        self.server.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.__exit__(*exc)

    def channel(self) -> dict[str, Any]:
        if self.kind == "email":
            return email_config(self.server)
        return http_config(self.kind, self.server.url(f"/{self.kind}/SECRETPATH"))

    def titles(self) -> list[str]:
        if self.kind == "email":
            return [m["Subject"].split("WARNING: ", 1)[1] for m in self.server.messages]
        return [_title(self.kind, r.json) for r in self.server.requests]


def run(receiver: Receiver, store: Store, titles: list[str], i: int):
    raw = {
        "channels": {"out": receiver.channel()},
        "default_route": {"channels": ["out"]},
        "monitors": {"scripted": {"findings": [{"key": t, "title": t} for t in titles]}},
    }
    settings = settings_from_dict(raw, env={})
    deps = RunDeps(ReplaySource.from_observations([]), store, notifiers_for(settings))
    return run_once("scripted", settings, deps, now=NOW + STEP * i)


@pytest.mark.parametrize("kind", [*HTTP_KINDS, "email"])
def test_channel_down_for_three_runs_then_every_alert_once_in_order(kind: str, sqlite_store: Store) -> None:
    with Receiver(kind) as receiver:
        receiver.server.go_down()
        for i in range(3):
            summary = run(receiver, sqlite_store, [f"alert {j}" for j in range(i + 1)], i)
            assert (summary.status, summary.queued, summary.delivered) == ("delivery_failed", 1, 0)
        assert receiver.titles() == [] and sqlite_store.outbox_counts() == {"pending": 3}
        receiver.server.come_up()
        back = run(receiver, sqlite_store, ["alert 0", "alert 1", "alert 2"], 3)
        assert (back.status, back.queued, back.delivered) == ("ok", 0, 3)
        assert receiver.titles() == ["alert 0", "alert 1", "alert 2"]
        after = run(receiver, sqlite_store, ["alert 0", "alert 1", "alert 2", "alert 3"], 4)
        assert after.delivered == 1
        assert receiver.titles() == ["alert 0", "alert 1", "alert 2", "alert 3"]
    assert sqlite_store.outbox_counts() == {"sent": 4}

"""Run locks when a holder is frozen past its lease, or a run's bookkeeping fails at its end.

A frozen holder (a long GC pause, a stopped container, a suspended VM) thaws and runs on before its
heartbeat beats again; a store that refuses the run record must not leave the monitor locked for the
rest of a scheduler process's life.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import ClassVar

import pytest
from pydantic import BaseModel, ConfigDict

from monitors.contracts.errors import StoreError
from monitors.contracts.findings import Finding, Severity
from monitors.contracts.monitor import RunContext
from monitors.engine import registry
from monitors.engine.config import settings_from_dict
from monitors.engine.pipeline import RunDeps, run_once
from monitors.sources.replay import ReplaySource
from monitors.store.rows import RunCommit
from monitors.store.store import Store
from tests.fakes.scripted_monitor import RecordingNotifier

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
LEASE = timedelta(seconds=30)  # the default: no heartbeat beats within these tests


class FreezingMonitor:
    """Finds one thing, but is frozen past its lease while it works, and another pod takes the lock."""

    name: ClassVar[str] = "freezing"

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid")
        store_url: str

    def __init__(self, config: Config) -> None:
        self.config = config

    def run(self, ctx: RunContext) -> Iterable[Finding]:
        other = Store.open(self.config.store_url)
        other.holder = "pod-b:7"
        assert other.acquire_lock("freezing", now=ctx.now + 2 * LEASE, lease=LEASE)
        other.locks.abandon_all()  # pod-b goes on with its own run; this test only needs its lock
        other.engine.dispose()
        yield Finding(
            monitor="freezing",
            dedupe_key="k",
            severity=Severity.WARNING,
            title="found while frozen",
            summary="",
            observed_at=ctx.now,
            kind="test",
        )


@pytest.fixture(autouse=True)
def _monitors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(registry.MONITORS, "freezing", "tests.test_store_run_locks:FreezingMonitor")
    monkeypatch.setitem(registry.MONITORS, "scripted", "tests.fakes.scripted_monitor:ScriptedMonitor")


def _settings(monitors: dict) -> object:
    raw = {"channels": {"ops": {"kind": "stdout"}}, "default_route": {"channels": ["ops"]}, "monitors": monitors}
    return settings_from_dict(raw, env={})


def test_a_holder_frozen_past_its_lease_sees_the_takeover_as_soon_as_it_thaws(sqlite_store: Store) -> None:
    assert sqlite_store.acquire_lock("cost", now=NOW, lease=LEASE)
    other = Store(sqlite_store.engine)
    other.holder = "pod-b:7"
    assert other.acquire_lock("cost", now=NOW + 2 * LEASE, lease=LEASE)  # the lease ran out while frozen
    try:
        # Before: True until the frozen holder's heartbeat beat again, up to a third of the lease later.
        assert not sqlite_store.lock_still_held("cost")
        commit = RunCommit("cost", NOW, NOW, [("cost:k", 1)], [("cost:k", "ops", {"title": "t"})], [], {})
        assert sqlite_store.commit_run(commit, fenced=True) is False
        assert sqlite_store.watermark("cost") is None and sqlite_store.outbox_counts() == {}
    finally:
        other.locks.abandon_all()


def test_a_run_frozen_past_its_lease_queues_and_sends_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    store = Store.open(url)
    notifier = RecordingNotifier()
    settings = _settings({"freezing": {"store_url": url}})
    deps = RunDeps(ReplaySource.from_observations([]), store, {"ops": notifier})
    try:
        summary = run_once("freezing", settings, deps, now=NOW)
        assert summary.status == "failed" and "lost the run lock" in (summary.error or "")
        # pod-b owns the window: this run neither queued, sent, nor moved the watermark.
        assert notifier.messages == [] and store.outbox_counts() == {} and store.watermark("freezing") is None
        assert store.lock_holders()["freezing"]["holder"] == "pod-b:7"  # and did not release pod-b's lock
    finally:
        store.close()


class WriterDuringDelivery:
    """Delivers, then another writer takes the SQLite file's write lock and keeps it past the busy
    timeout (a `run-monitor silence` from another pod, a backup): the run cannot record its end."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.messages: list[object] = []
        self.writer: sqlite3.Connection | None = None
        self.locked_once = False

    def deliver(self, message: object) -> object:
        result = RecordingNotifier().deliver(message)
        self.messages.append(message)
        if not self.locked_once:
            self.locked_once = True
            self.writer = sqlite3.connect(self.path, isolation_level=None)
            self.writer.execute("BEGIN IMMEDIATE")
        return result

    def finish(self) -> None:
        if self.writer is not None:
            self.writer.execute("ROLLBACK")
            self.writer.close()
            self.writer = None


def test_a_run_whose_end_the_store_refused_does_not_hold_its_monitor_back(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    store = Store.open(f"sqlite:///{path}?timeout=0.2")  # one long-lived store, as the scheduler keeps
    notifier = WriterDuringDelivery(path)
    settings = _settings({"scripted": {"findings": [{"key": "k"}, {"key": "j"}]}})
    deps = RunDeps(ReplaySource.from_observations([]), store, {"ops": notifier})
    try:
        with pytest.raises(StoreError, match="database is locked"):
            run_once("scripted", settings, deps, now=NOW)
        notifier.finish()
        again = run_once("scripted", settings, deps, now=NOW + timedelta(minutes=15))
        # Before: `skipped` on every later run in this process, the lock renewed by its heartbeat forever.
        assert again.status == "ok", again.error
        assert store.outbox_counts() == {"sent": 2}
    finally:
        notifier.finish()
        store.close()

"""Runs of two different monitors delivering at once (the cost and events CronJobs both start on the
hour): the outbox is shared, so each alert must still be POSTed once."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from monitors.engine.delivery import DELIVERY_LOCK, deliver_exclusively
from monitors.engine.pipeline import RunDeps, run_once
from monitors.sources.replay import ReplaySource
from monitors.store.store import Store
from tests.fakes.webhook_server import Reply, WebhookServer
from tests.reliability.harness import LANGFUSE_HOST, NOW, chat_settings, notifiers_for
from tests.reliability.subprocess_run import loops


@pytest.fixture
def hook() -> Iterator[WebhookServer]:
    with WebhookServer() as server:
        yield server


def _run(url: str, monitor: str, settings: Any, observations: list[Any], out: dict[str, Any], **kw: Any) -> None:
    store = Store.open(url)
    try:
        source = ReplaySource.from_observations(observations, host=LANGFUSE_HOST, project_id="proj-1")
        out[monitor] = run_once(monitor, settings, RunDeps(source, store, notifiers_for(settings)), now=NOW, **kw)
    finally:
        store.close()


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_two_monitors_delivering_at_once_post_each_alert_once(
    backend: str, hook: WebhookServer, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = f"sqlite:///{tmp_path / 'state.db'}" if backend == "sqlite" else request.getfixturevalue("postgres_url")
    watcher = Store.open(url)
    hook.default = Reply(200, delay=0.4)  # a slow chat keeps the audit run delivering
    settings = chat_settings(hook, kinds=("slack",))
    results: dict[str, Any] = {}
    audit = threading.Thread(target=_run, args=(url, "audit", settings, loops(NOW), results))
    audit.start()
    # The events run starts once the audit run has queued its two alerts, while it is still posting them.
    deadline = time.monotonic() + 60
    while watcher.outbox_counts().get("pending", 0) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    events = threading.Thread(target=_run, args=(url, "events", settings, [], results))
    events.start()
    audit.join(60)
    events.join(60)
    watcher.close()
    assert results["audit"].status == "ok" and results["events"].status == "ok"
    assert len(hook.requests) == 2  # without the delivery lock the events run POSTed them too
    assert results["audit"].delivered + results["events"].delivered == 2


def test_a_run_that_waited_out_another_runs_delivery_leaves_the_rows_pending(
    hook: WebhookServer, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    settings = chat_settings(hook, kinds=("slack",))
    queued: dict[str, Any] = {}
    holder, waiter = Store.open(url), Store.open(url)
    try:
        assert holder.acquire_lock(DELIVERY_LOCK, now=NOW, lease=settings.store.lock_lease)
        # Commits its alerts, then waits for the delivery lock as long as its deadline allows.
        _run(url, "audit", settings, loops(NOW), queued, deadline=timedelta(seconds=1))
        assert queued["audit"].counters.get("delivery_left_to_another_run") == 1
        assert hook.requests == [] and waiter.outbox_counts() == {"pending": 2}
        naps: list[float] = []
        skipped = deliver_exclusively(
            waiter, notifiers_for(settings), now=NOW, lease=settings.store.lock_lease, wait=0.0, sleep=naps.append
        )
        assert skipped is None and hook.requests == []
        holder.release_lock(DELIVERY_LOCK)
        stats = deliver_exclusively(waiter, notifiers_for(settings), now=NOW, lease=settings.store.lock_lease)
        assert stats is not None and stats.delivered == 2 and len(hook.requests) == 2
    finally:
        holder.close()
        waiter.close()

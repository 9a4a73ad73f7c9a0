"""A run cut short by Ctrl-C (or a bug) is recorded as failed, never as ok, and gives its lock back."""

from __future__ import annotations

from typing import Any

import pytest

from monitors.engine.pipeline import RunDeps, run_once
from monitors.sources.replay import ReplaySource
from monitors.store.store import Store
from tests.reliability.harness import LANGFUSE_HOST, NOW, chat_settings, notifiers_for
from tests.reliability.subprocess_run import loops


class InterruptedSource(ReplaySource):
    def observations(self, query: Any) -> Any:
        raise KeyboardInterrupt  # Ctrl-C while Langfuse is being read


def test_a_run_interrupted_while_reading_is_recorded_failed_and_releases_its_lock(sqlite_store: Store) -> None:
    settings = chat_settings("http://127.0.0.1:9", kinds=("slack",))
    source = InterruptedSource(observations=loops(NOW), host=LANGFUSE_HOST, project_id="proj-1")
    with pytest.raises(KeyboardInterrupt):
        run_once("audit", settings, RunDeps(source, sqlite_store, notifiers_for(settings)), now=NOW)
    last = sqlite_store.last_runs()["audit"]
    assert last["last"]["status"] == "failed" and last["last_ok"] is None
    [run] = [r for r in sqlite_store.runs_between(NOW.replace(year=2000), NOW.replace(year=2100))]
    assert run["summary"]["error"].startswith("interrupted (KeyboardInterrupt)")
    assert sqlite_store.acquire_lock("audit", now=NOW, lease=settings.store.lock_lease)  # given back

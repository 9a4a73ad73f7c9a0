"""Processes killed with SIGKILL at each step of a run, then run again; two runs started at once.

The receiver's requests are the ground truth: after the recovery run every alert has arrived, and none
twice, except at the one point no webhook protocol can close (the POST reached the chat, the process
died before recording it): at-least-once delivery sends that alert again.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from monitors.engine.pipeline import RunDeps, run_once
from monitors.sources.replay import ReplaySource
from monitors.store.store import Store
from tests.fakes.webhook_server import Reply, WebhookServer
from tests.reliability.harness import LANGFUSE_HOST, NOW, chat_settings, notifiers_for
from tests.reliability.subprocess_run import loops

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow

# kill point -> (outbox rows left by the dead run, alerts the receiver saw twice in the end)
KILLS = {
    "after_read": ({}, 0),
    "after_monitor": ({}, 0),
    "after_commit": ({"pending": 2}, 0),
    "between_alerts": ({"sent": 1, "pending": 1}, 0),
    "after_post": ({"pending": 2}, 1),
}


@pytest.fixture
def hook() -> Iterator[WebhookServer]:
    with WebhookServer() as server:
        yield server


def spawn(store_url: str, hook: WebhookServer, mode: str) -> subprocess.Popen[str]:
    args = [sys.executable, "-m", "tests.reliability.subprocess_run", store_url, hook.url(""), NOW.isoformat(), mode]
    return subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def rerun(store_url: str, hook: WebhookServer, minutes: int = 15):
    settings = chat_settings(hook, kinds=("slack",))
    store = Store.open(store_url)
    source = ReplaySource.from_observations(loops(NOW), host=LANGFUSE_HOST, project_id="proj-1")
    try:
        return run_once(
            "audit", settings, RunDeps(source, store, notifiers_for(settings)), now=NOW + timedelta(minutes=minutes)
        )
    finally:
        store.close()


def sessions_posted(hook: WebhookServer) -> Counter[str]:
    return Counter("s1" if "session s1" in r.json["text"] else "s2" for r in hook.requests)


@pytest.mark.parametrize("point", list(KILLS))
def test_killed_at_each_step_then_rerun_loses_nothing(point: str, hook: WebhookServer, tmp_path: Path) -> None:
    left, duplicates = KILLS[point]
    url = f"sqlite:///{tmp_path / 'state.db'}"
    proc = spawn(url, hook, point)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == -9, err
    store = Store.open(url)
    assert store.outbox_counts() == left
    store.close()
    summary = rerun(url, hook)
    assert summary.status == "ok", summary.error  # the dead process's lock was taken over
    assert sorted(sessions_posted(hook)) == ["s1", "s2"]
    assert sum(sessions_posted(hook).values()) == 2 + duplicates
    assert rerun(url, hook, minutes=30).delivered == 0
    assert sum(sessions_posted(hook).values()) == 2 + duplicates


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_two_runs_started_at_once_send_each_alert_once(
    backend: str, hook: WebhookServer, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = f"sqlite:///{tmp_path / 'state.db'}" if backend == "sqlite" else request.getfixturevalue("postgres_url")
    Store.open(url).close()  # migrate first: both processes then race on the run lock only
    gate = tmp_path / "go"
    hook.default = Reply(200, delay=0.3)
    procs = [spawn(url, hook, f"wait:{gate}") for _ in range(2)]
    for proc in procs:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    gate.touch()
    outputs = [proc.communicate(timeout=120) for proc in procs]
    assert [p.returncode for p in procs] == [0, 0], [err for _, err in outputs]
    summaries = [json.loads(out.strip().splitlines()[-1]) for out, _ in outputs]
    # Slow POSTs keep the first run inside its lock while the second, released at the same moment, asks.
    assert sorted(s["status"] for s in summaries) == ["ok", "skipped"], summaries
    assert sum(s["delivered"] for s in summaries) == 2
    assert sessions_posted(hook) == Counter({"s1": 1, "s2": 1})
    assert all("Traceback" not in err for _, err in outputs)

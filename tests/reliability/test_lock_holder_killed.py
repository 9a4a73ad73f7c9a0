"""A run killed in another pod while it holds its monitor's lock (OOM kill, CronJob deadline).

The holder is a real process that took the lock as another host and is SIGKILLed; the next runs are
the real `run-monitor` CLI in their own processes. PostgreSQL: the lock ended with the holder's
session, so the very next run proceeds. SQLite: the lease (30 s by default) is no longer renewed, so
a run is held back (exit 0 `skipped`, and `status` says HELD BACK) until the lease runs out, and a
run within a minute of the kill proceeds and delivers.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from monitors.engine.config import StoreSettings
from monitors.engine.export import export_observations
from monitors.sources.replay import ReplaySource
from monitors.store.store import Store
from tests.fakes.webhook_server import WebhookServer
from tests.reliability.harness import NOW, window
from tests.reliability.subprocess_run import loops

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


@pytest.fixture
def hook() -> Iterator[WebhookServer]:
    with WebhookServer() as server:
        yield server


def cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "MONITORS_CONFIG"} | {"PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "monitors.app.cli.main", *args, "-c", str(config)]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)


def run_audit(config: Path, replay: Path) -> subprocess.CompletedProcess[str]:
    return cli(config, "audit", "--source", str(replay), "--since", "2026-03-11T00:00:00Z",
               "--until", NOW.isoformat(), "--format", "json")  # fmt: skip


def kill_a_holder_in_another_pod(store_url: str) -> float:
    """Start a process that takes the audit lock as host `pod-a`, SIGKILL it; return when it died."""
    args = [sys.executable, "-m", "tests.reliability.lock_holder", store_url, "audit", "pod-a"]
    holder = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held", holder.stderr
    holder.send_signal(signal.SIGKILL)
    holder.wait(10)
    return time.monotonic()


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_a_run_killed_in_another_pod_holds_its_monitor_back_for_less_than_a_minute(
    backend: str, hook: WebhookServer, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = f"sqlite:///{tmp_path / 'state.db'}" if backend == "sqlite" else request.getfixturevalue("postgres_url")
    Store.open(url).close()
    replay = tmp_path / "traces.jsonl"
    export_observations(ReplaySource.from_observations(loops(NOW)), window(48), replay)
    config = tmp_path / "monitors.yaml"
    config.write_text(yaml.safe_dump({
        "store": {"url": url},  # the default lock lease
        "channels": {"ops": {"kind": "slack", "webhook_url": hook.url("/hooks/T0/B0/SECRET")}},
        "default_route": {"channels": ["ops"]},
    }))  # fmt: skip
    assert StoreSettings().lock_lease.total_seconds() < 60

    killed = kill_a_holder_in_another_pod(url)
    outcomes = []
    while True:
        done = run_audit(config, replay)
        assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
        summary = json.loads(done.stdout.strip().splitlines()[-1])
        outcomes.append(summary["status"])
        if summary["status"] != "skipped":
            break
        assert "pod-a" in summary["error"]  # who holds it back
        status = cli(config, "status")
        assert "audit: HELD BACK since" in status.stdout, status.stdout
        assert time.monotonic() - killed < 60, outcomes
        time.sleep(5)
    proceeded_after = time.monotonic() - killed
    assert outcomes[-1] == "ok" and summary["delivered"] == 2, summary
    assert proceeded_after < 60
    if backend == "postgres":
        assert outcomes == ["ok"]  # the lock died with the holder's session: not held back at all
    assert "HELD BACK" not in cli(config, "status").stdout
    assert len(hook.requests) == 2

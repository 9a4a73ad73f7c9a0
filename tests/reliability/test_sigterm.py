"""SIGTERM to a running `run-monitor` (a CronJob at its activeDeadlineSeconds, `kubectl delete pod`):
the run is recorded as failed and gives its lock back, instead of dying with the lock held."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from monitors.store.store import Store
from tests.reliability.harness import NOW

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow  # a subprocess
def test_sigterm_mid_run_records_a_failed_run_and_releases_the_lock(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as silent:  # a Langfuse that takes the request, never answers
        config = tmp_path / "monitors.yaml"
        config.write_text(
            yaml.safe_dump(
                {
                    "langfuse": {
                        "host": f"http://127.0.0.1:{silent.getsockname()[1]}",
                        "public_key": "pk-lf-x",
                        "secret_key": "sk-lf-x",
                        "timeout": "60s",
                    },
                    "store": {"url": f"sqlite:///{tmp_path / 'state.db'}"},
                    "channels": {"ops": {"kind": "stdout"}},
                }
            )
        )
        env = {k: v for k, v in os.environ.items() if k != "MONITORS_CONFIG"} | {"PYTHONPATH": str(ROOT)}
        args = ["audit", "-c", str(config), "--since", "2026-03-11T00:00:00Z", "--until", NOW.isoformat()]
        proc = subprocess.Popen(
            [sys.executable, "-m", "monitors.app.cli.main", *args],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        silent.settimeout(60)
        conn, _ = silent.accept()  # the run is reading Langfuse now
        time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
        conn.close()
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert "Traceback" not in err and "sk-lf-x" not in err
    store = Store.open(f"sqlite:///{tmp_path / 'state.db'}")
    try:
        last = store.last_runs()["audit"]
        assert last["last"]["status"] == "failed" and last["last_ok"] is None
        assert store.lock_holders() == {}  # given back: the next run need not wait out the lease
    finally:
        store.close()

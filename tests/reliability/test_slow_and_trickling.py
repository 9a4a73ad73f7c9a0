"""A slow chat and trickling servers, through the real `run-monitor` CLI.

A webhook that answers after the client's timeout has the alert already: each timed-out POST is a
possible duplicate. Over five runs of a chat that stays slow, the chat sees at most one duplicate in
total: the first unanswered alert is POSTed once more with twice the patience, later ones get that
patience at once, and after one ended `unconfirmed` the next get a single POST.

A server that sends one byte a second never trips a per-read timeout; the run must still end within its
deadline, with exit 1 and one line that says why.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from monitors.app.cli.main import cli
from monitors.engine.export import export_observations
from monitors.sources.replay import ReplaySource
from monitors.store.store import Store
from tests.fakes.webhook_server import Reply, WebhookServer
from tests.reliability.harness import NOW, window
from tests.reliability.subprocess_run import loops
from tests.reliability.trickle_server import TrickleServer

ROOT = Path(__file__).resolve().parents[2]
WINDOW = ["--since", "2026-03-11T00:00:00Z", "--until", NOW.isoformat()]


@pytest.fixture
def hook() -> Iterator[WebhookServer]:
    with WebhookServer() as server:
        yield server


@pytest.fixture
def replay(tmp_path: Path) -> Path:
    path = tmp_path / "traces.jsonl"
    export_observations(ReplaySource.from_observations(loops(NOW)), window(48), path)  # two loop alerts
    return path


def write_config(tmp_path: Path, webhook_url: str, **sections: Any) -> Path:
    raw = {
        "store": {"url": f"sqlite:///{tmp_path / 'state.db'}"},
        "channels": {"ops": {"kind": "slack", "webhook_url": webhook_url, "timeout": 0.2}},
        "default_route": {"channels": ["ops"]},
        **sections,
    }
    path = tmp_path / "monitors.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def run_cli(*args: str, timeout: float = 60) -> tuple[subprocess.CompletedProcess[str], float]:
    """`run-monitor ARGS` in its own process; returns it and the seconds it took."""
    env = {k: v for k, v in os.environ.items() if k != "MONITORS_CONFIG"} | {"PYTHONPATH": str(ROOT)}
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "monitors.app.cli.main", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip
    return done, time.monotonic() - started


@pytest.mark.parametrize("delay", [0.3, 0.6], ids=["slow, answers within the second patience", "slow throughout"])
def test_a_slow_webhook_over_five_runs_gets_at_most_one_duplicate(
    delay: float, hook: WebhookServer, replay: Path, tmp_path: Path
) -> None:
    hook.default = Reply(200, delay=delay)  # every POST arrives; its answer comes after the 0.2 s timeout
    config = write_config(tmp_path, hook.url("/hooks/T0/B0/SECRET"))
    results = [CliRunner().invoke(cli, ["audit", "-c", str(config), "--source", str(replay), *WINDOW])
               for _ in range(5)]  # fmt: skip
    assert all("Traceback" not in r.output for r in results)
    per_session = [sum(f"session {s}" in r.json["text"] for r in hook.requests) for s in ("s1", "s2")]
    assert min(per_session) >= 1  # every alert reached the chat
    assert len(hook.requests) <= 2 + 1, per_session  # two alerts, at most one duplicate in total
    store = Store.open(f"sqlite:///{tmp_path / 'state.db'}")
    counts = store.outbox_counts()
    store.close()
    if delay == 0.3:  # its second POST waits 0.4 s and is answered; later messages get 0.4 s at once
        assert counts == {"sent": 2} and per_session == [2, 1]
    else:  # recorded: unanswered, not sent again (the first twice, the next once)
        assert counts == {"unconfirmed": 2} and per_session == [2, 1]
    assert [r.exit_code for r in results][-1] == 0  # nothing left to retry: the runs settle


@pytest.mark.slow  # a subprocess
def test_a_trickling_langfuse_ends_the_run_within_its_deadline(tmp_path: Path, hook: WebhookServer) -> None:
    with TrickleServer(interval=1.0) as langfuse:
        config = write_config(
            tmp_path,
            hook.url("/hooks/T0/B0/SECRET"),
            langfuse={"host": langfuse.url, "public_key": "pk-lf-x", "secret_key": "sk-lf-x", "timeout": "30s",
                      "max_retries": 4},
        )  # fmt: skip
        done, took = run_cli("audit", "-c", str(config), "--deadline", "4s", *WINDOW)
    lines = done.stdout.strip().splitlines()
    assert done.returncode == 1, done.stderr
    assert len(lines) == 1 and "status=failed" in lines[0], done.stdout
    assert "no complete answer within 4s" in lines[0] or "run deadline of 4s" in lines[0], lines[0]
    assert "Traceback" not in done.stderr and "sk-lf-x" not in done.stdout + done.stderr
    assert took < 4 + 10  # the deadline, plus the interpreter's start and the store
    assert hook.requests == []


@pytest.mark.slow  # a subprocess
def test_a_trickling_webhook_is_cut_off_at_the_run_deadline(tmp_path: Path, replay: Path) -> None:
    with TrickleServer(interval=1.0) as chat:
        config = write_config(tmp_path, f"{chat.url}/hooks/T0/B0/SECRET")
        raw = yaml.safe_load(config.read_text())
        raw["channels"]["ops"]["timeout"] = 60  # the channel would wait a minute; the run may not
        config.write_text(yaml.safe_dump(raw))
        done, took = run_cli("audit", "-c", str(config), "--source", str(replay), "--deadline", "3s", *WINDOW)
        posts = chat.requests
    lines = done.stdout.strip().splitlines()
    assert done.returncode == 1, done.stderr
    assert len(lines) == 1 and "status=delivery_failed" in lines[0], done.stdout
    assert posts == 1  # one POST, cut off; no retry within the run
    assert took < 3 + 10
    assert "Traceback" not in done.stderr and "SECRET" not in done.stdout + done.stderr

"""`run-monitor scheduler` for real: a child process, two monitors every minute against the local Langfuse,
then SIGTERM. Slow by nature (it waits for a minute boundary): about 60-75 seconds.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitors.store.store import Store
from tests.fakes.langfuse_server import FakeLangfuse
from tests.sources.langfuse_data import T0, build_dataset

ROOT = Path(__file__).resolve().parent.parent
FIRST_RUNS_TIMEOUT = 90  # a minute boundary, plus start-up and two runs on a busy 2-core machine (typically ~62 s)


def _recent_traces() -> list:
    """The shared test dataset, moved so its traces fall inside the scheduler's first window."""
    shift = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=23) - T0  # window: the last ~24 h
    return [
        dataclasses.replace(o, start_time=o.start_time + shift, end_time=o.end_time and o.end_time + shift)
        for o in build_dataset(traces=6, tools_per_trace=4)
    ]


def _config(tmp_path: Path, lf: FakeLangfuse) -> tuple[Path, Path, str]:
    store_url = f"sqlite:///{tmp_path / 'state' / 'monitors.db'}"
    config = tmp_path / "monitors.yaml"
    config.write_text(
        f"langfuse:\n  host: {lf.url}\n  public_key: ${{LANGFUSE_PUBLIC_KEY}}\n  secret_key: ${{LANGFUSE_SECRET_KEY}}\n"
        f"  max_retries: 1\nstore:\n  url: {store_url}\nchannels:\n  terminal:\n    kind: stdout\n"
        "default_route:\n  channels: [terminal]\n"
    )
    schedules = tmp_path / "schedules.yaml"
    schedules.write_text(
        'jobs:\n  - {name: cost-every-minute, monitor: cost, cron: "* * * * *"}\n'
        '  - {name: audit-every-minute, monitor: audit, cron: "* * * * *"}\n'
    )
    return config, schedules, store_url


class _Lines:
    """Collects a stream's lines in a thread so the test can wait for one."""

    def __init__(self, stream) -> None:
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream) -> None:
        for line in stream:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, predicate, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate(self.lines):
                return True
            time.sleep(0.2)
        return False

    def text(self) -> str:
        return "\n".join(self.lines)


def _ran(name: str):
    return lambda lines: any(line.split(": ", 1)[-1].startswith(f"job={name} duration=") for line in lines)


@pytest.mark.slow
def test_scheduler_runs_two_monitors_every_minute_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    with FakeLangfuse(_recent_traces()) as lf:
        config, schedules, store_url = _config(tmp_path, lf)
        env = dict(os.environ, LANGFUSE_PUBLIC_KEY=lf.public_key, LANGFUSE_SECRET_KEY=lf.secret_key)
        command = [sys.executable, "-m", "monitors.app.cli.main", "scheduler", "-c", str(config), "-s", str(schedules)]
        proc = subprocess.Popen(
            [*command, "--reload-interval", "0.5", "--shutdown-timeout", "20"],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            log = _Lines(proc.stderr)
            assert log.wait_for(lambda lines: any("scheduler started: 2 jobs" in ln for ln in lines), 30), log.text()
            both = lambda lines: _ran("cost-every-minute")(lines) and _ran("audit-every-minute")(lines)  # noqa: E731
            assert log.wait_for(both, FIRST_RUNS_TIMEOUT), log.text()
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        requests = len(lf.requests)
    text = log.text()
    print(text)  # shown with -s or -rP
    assert code == 0, text
    assert "received SIGTERM: shutting down" in text and "scheduler stopped cleanly" in text, text
    for name, monitor in (("cost-every-minute", "cost"), ("audit-every-minute", "audit")):
        line = next(ln for ln in log.lines if f"job={name} duration=" in ln)
        assert f"monitor={monitor} status=ok" in line, line
    assert "records=0" not in next(ln for ln in log.lines if "job=audit-every-minute duration=" in ln)
    assert requests > 0  # the runs really read from the local Langfuse
    assert lf.secret_key not in text
    store = Store.open(store_url)
    try:
        runs = store.last_runs()
    finally:
        store.close()
    assert {runs["cost"]["last"]["status"], runs["audit"]["last"]["status"]} == {"ok"}

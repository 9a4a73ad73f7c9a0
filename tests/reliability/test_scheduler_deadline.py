"""The scheduler enforces and reports each job's deadline, and its liveness probe notices a stuck job.

A job against a Langfuse that trickles one byte a second ends at the job's deadline (the runner hands
the deadline to the run) and logs one failed line saying so. A job that runs past its deadline anyway
is logged the moment the service sees it, not after it returns, and once it is `OVERDUE_GRACE` past,
GET /healthz answers 503 so Kubernetes restarts the pod (the only way to end a stuck thread).
"""

from __future__ import annotations

import logging
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from monitors.app.scheduler.health import OVERDUE_GRACE, STALL_TURNS, Health, serve_health
from monitors.app.scheduler.jobs import RunningJobs
from monitors.app.scheduler.runner import JobRunner
from monitors.app.scheduler.service import ServeOptions, serve
from monitors.engine.config import settings_from_dict
from monitors.engine.schedule_config import ScheduleJob, load_schedules
from monitors.store.store import Store
from tests.reliability.trickle_server import TrickleServer

ROOT = Path(__file__).resolve().parents[2]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_a_job_against_a_trickling_langfuse_ends_at_its_deadline_and_says_so(
    sqlite_store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    with TrickleServer(interval=1.0) as langfuse:
        settings = settings_from_dict({
            "langfuse": {"host": langfuse.url, "public_key": "pk-lf-x", "secret_key": "sk-lf-x"},
            "channels": {"out": {"kind": "stdout"}},
        }, env={})  # fmt: skip
        runner = JobRunner(settings, sqlite_store)
        job = ScheduleJob(name="audit", monitor="audit", cron="* * * * *", deadline="3s")
        worker = threading.Thread(target=runner, args=(job,), daemon=True)
        with caplog.at_level(logging.INFO, logger="monitors.app.scheduler.jobs"):
            worker.start()
            worker.join(3 + 10)
            assert not worker.is_alive(), "the job outlived its deadline"
    [line] = [r.getMessage() for r in caplog.records if r.getMessage().startswith("job=audit duration=")]
    assert "status=failed" in line and "run deadline of 3s" in line, line
    assert sqlite_store.last_runs()["audit"]["last"]["status"] == "failed"


def test_running_jobs_report_who_is_past_their_deadline() -> None:
    clock = Clock()
    running = RunningJobs(clock=clock)
    quick = ScheduleJob(name="cost", monitor="cost", cron="* * * * *", deadline="1m")
    slow = ScheduleJob(name="drift", monitor="drift", cron="* * * * *", deadline="10m")
    with running.track(quick), running.track(slow):
        clock.now += 90
        assert running.overdue() == {"cost": (90.0, 60.0)}
    assert running.overdue() == {}


def test_liveness_fails_only_well_past_a_deadline_or_when_the_loop_stalls() -> None:
    clock = Clock()
    health = Health(turn_interval=30, clock=clock)
    assert health.problem() is None
    health.turned({"drift": (600 + OVERDUE_GRACE - 1, 600)})
    assert health.problem() is None  # past its deadline, but within the grace: logged, not fatal
    health.turned({"drift": (600 + OVERDUE_GRACE + 1, 600)})
    assert health.problem() == f"job drift has run {600 + OVERDUE_GRACE + 1:.0f}s, past its deadline of 600s"
    health.turned({})
    clock.now += STALL_TURNS * 30 + 10
    assert "has not turned" in (health.problem() or "")


def test_the_probe_answers_200_then_503_with_the_reason() -> None:
    clock = Clock()
    health = Health(turn_interval=30, clock=clock)
    server = serve_health(health, 0, host="127.0.0.1")
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        assert get(f"{url}/healthz") == (200, "ok\n")
        health.turned({"drift": (10_000.0, 600.0)})
        status, text = get(f"{url}/healthz")
        assert status == 503 and "job drift has run 10000s, past its deadline of 600s" in text
        assert get(f"{url}/other")[0] == 404
    finally:
        server.shutdown()
        server.server_close()


class _StuckRunner(JobRunner):
    """A job stuck where no deadline reaches it (a library call that never returns)."""

    release: threading.Event

    def run(self, job: ScheduleJob) -> str:
        self.release.wait(30)
        return f"monitor={job.monitor} status=ok"


def test_the_service_logs_a_job_past_its_deadline_while_it_still_runs(
    tmp_path: Path, sqlite_store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "schedules.yaml"
    path.write_text('jobs:\n  - {name: stuck, monitor: audit, cron: "* * * * *", deadline: 1s}\n')
    runner = _StuckRunner(settings_from_dict({}, env={}), sqlite_store)
    runner.release = threading.Event()
    job = load_schedules(path).jobs[0]
    worker = threading.Thread(target=runner, args=(job,), daemon=True)
    stop = threading.Event()
    with caplog.at_level(logging.INFO, logger="monitors.app.scheduler.jobs"):
        worker.start()
        threading.Timer(2.0, stop.set).start()
        serve(load_schedules(path), path, runner, stop, ServeOptions(reload_interval=0.2, shutdown_timeout=0))
        assert worker.is_alive()  # still stuck: the report came while it ran
        runner.release.set()
        worker.join(5)
    reports = [r.getMessage() for r in caplog.records if "past its deadline of 1s" in r.getMessage()]
    assert len(reports) == 1 and reports[0].startswith("job=stuck still running"), reports  # once per run


@pytest.mark.slow
def test_the_scheduler_process_serves_its_liveness_probe(tmp_path: Path) -> None:
    config = tmp_path / "monitors.yaml"
    config.write_text(f"store:\n  url: sqlite:///{tmp_path / 'state.db'}\nchannels:\n  out: {{kind: stdout}}\n")
    schedules = tmp_path / "schedules.yaml"
    schedules.write_text('jobs:\n  - {name: weekly, monitor: report, cron: "0 8 * * 4"}\n')
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "monitors.app.cli.main", "scheduler", "-c", str(config), "-s", str(schedules),
               "--health-port", str(port), "--reload-interval", "0.5"]  # fmt: skip
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        answer = None
        for _ in range(100):
            try:
                answer = get(f"http://127.0.0.1:{port}/healthz")
                break
            except OSError:
                time.sleep(0.1)
        assert answer == (200, "ok\n")
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0 and "Traceback" not in out, out

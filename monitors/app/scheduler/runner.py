"""What one scheduled run does: a monitor through `pipeline.run_once`, or the weekly report.

The scheduler calls a `JobRunner` with the schedule entry that fired. Each run gets a fresh source (so
its request count is its own), the shared store and the entry's deadline, which every request and
retry wait of the run fits in (monitors.support.deadline); the pipeline records the run (the
heartbeat) and its outbox makes a run abandoned at shutdown lose no alert. A job that fails is logged
with its name and never stops the other jobs. The service reports a job still running past its
deadline while it runs (service.py, health.py).

The weekly report ("report" monitor) runs as `run-monitor report` in a child process: its command line
is its contract, and a child can be stopped at the job's deadline.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from monitors.app.after_runs import after_runs
from monitors.app.scheduler.jobs import RunningJobs
from monitors.contracts.errors import MonitorsError
from monitors.engine.config import Settings
from monitors.engine.schedule_config import ScheduleJob
from monitors.store.store import Store

log = logging.getLogger("monitors.app.scheduler.jobs")

CONFIG_ENV = "MONITORS_CONFIG"  # the same variable monitors.app.cli.main reads
MAX_CHILD_LINE = 500  # child output is logged; keep one runaway line from flooding the log


def _log_line(line: str) -> None:
    log.info("%s", line)


def _failed(summary_line: str) -> bool:
    return re.search(r"(?:^| )status=(?:failed|delivery_failed)(?: |$)", summary_line) is not None


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class JobRunner:
    """Callable handed to APScheduler: runs one schedule entry and logs one summary line."""

    settings: Settings
    store: Store
    running: RunningJobs = field(default_factory=RunningJobs)
    stopping: threading.Event = field(default_factory=threading.Event)
    source_file: Path | None = None
    config_path: Path | None = None
    schedules_path: Path | None = None  # handed to the report so its digest lists stale monitors
    clock: Callable[[], datetime] = _utcnow
    make_source: Callable[[], Any] | None = None  # default: Langfuse or --source, from settings

    def __call__(self, job: ScheduleJob) -> None:
        if self.stopping.is_set():
            # ThreadPoolExecutor still runs work queued before shutdown; do not start anything new.
            log.info("job=%s monitor=%s not started: the scheduler is shutting down", job.name, job.monitor)
            return
        with self.running.track(job):
            began = time.monotonic()
            try:
                line = self.run(job)
            except MonitorsError as exc:
                line = f"monitor={job.monitor} status=failed error={str(exc)[:MAX_CHILD_LINE]!r}"
            except Exception as exc:  # the job boundary: one failing monitor never stops the others
                log.debug("job=%s traceback", job.name, exc_info=True)
                line = f"monitor={job.monitor} status=failed error={type(exc).__name__}"
            elapsed = time.monotonic() - began
            # A failed run is a warning, so log pipelines that alert on level see it; ok runs stay info.
            level = logging.WARNING if _failed(line) else logging.INFO
            log.log(level, "job=%s duration=%.1fs %s", job.name, elapsed, line)
            if elapsed > job.deadline.total_seconds():
                log.warning("job=%s ran %.0fs, past its deadline of %s", job.name, elapsed, job.deadline)

    def run(self, job: ScheduleJob) -> str:
        """Run the entry now; return its summary line."""
        if job.monitor == "report":
            return self.run_report(job)
        if job.monitor not in self.settings.enabled_monitors():
            return f"monitor={job.monitor} status=disabled"
        from monitors.engine.pipeline import RunDeps, run_once
        from monitors.engine.wiring import build_notifiers, build_source, gitlab_factory

        source = self.make_source() if self.make_source else build_source(self.settings, self.source_file)
        try:
            deps = RunDeps(source, self.store, build_notifiers(self.settings), gitlab_factory(self.settings))
            now = self.clock()
            # The run itself stops at the job's deadline (every request and wait fits in it).
            line = run_once(job.monitor, self.settings, deps, now=now, deadline=job.deadline).line()
            after_runs(self.settings, self.store, deps.notifiers, [job.monitor], now=now, echo=_log_line)
            return line
        finally:
            close = getattr(source, "close", None)
            if callable(close):
                close()

    def run_report(self, job: ScheduleJob) -> str:
        command = [sys.executable, "-m", "monitors.app.cli.main", "report"]
        if self.schedules_path is not None:
            command += ["--schedules", str(self.schedules_path)]
        if self.source_file is not None:
            command += ["--source", str(self.source_file)]
        env = dict(os.environ)
        if self.config_path is not None:
            env[CONFIG_ENV] = str(self.config_path)  # every command reads it; no flag to agree on
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=job.deadline.total_seconds(), check=False, env=env
            )
        except subprocess.TimeoutExpired:
            return f"monitor=report status=failed error='stopped at its deadline of {job.deadline}'"
        for text in (done.stdout + done.stderr).splitlines():
            log.info("job=%s | %s", job.name, text[:MAX_CHILD_LINE])
        return f"monitor=report status={'ok' if done.returncode == 0 else 'failed'} exit={done.returncode}"

"""The APScheduler runner behind `run-monitor scheduler`: one job per schedules.yaml entry.

Each entry becomes an APScheduler 3 job keyed by its name, with a cron trigger in the job's time zone,
`max_instances=1` (never two runs of one job at once; the pipeline's store lock also guards across
processes), `coalesce=True` (a backlog of missed fires runs once) and the entry's misfire grace time.
What a run does lives in monitors/scheduled_run.py; when it happens lives here, the split ElastAlert
makes between `run_rule` and its scheduler.

The schedule file is watched (mtime and size, every few seconds): a valid change replaces the jobs, an
invalid one is rejected with every problem logged and the old jobs keep running.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC
from pathlib import Path
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler

from monitors.contracts.errors import ConfigError
from monitors.engine.schedule_config import ScheduleJob, Schedules, load_schedules
from monitors.engine.schedules import job_trigger

log = logging.getLogger("monitors.app.scheduler.jobs")

DEFAULT_WORKERS = 3  # a long drift run must not hold up the 15-minute cost job

RunJob = Callable[[ScheduleJob], None]


def add_jobs(scheduler: BackgroundScheduler, schedules: Schedules, run_job: RunJob) -> None:
    """Add (or replace) one APScheduler job per schedule entry."""
    for job in schedules.jobs:
        scheduler.add_job(
            run_job,
            trigger=job_trigger(job, schedules),
            args=[job],
            id=job.name,
            name=job.name,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=max(1, int(job.misfire_grace.total_seconds())),
            replace_existing=True,
        )


def build_scheduler(schedules: Schedules, run_job: RunJob, *, workers: int = DEFAULT_WORKERS) -> BackgroundScheduler:
    """A scheduler (not started) holding one job per entry of `schedules`."""
    scheduler = BackgroundScheduler(executors={"default": ThreadPoolExecutor(workers)}, timezone=UTC)
    add_jobs(scheduler, schedules, run_job)
    return scheduler


def _effective(job: ScheduleJob, default_tz: str) -> tuple[Any, ...]:
    return (job.monitor, job.cron, job.timezone or default_tz, job.misfire_grace, job.deadline)


def replace_jobs(scheduler: BackgroundScheduler, old: Schedules, new: Schedules, run_job: RunJob) -> str:
    """Make the scheduler's jobs those of `new`; return what changed, for the log.

    A run in progress is not interrupted: APScheduler counts instances per job id, so a replaced job
    still never overlaps its running predecessor.
    """
    before = {j.name: (j, old.timezone) for j in old.jobs}
    after = {j.name: (j, new.timezone) for j in new.jobs}
    removed = sorted(set(before) - set(after))
    added = sorted(set(after) - set(before))
    changed = sorted(n for n in set(before) & set(after) if _effective(*before[n]) != _effective(*after[n]))
    for name in removed:
        scheduler.remove_job(name)
    add_jobs(scheduler, new, run_job)
    parts = [f"{label}: {', '.join(names)}" for label, names in (("added", added), ("removed", removed)) if names]
    parts += [f"changed: {', '.join(changed)}"] if changed else []
    return "; ".join(parts) or "no job changed"


class ScheduleWatcher:
    """Notices when schedules.yaml changes and loads it; an invalid file is rejected, loudly."""

    def __init__(self, path: Path, current: Schedules) -> None:
        self.path = path
        self.current = current
        self._stamp = self._read_stamp()

    def _read_stamp(self) -> tuple[int, int] | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size)

    def poll(self) -> Schedules | None:
        """The new schedules when the file changed and is valid; None otherwise."""
        stamp = self._read_stamp()
        if stamp == self._stamp:
            return None
        self._stamp = stamp
        if stamp is None:
            log.error("schedule file %s is gone; keeping the current %d jobs", self.path, len(self.current.jobs))
            return None
        try:
            new = load_schedules(self.path)
        except ConfigError as exc:
            log.error(
                "schedule file %s changed but is invalid; keeping the current %d jobs. Problems:",
                self.path,
                len(self.current.jobs),
            )
            for problem in exc.problems:
                log.error("  %s", problem)
            return None
        self.current = new
        return new


class RunningJobs:
    """Which jobs are running now and since when: shutdown waits for them (up to a bound), and the
    service reports a job that runs past its deadline while it runs, not only after it returns."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._names: dict[str, str] = {}  # job name -> monitor
        self._started: dict[str, tuple[float, float]] = {}  # job name -> (start, deadline in seconds)
        self._cond = threading.Condition()
        self._clock = clock

    @contextmanager
    def track(self, job: ScheduleJob) -> Iterator[None]:
        with self._cond:
            self._names[job.name] = job.monitor
            self._started[job.name] = (self._clock(), job.deadline.total_seconds())
        try:
            yield
        finally:
            with self._cond:
                self._names.pop(job.name, None)
                self._started.pop(job.name, None)
                self._cond.notify_all()

    def snapshot(self) -> dict[str, str]:
        with self._cond:
            return dict(self._names)

    def overdue(self) -> dict[str, tuple[float, float]]:
        """Jobs running past their deadline: job name -> (seconds running, deadline in seconds)."""
        now = self._clock()
        with self._cond:
            running = {name: (now - start, limit) for name, (start, limit) in self._started.items()}
        return {name: (ran, limit) for name, (ran, limit) in running.items() if ran > limit}

    def wait_idle(self, timeout: float) -> dict[str, str]:
        """Wait until no job runs or `timeout` seconds pass; return the jobs still running."""
        with self._cond:
            self._cond.wait_for(lambda: not self._names, timeout=timeout)
            return dict(self._names)

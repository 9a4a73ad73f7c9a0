"""The APScheduler runner behind `run-monitor scheduler`: one job per schedules.yaml entry.

Each entry becomes an APScheduler 3 job keyed by its name, with a cron trigger in the job's time zone,
`max_instances=1` (never two runs of one job at once; the pipeline's store lock also guards across
processes), `coalesce=True` (a backlog of missed fires runs once) and the entry's misfire grace time.
What a run does lives in monitors/scheduled_run.py; when it happens lives here, the split ElastAlert
makes between `run_rule` and its scheduler.

The schedule file is watched (mtime and size, every few seconds): a valid change replaces the jobs, an
invalid one is rejected with every problem logged and the old jobs keep running.

`stale_monitors` is the heartbeat check shared by `run-monitor status` and the weekly report: a monitor
is stale when it has not succeeded within twice the longest gap between its scheduled runs.
"""

from __future__ import annotations

import itertools
import logging
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger

from monitors.config import ScheduleJob, Schedules, load_schedules
from monitors.core import ConfigError

log = logging.getLogger("monitors.scheduler")

DEFAULT_WORKERS = 3  # a long drift run must not hold up the 15-minute cost job
INTERVAL_SAMPLES = 12  # fires looked at to find a cron's longest gap (covers weekday-only crons)

RunJob = Callable[[ScheduleJob], None]


def crontab_trigger(expr: str, timezone: ZoneInfo) -> CronTrigger:
    """A CronTrigger that reads `expr` as standard cron (and Kubernetes) do.

    APScheduler 3 numbers weekdays from Monday=0 while cron numbers them from Sunday=0 (its issue 286,
    fixed only in 4.x): `from_crontab("0 8 * * 4")` fires on Fridays, Kubernetes on Thursdays. The
    day-of-week field is rewritten with names, which both read the same way.
    """
    fields = expr.split()
    if len(fields) == 5:
        fields[4] = cron_weekdays(fields[4])
    return CronTrigger.from_crontab(" ".join(fields), timezone=timezone)


def cron_weekdays(field: str) -> str:
    """Standard cron day-of-week (0 or 7 = Sunday, names, ranges, steps) as explicit weekday names."""
    if field in ("*", "?"):
        return "*"
    days: set[int] = set()
    for item in field.split(","):
        part, _, step_text = item.partition("/")
        step = int(step_text) if step_text.isdigit() else None
        if step_text and step is None:
            raise ValueError(f"day of week {field!r}: bad step {step_text!r}")
        if part in ("*", "?"):
            low, high = 0, 6
        else:
            low_text, _, high_text = part.partition("-")
            low = _weekday(low_text, field)
            high = _weekday(high_text, field) if high_text else (6 if step else low)
        if high < low:
            raise ValueError(f"day of week {field!r}: range {part!r} runs backwards")
        days.update(d % 7 for d in range(low, high + 1, step or 1))
    return ",".join(WEEKDAYS[d] for d in sorted(days))


WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


def _weekday(text: str, field: str) -> int:
    text = text.strip().lower()
    if text.isdigit() and 0 <= int(text) <= 7:
        return int(text)  # 7 is Sunday too; callers take it modulo 7 after expanding ranges like 5-7
    if text[:3] in WEEKDAYS and len(text) == 3:
        return WEEKDAYS.index(text)
    raise ValueError(f"day of week {field!r}: {text!r} is not 0-7 or a weekday name (sun..sat)")


def job_timezone(job: ScheduleJob, schedules: Schedules) -> ZoneInfo:
    return ZoneInfo(job.timezone or schedules.timezone)


def job_trigger(job: ScheduleJob, schedules: Schedules) -> CronTrigger:
    """The cron trigger of one entry, in its own time zone (or the file's default)."""
    return crontab_trigger(job.cron, job_timezone(job, schedules))


def next_fire(job: ScheduleJob, schedules: Schedules, now: datetime) -> datetime | None:
    return job_trigger(job, schedules).get_next_fire_time(None, now)


def job_interval(job: ScheduleJob, schedules: Schedules, now: datetime) -> timedelta:
    """The longest gap between consecutive fires from `now` on (e.g. 3 days for a weekday-only cron)."""
    trigger = job_trigger(job, schedules)
    fires: list[datetime] = []
    previous: datetime | None = None
    current = now
    for _ in range(INTERVAL_SAMPLES):
        fire = trigger.get_next_fire_time(previous, current)
        if fire is None:
            break
        fires.append(fire)
        previous, current = fire, fire + timedelta(seconds=1)
    gaps = [b - a for a, b in itertools.pairwise(fires)]
    return max(gaps, default=timedelta(days=1))


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


def _effective(job: ScheduleJob, default_tz: str) -> tuple[Any, ...]:
    return (job.monitor, job.cron, job.timezone or default_tz, job.misfire_grace, job.deadline)


def describe_jobs(schedules: Schedules, now: datetime) -> list[str]:
    """One line per job with its next run time, for `--dry-run` and the start-up log."""
    lines = []
    for job in schedules.jobs:
        fire = next_fire(job, schedules, now)
        when = fire.isoformat() if fire else "never"
        tz = job.timezone or schedules.timezone
        lines.append(f"job={job.name} monitor={job.monitor} cron={job.cron!r} tz={tz} next={when}")
    return lines


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
    """Which jobs are running now, so shutdown can wait for them (up to a bound)."""

    def __init__(self) -> None:
        self._names: dict[str, str] = {}  # job name -> monitor
        self._cond = threading.Condition()

    @contextmanager
    def track(self, job: ScheduleJob) -> Iterator[None]:
        with self._cond:
            self._names[job.name] = job.monitor
        try:
            yield
        finally:
            with self._cond:
                self._names.pop(job.name, None)
                self._cond.notify_all()

    def snapshot(self) -> dict[str, str]:
        with self._cond:
            return dict(self._names)

    def wait_idle(self, timeout: float) -> dict[str, str]:
        """Wait until no job runs or `timeout` seconds pass; return the jobs still running."""
        with self._cond:
            self._cond.wait_for(lambda: not self._names, timeout=timeout)
            return dict(self._names)


@dataclass(frozen=True)
class StaleMonitor:
    """A monitor that has not succeeded within twice its schedule's interval."""

    monitor: str
    jobs: tuple[str, ...]
    interval: timedelta
    last_ok: datetime | None

    def line(self, now: datetime) -> str:
        since = "never succeeded" if self.last_ok is None else f"last success {_span(now - self.last_ok)} ago"
        return f"{self.monitor}: stale ({since}; scheduled every {_span(self.interval)} by {', '.join(self.jobs)})"


def _span(value: timedelta) -> str:
    """A short human duration: 7d, 2d3h, 5h10m, 15m."""
    minutes = int(value.total_seconds() // 60)
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days}d" if not (hours or mins) else f"{days}d{hours}h"
    if hours:
        return f"{hours}h" if not mins else f"{hours}h{mins}m"
    return f"{mins}m"


def stale_monitors(
    schedules: Schedules, last_runs: Mapping[str, Mapping[str, Any]], now: datetime
) -> list[StaleMonitor]:
    """Monitors with no success within twice their interval; `last_runs` is Store.last_runs().

    A monitor scheduled by several jobs is judged by its most frequent one. A monitor that never
    succeeded is stale too (the caller may choose to show it as "never ran" on a fresh install).
    """
    intervals: dict[str, timedelta] = {}
    jobs: dict[str, list[str]] = {}
    for job in schedules.jobs:
        interval = job_interval(job, schedules, now)
        intervals[job.monitor] = min(interval, intervals.get(job.monitor, interval))
        jobs.setdefault(job.monitor, []).append(job.name)
    stale = []
    for monitor in sorted(intervals):
        last_ok = (last_runs.get(monitor) or {}).get("last_ok")
        if last_ok is None or now - last_ok > 2 * intervals[monitor]:
            stale.append(StaleMonitor(monitor, tuple(jobs[monitor]), intervals[monitor], last_ok))
    return stale

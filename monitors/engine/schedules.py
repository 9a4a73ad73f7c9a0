"""When each schedules.yaml job fires, and which monitors are stale.

`stale_monitors` is the heartbeat check shared by `run-monitor status` and the weekly report: a monitor
is stale when it has not succeeded within twice the longest gap between its scheduled runs.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

from monitors.engine.schedule_config import ScheduleJob, Schedules
from monitors.support.cron import crontab_trigger

INTERVAL_SAMPLES = 12  # fires looked at to find a cron's longest gap (covers weekday-only crons)


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


def describe_jobs(schedules: Schedules, now: datetime) -> list[str]:
    """One line per job with its next run time, for `--dry-run` and the start-up log."""
    lines = []
    for job in schedules.jobs:
        fire = next_fire(job, schedules, now)
        when = fire.isoformat() if fire else "never"
        tz = job.timezone or schedules.timezone
        lines.append(f"job={job.name} monitor={job.monitor} cron={job.cron!r} tz={tz} next={when}")
    return lines


def jobs_json(schedules: Schedules, now: datetime) -> list[dict[str, str | None]]:
    """The jobs as `describe_jobs` lists them, for `--format json`."""
    return [
        {
            "name": job.name,
            "monitor": job.monitor,
            "cron": job.cron,
            "timezone": job.timezone or schedules.timezone,
            "next": fire.isoformat() if (fire := next_fire(job, schedules, now)) else None,
        }
        for job in schedules.jobs
    ]


@dataclass(frozen=True)
class StaleMonitor:
    """A monitor that has not succeeded within twice its schedule's interval."""

    monitor: str
    jobs: tuple[str, ...]
    interval: timedelta
    last_ok: datetime | None

    def line(self, now: datetime) -> str:
        since = "never succeeded" if self.last_ok is None else f"last success {_span(now - self.last_ok)} ago"
        jobs = f"job{'s' if len(self.jobs) > 1 else ''} {', '.join(self.jobs)}"
        return f"{self.monitor}: stale ({since}; scheduled every {_span(self.interval)} by {jobs})"


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
    schedules: Schedules,
    last_runs: Mapping[str, Mapping[str, Any]],
    now: datetime,
    *,
    watching_since: datetime | None = None,
) -> list[StaleMonitor]:
    """Monitors with no success within twice their interval; `last_runs` is Store.last_runs().

    A monitor scheduled by several jobs is judged by its most frequent one. A monitor that never
    succeeded is stale once `watching_since` (Store.created_at(): when the deployment began) is more
    than twice its interval ago, or at once without it: a fresh install is not stale before its first
    scheduled runs were due (a weekly report would otherwise fail `status` for up to a week).
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
        reference = last_ok or watching_since
        if reference is None or now - reference > 2 * intervals[monitor]:
            stale.append(StaleMonitor(monitor, tuple(jobs[monitor]), intervals[monitor], last_ok))
    return stale

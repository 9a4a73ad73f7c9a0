"""The life of the `run-monitor scheduler` process: start, watch the schedule file, shut down cleanly.

Shutdown on SIGTERM/SIGINT: no new run starts, running ones get up to `shutdown_timeout` seconds to
finish (keep it below the pod's terminationGracePeriodSeconds). A run still going after that is
abandoned: its store lock is released so the next run is not held up, and nothing is lost, because
the pipeline queues alerts in the outbox and advances the watermark in one transaction; whatever that
run had not committed is read again, and whatever it had queued is delivered, by the next run.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from monitors.app.scheduler.health import Health, serve_health
from monitors.app.scheduler.jobs import ScheduleWatcher, build_scheduler, replace_jobs
from monitors.app.scheduler.runner import JobRunner
from monitors.engine.schedule_config import Schedules
from monitors.engine.schedules import describe_jobs, next_fire

log = logging.getLogger("monitors.app.scheduler.jobs")


@dataclass(frozen=True)
class ServeOptions:
    reload_interval: float = 30.0  # seconds between checks of schedules.yaml (and of running jobs)
    shutdown_timeout: float = 25.0  # below Kubernetes' default 30 s grace period
    workers: int = 3
    health_port: int | None = None  # serve GET /healthz here (the liveness probe); None: no server


def start_line(schedules: Schedules, path: Path, now: datetime, opts: ServeOptions) -> str:
    """The one line logged at start: how many jobs, which, and what runs first."""
    upcoming = sorted(
        ((fire, job.name) for job in schedules.jobs if (fire := next_fire(job, schedules, now)) is not None),
    )
    first = f"; first: {upcoming[0][1]} at {upcoming[0][0].isoformat()}" if upcoming else ""
    names = ", ".join(j.name for j in schedules.jobs) or "none"
    return (
        f"scheduler started: {len(schedules.jobs)} jobs loaded from {path} ({names}); "
        f"checking the file every {opts.reload_interval:g}s{first}"
    )


def serve(
    schedules: Schedules,
    path: Path,
    runner: JobRunner,
    stop: threading.Event,
    opts: ServeOptions,
    health: Health | None = None,
) -> dict[str, str]:
    """Run jobs until `stop` is set; return the jobs abandoned at shutdown (job name -> monitor).

    `health` (default: a new one) is kept up to date on every turn, for whoever else answers from it.
    """
    scheduler = build_scheduler(schedules, runner, workers=opts.workers)
    watcher = ScheduleWatcher(path, schedules)
    health = health or Health(turn_interval=opts.reload_interval)
    probe = serve_health(health, opts.health_port) if opts.health_port is not None else None
    scheduler.start()
    log.info("%s", start_line(schedules, path, datetime.now(UTC), opts))
    reported: set[str] = set()
    try:
        while not stop.wait(opts.reload_interval):
            health.turned(_report_overdue(runner, reported))
            new = watcher.poll()
            if new is not None:
                old, schedules = schedules, new
                change = replace_jobs(scheduler, old, new, runner)
                log.info("schedules reloaded from %s: %d jobs (%s)", path, len(new.jobs), change)
                for line in describe_jobs(new, datetime.now(UTC)):
                    log.info("  %s", line)
    finally:
        runner.stopping.set()
        scheduler.shutdown(wait=False)
        if probe is not None:
            probe.shutdown()
            probe.server_close()
    return _drain(runner, opts.shutdown_timeout)


def _report_overdue(runner: JobRunner, reported: set[str]) -> dict[str, tuple[float, float]]:
    """Log each job the moment it is seen past its deadline (once per run); return the overdue jobs."""
    overdue = runner.running.overdue()
    for name, (ran, limit) in sorted(overdue.items()):
        if name not in reported:
            log.error(
                "job=%s still running %.0fs after it started, past its deadline of %.0fs; it holds a worker "
                "and its monitor's lock (the liveness probe fails if it does not end soon)",
                name, ran, limit,
            )  # fmt: skip
    reported.intersection_update(overdue)
    reported.update(overdue)
    return overdue


def _drain(runner: JobRunner, timeout: float) -> dict[str, str]:
    busy = runner.running.snapshot()
    if busy:
        log.info("shutting down: waiting up to %gs for %s", timeout, ", ".join(sorted(busy)))
    left = runner.running.wait_idle(timeout)
    for job, monitor in sorted(left.items()):
        log.warning("job=%s abandoned at shutdown; its alerts are safe in the outbox and the next run resumes", job)
        runner.store.release_lock(monitor)
    log.info("scheduler stopped%s", f" ({len(left)} run(s) abandoned)" if left else " cleanly")
    return left

"""schedules.yaml: when each monitor runs, for the scheduler, `k8s render` and staleness checks.

Validated as monitors.yaml is (monitors.engine.config): unknown keys rejected, every problem reported
as `file: dotted.path: reason`, all at once, and the CLI exits 2. Each cron expression is read the
way the scheduler and Kubernetes read it (Sunday = 0), in the job's time zone.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from pydantic import Field, ValidationError

from monitors.contracts.errors import ConfigError
from monitors.contracts.values import Duration
from monitors.engine.config import Strict
from monitors.engine.problems import did_you_mean, pydantic_problems
from monitors.engine.registry import MONITORS
from monitors.engine.yaml_input import read_yaml
from monitors.support.zones import known_zone


class ScheduleJob(Strict):
    name: str
    monitor: str = Field(description="cost, drift, audit, events or report.")
    cron: str = Field(description="Five-field cron expression, e.g. '*/15 * * * *'.")
    timezone: str | None = None
    misfire_grace: Duration = "5m"
    deadline: Duration = Field("20m", description="A run is abandoned after this long (k8s too).")


class Schedules(Strict):
    timezone: str = "UTC"
    jobs: list[ScheduleJob] = Field(default_factory=list)


def load_schedules(path: str | Path) -> Schedules:
    """Read and validate schedules.yaml, including each cron expression and time zone."""
    path = Path(path)
    raw = read_yaml(path)
    try:
        schedules = Schedules.model_validate(raw)
    except ValidationError as exc:
        problems = [f"{path}: {p}" for p in pydantic_problems(exc, model=Schedules)]
        raise ConfigError("invalid schedules", problems) from None
    problems = list(dict.fromkeys(_schedule_problems(schedules)))  # a bad file-wide timezone: once
    if problems:
        raise ConfigError("invalid schedules", [f"{path}: {p}" for p in problems])
    return schedules


def _schedule_problems(schedules: Schedules) -> Iterator[str]:
    # The scheduler's reading of cron (Sunday=0, as Kubernetes reads it), so validate agrees with both.
    from monitors.support.cron import crontab_trigger

    seen: set[str] = set()
    for i, job in enumerate(schedules.jobs):
        if job.name in seen:
            yield f"jobs.{i}.name: duplicate job name {job.name!r}"
        seen.add(job.name)
        if job.monitor not in (valid := [*MONITORS, "report"]):
            hint = did_you_mean(job.monitor, valid)
            yield f"jobs.{i}.monitor: unknown monitor {job.monitor!r}{hint} (valid: {', '.join(valid)})"
        zone = known_zone(tz := job.timezone or schedules.timezone)
        if zone is None:
            yield f"{f'jobs.{i}.' if job.timezone else ''}timezone: unknown time zone {tz!r}"
            continue
        try:
            crontab_trigger(job.cron, zone)
        except ValueError as exc:
            yield f"jobs.{i}.cron: {exc}"


__all__ = ["ScheduleJob", "Schedules", "load_schedules"]

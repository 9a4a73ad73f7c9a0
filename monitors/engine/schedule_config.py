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
    """Read and validate schedules.yaml, including each cron expression and time zone.

    Field types and the meaning of each value (cron, zone, monitor, unique names) are checked on the
    same read, so one `validate` shows every problem in the file, not the second kind after the first
    is fixed.
    """
    path = Path(path)
    raw = read_yaml(path)
    problems: list[str] = []
    try:
        schedules = Schedules.model_validate(raw)
    except ValidationError as exc:
        problems += pydantic_problems(exc, model=Schedules)
    problems += _schedule_problems(raw)
    if problems:
        # dict.fromkeys: a bad file-wide timezone is reported once, not once per job
        raise ConfigError("invalid schedules", [f"{path}: {p}" for p in dict.fromkeys(problems)])
    return schedules


def _schedule_problems(raw: object) -> Iterator[str]:
    """What a valid type can still get wrong, read off the raw YAML so a type error elsewhere hides
    nothing. A value of the wrong type is skipped here: the type check has reported it."""
    # The scheduler's reading of cron (Sunday=0, as Kubernetes reads it), so validate agrees with both.
    from monitors.support.cron import crontab_trigger

    if not isinstance(raw, dict) or not isinstance(jobs := raw.get("jobs", []), list):
        return
    file_zone = raw.get("timezone", "UTC")
    seen: set[str] = set()
    for i, job in enumerate(jobs):
        if not isinstance(job, dict):
            continue
        name, monitor, cron, own_zone = (job.get(k) for k in ("name", "monitor", "cron", "timezone"))
        if isinstance(name, str):
            if name in seen:
                yield f"jobs.{i}.name: duplicate job name {name!r}"
            seen.add(name)
        if isinstance(monitor, str) and monitor not in (valid := [*MONITORS, "report"]):
            hint = did_you_mean(monitor, valid)
            yield f"jobs.{i}.monitor: unknown monitor {monitor!r}{hint} (valid: {', '.join(valid)})"
        tz = own_zone if own_zone is not None else file_zone
        if not isinstance(tz, str):
            continue
        zone = known_zone(tz)
        if zone is None:
            yield f"{f'jobs.{i}.' if own_zone is not None else ''}timezone: unknown time zone {tz!r}"
            continue
        if isinstance(cron, str):
            try:
                crontab_trigger(cron, zone)
            except ValueError as exc:
                yield f"jobs.{i}.cron: {exc}"


__all__ = ["ScheduleJob", "Schedules", "load_schedules"]

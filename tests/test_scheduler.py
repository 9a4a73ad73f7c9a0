"""The APScheduler runner: jobs from schedules.yaml, cron semantics, reloads, runs, shutdown, staleness."""

from __future__ import annotations

import logging
import os
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from apscheduler.triggers.cron import CronTrigger
from click.testing import CliRunner

from monitors.app.cli.main import cli
from monitors.app.scheduler.jobs import RunningJobs, ScheduleWatcher, build_scheduler, replace_jobs
from monitors.app.scheduler.runner import JobRunner
from monitors.app.scheduler.service import ServeOptions, serve
from monitors.engine import registry
from monitors.engine.config import settings_from_dict
from monitors.engine.schedule_config import ScheduleJob, Schedules, load_schedules
from monitors.engine.schedules import job_interval, next_fire, stale_monitors
from monitors.sources.replay import ReplaySource
from monitors.store.store import Store
from monitors.support.cron import cron_weekdays

NOW = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)  # a Monday
SCHEDULES = """\
timezone: UTC
jobs:
  - {name: cost, monitor: cost, cron: "*/15 * * * *", misfire_grace: 2m}
  - {name: drift, monitor: drift, cron: "30 6 * * *", timezone: Europe/Berlin, deadline: 45m}
  - {name: weekly-report, monitor: report, cron: "0 8 * * 4"}
"""


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def _noop(job: ScheduleJob) -> None:
    return None


@pytest.fixture
def schedules(tmp_path: Path) -> Schedules:
    return load_schedules(_write(tmp_path / "schedules.yaml", SCHEDULES))


def test_one_job_per_entry_never_overlapping_coalesced_with_its_grace_and_zone(schedules: Schedules) -> None:
    scheduler = build_scheduler(schedules, _noop)
    jobs = {job.id: job for job in scheduler.get_jobs()}
    assert sorted(jobs) == ["cost", "drift", "weekly-report"]
    for job in jobs.values():
        assert (job.max_instances, job.coalesce) == (1, True)
        assert isinstance(job.trigger, CronTrigger)
    assert jobs["cost"].misfire_grace_time == 120
    assert jobs["drift"].misfire_grace_time == 300  # the 5m default
    assert str(jobs["drift"].trigger.timezone) == "Europe/Berlin"
    assert str(jobs["cost"].trigger.timezone) == "UTC"
    assert jobs["drift"].args[0].deadline == timedelta(minutes=45)


def test_weekday_numbers_mean_what_cron_and_kubernetes_mean(schedules: Schedules) -> None:
    # APScheduler 3's from_crontab would read 4 as Friday; cron and Kubernetes read it as Thursday.
    report = schedules.jobs[2]
    fire = next_fire(report, schedules, NOW)
    assert fire == datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
    assert fire.strftime("%A") == "Thursday"
    drift = next_fire(schedules.jobs[1], schedules, NOW)
    assert drift.isoformat() == "2026-11-24T06:30:00+01:00"  # Berlin time


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ("*", "*"),
        ("0", "sun"),
        ("7", "sun"),
        ("4", "thu"),
        ("1-5", "mon,tue,wed,thu,fri"),
        ("5-7", "sun,fri,sat"),
        ("*/2", "sun,tue,thu,sat"),
        ("1-5/2", "mon,wed,fri"),
        ("MON,wed", "mon,wed"),
        ("sat-sun", None),
        ("8", None),
        ("x", None),
    ],
)
def test_cron_weekday_translation(field: str, expected: str | None) -> None:
    if expected is None:
        with pytest.raises(ValueError, match="day of week"):
            cron_weekdays(field)
    else:
        assert cron_weekdays(field) == expected


def test_interval_is_the_longest_gap_between_fires(schedules: Schedules) -> None:
    assert job_interval(schedules.jobs[0], schedules, NOW) == timedelta(minutes=15)
    assert job_interval(schedules.jobs[2], schedules, NOW) == timedelta(days=7)
    weekdays = ScheduleJob(name="w", monitor="cost", cron="0 9 * * 1-5")
    assert job_interval(weekdays, schedules, NOW) == timedelta(days=3)  # Friday to Monday


def test_replacing_jobs_adds_removes_and_changes(tmp_path: Path, schedules: Schedules) -> None:
    scheduler = build_scheduler(schedules, _noop)
    new = load_schedules(
        _write(
            tmp_path / "new.yaml",
            'jobs:\n  - {name: cost, monitor: cost, cron: "*/5 * * * *"}\n'
            '  - {name: audit, monitor: audit, cron: "45 6 * * *"}\n'
            '  - {name: weekly-report, monitor: report, cron: "0 8 * * 4"}\n',
        )
    )
    change = replace_jobs(scheduler, schedules, new, _noop)
    assert change == "added: audit; removed: drift; changed: cost"
    jobs = {job.id: job for job in scheduler.get_jobs()}
    assert sorted(jobs) == ["audit", "cost", "weekly-report"]
    assert str(jobs["cost"].trigger.fields[6]) == "*/5"  # the minute field


def test_invalid_schedule_file_is_rejected_and_the_old_jobs_stay(
    tmp_path: Path, schedules: Schedules, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "schedules.yaml"
    watcher = ScheduleWatcher(path, schedules)
    assert watcher.poll() is None  # unchanged
    _write(
        path,
        'jobs:\n  - {name: cost, monitor: nope, cron: "*/15 * * * *"}\n'
        '  - {name: x, monitor: cost, cron: "61 * * * *"}\n',
    )
    os.utime(path, ns=(1, 1))  # a different mtime even on coarse filesystems
    with caplog.at_level(logging.ERROR, logger="monitors.app.scheduler.jobs"):
        assert watcher.poll() is None
    text = caplog.text
    assert "changed but is invalid; keeping the current 3 jobs" in text
    assert "jobs.0.monitor: unknown monitor 'nope'" in text
    assert "jobs.1.cron: '61 * * * *' is not a cron expression ('61': the last value (61) is higher than" in text
    assert watcher.current is schedules
    assert watcher.poll() is None  # logged once, not on every tick

    _write(path, 'jobs:\n  - {name: cost, monitor: cost, cron: "*/10 * * * *"}\n')
    os.utime(path, ns=(2, 2))
    fresh = watcher.poll()
    assert fresh is not None and [j.cron for j in fresh.jobs] == ["*/10 * * * *"]


def test_the_running_scheduler_rejects_a_bad_file_then_takes_a_good_one(
    tmp_path: Path, sqlite_store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    path = _write(tmp_path / "schedules.yaml", SCHEDULES)
    runner = JobRunner(_settings(), sqlite_store)
    stop = threading.Event()
    opts = ServeOptions(reload_interval=0.05, shutdown_timeout=1)
    thread = threading.Thread(target=serve, args=(load_schedules(path), path, runner, stop, opts))
    with caplog.at_level(logging.INFO, logger="monitors.app.scheduler.jobs"):
        thread.start()
        try:
            assert _wait_for(lambda: "scheduler started" in caplog.text, 5)
            _write(path, "jobs: [{name: cost}]\n")
            os.utime(path, ns=(5, 5))
            assert _wait_for(lambda: "changed but is invalid; keeping the current 3 jobs" in caplog.text, 5)
            assert "jobs.0.monitor: Field required" in caplog.text
            _write(path, 'jobs:\n  - {name: cost, monitor: cost, cron: "*/5 * * * *"}\n')
            os.utime(path, ns=(6, 6))
            assert _wait_for(lambda: "schedules reloaded" in caplog.text, 5)
        finally:
            stop.set()
            thread.join(5)
    assert not thread.is_alive()
    reload_line = next(r.getMessage() for r in caplog.records if "schedules reloaded" in r.getMessage())
    assert reload_line.endswith("1 jobs (removed: drift, weekly-report; changed: cost)")
    assert "job=cost monitor=cost cron='*/5 * * * *'" in caplog.text


def _wait_for(predicate, timeout: float) -> bool:
    done = threading.Event()
    deadline = datetime.now(UTC) + timedelta(seconds=timeout)
    while datetime.now(UTC) < deadline:
        if predicate():
            return True
        done.wait(0.02)
    return False


# --- runs -------------------------------------------------------------------------------------------


@pytest.fixture
def scripted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(registry.MONITORS, "scripted", "tests.fakes.scripted_monitor:ScriptedMonitor")


def _settings(**monitors: dict) -> object:
    raw = {
        "channels": {"ops": {"kind": "stdout"}},
        "default_route": {"channels": ["ops"], "min_severity": "warning"},
        "monitors": monitors,
    }
    return settings_from_dict(raw, env={})


def test_a_job_runs_the_monitor_through_the_pipeline_and_logs_its_summary(
    scripted: None, sqlite_store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    settings = _settings(scripted={"findings": [{"key": "k1", "title": "one"}]})
    runner = JobRunner(
        settings, sqlite_store, clock=lambda: NOW, make_source=lambda: ReplaySource.from_observations([])
    )
    with caplog.at_level(logging.INFO, logger="monitors.app.scheduler.jobs"):
        runner(ScheduleJob(name="every-minute", monitor="scripted", cron="* * * * *"))
    line = next(r.getMessage() for r in caplog.records if r.getMessage().startswith("job=every-minute"))
    assert "monitor=scripted status=ok" in line and "findings=1" in line and "delivered=1" in line
    assert {r.levelno for r in caplog.records if r.getMessage().startswith("job=every-minute")} == {logging.INFO}
    assert sqlite_store.last_runs()["scripted"]["last"]["status"] == "ok"  # the heartbeat, via run_once
    assert runner.running.snapshot() == {}


def test_a_failing_job_is_logged_and_does_not_raise(sqlite_store: Store, caplog: pytest.LogCaptureFixture) -> None:
    # No langfuse section and no --source: building the source fails with a config error.
    runner = JobRunner(_settings(), sqlite_store, clock=lambda: NOW)
    with caplog.at_level(logging.INFO, logger="monitors.app.scheduler.jobs"):
        runner(ScheduleJob(name="cost", monitor="cost", cron="* * * * *"))
    assert "job=cost duration=" in caplog.text
    assert "monitor=cost status=failed error=" in caplog.text and "langfuse" in caplog.text
    [record] = [r for r in caplog.records if r.getMessage().startswith("job=cost duration=")]
    assert record.levelno == logging.WARNING  # a log pipeline alerting on level sees the failure


def test_no_new_run_starts_once_shutdown_began(scripted: None, sqlite_store: Store) -> None:
    runner = JobRunner(_settings(scripted={}), sqlite_store, make_source=lambda: ReplaySource.from_observations([]))
    runner.stopping.set()
    runner(ScheduleJob(name="s", monitor="scripted", cron="* * * * *"))
    assert sqlite_store.last_runs() == {}


def test_shutdown_waits_for_a_running_job_up_to_a_bound() -> None:
    running = RunningJobs()
    job = ScheduleJob(name="slow", monitor="drift", cron="* * * * *")
    release = threading.Event()

    def work() -> None:
        with running.track(job):
            release.wait(5)

    thread = threading.Thread(target=work)
    thread.start()
    assert _wait_for(lambda: running.snapshot() == {"slow": "drift"}, 2)
    assert running.wait_idle(0.05) == {"slow": "drift"}  # still busy: reported as left over
    release.set()
    assert running.wait_idle(5) == {}
    thread.join()


def test_serve_stops_cleanly_when_asked(tmp_path: Path, sqlite_store: Store, caplog: pytest.LogCaptureFixture) -> None:
    path = _write(tmp_path / "schedules.yaml", SCHEDULES)
    runner = JobRunner(_settings(), sqlite_store)
    stop = threading.Event()
    stop.set()
    with caplog.at_level(logging.INFO, logger="monitors.app.scheduler.jobs"):
        left = serve(load_schedules(path), path, runner, stop, ServeOptions(reload_interval=0.01))
    assert left == {}
    assert "scheduler started: 3 jobs loaded from" in caplog.text
    assert "scheduler stopped cleanly" in caplog.text


# --- staleness ------------------------------------------------------------------------------------


def test_stale_when_not_succeeded_within_twice_the_interval(schedules: Schedules) -> None:
    last_runs = {
        "cost": {"last_ok": NOW - timedelta(minutes=29), "failures": 0},  # within 2 x 15 min
        "drift": {"last_ok": NOW - timedelta(days=2, minutes=1), "failures": 3},  # past 2 x 1 day
    }
    stale = stale_monitors(schedules, last_runs, NOW)
    assert [(s.monitor, s.interval, s.last_ok) for s in stale] == [
        ("drift", timedelta(days=1), NOW - timedelta(days=2, minutes=1)),
        ("report", timedelta(days=7), None),
    ]
    assert stale[1].line(NOW) == "report: stale (never succeeded; scheduled every 7d by job weekly-report)"
    assert stale[0].line(NOW) == "drift: stale (last success 2d0h ago; scheduled every 1d by job drift)"
    later = stale_monitors(schedules, last_runs, NOW + timedelta(minutes=2))
    assert "cost" in [s.monitor for s in later]


# --- CLI ------------------------------------------------------------------------------------------


def test_cli_dry_run_lists_jobs_with_next_run_times(tmp_path: Path) -> None:
    path = _write(tmp_path / "schedules.yaml", SCHEDULES)
    result = CliRunner().invoke(cli, ["scheduler", "--schedules", str(path), "--dry-run"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("job=cost monitor=cost cron='*/15 * * * *' tz=UTC next=")
    assert lines[1].startswith("job=drift monitor=drift cron='30 6 * * *' tz=Europe/Berlin next=")
    assert lines[-1] == f"3 jobs in {path}"


def test_cli_bad_schedule_exits_2_naming_each_problem(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "schedules.yaml",
        'jobs:\n  - {name: a, monitor: cost, cron: "* *"}\n  - {name: a, monitor: x, cron: "* * * * *"}\n',
    )
    result = CliRunner().invoke(cli, ["scheduler", "--schedules", str(path)])
    assert result.exit_code == 2
    assert "jobs.0.cron: '* *' is not a cron expression (wrong number of fields; got 2, expected 5)" in result.output
    assert "jobs.1.name: duplicate job name 'a'" in result.output
    assert "jobs.1.monitor: unknown monitor 'x'" in result.output


def test_cli_without_a_source_exits_2_at_start(tmp_path: Path) -> None:
    path = _write(tmp_path / "schedules.yaml", SCHEDULES)
    config = _write(tmp_path / "monitors.yaml", "channels:\n  ops: {kind: stdout}\n")
    result = CliRunner().invoke(cli, ["scheduler", "-s", str(path), "-c", str(config)])
    assert result.exit_code == 2
    assert "langfuse: section required to read traces" in result.output


class _StuckRunner(JobRunner):
    """A job that holds its monitor's store lock until released, like a run stuck on a slow API."""

    started: threading.Event
    release: threading.Event

    def run(self, job: ScheduleJob) -> str:
        assert self.store.acquire_lock(job.monitor, now=datetime.now(UTC), lease=timedelta(hours=1))
        self.started.set()
        self.release.wait(10)
        return "monitor=cost status=ok"


def test_a_run_still_going_after_the_bound_is_abandoned_and_its_lock_released(
    tmp_path: Path, sqlite_store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    path = _write(tmp_path / "schedules.yaml", SCHEDULES)
    runner = _StuckRunner(_settings(), sqlite_store)
    runner.started, runner.release = threading.Event(), threading.Event()
    job = ScheduleJob(name="cost", monitor="cost", cron="* * * * *")
    worker = threading.Thread(target=runner, args=(job,))
    worker.start()
    assert runner.started.wait(5)
    assert not sqlite_store.acquire_lock("cost", now=datetime.now(UTC), lease=timedelta(hours=1))
    stop = threading.Event()
    stop.set()
    with caplog.at_level(logging.INFO, logger="monitors.app.scheduler.jobs"):
        left = serve(load_schedules(path), path, runner, stop, ServeOptions(shutdown_timeout=0.2))
    runner.release.set()
    worker.join(5)
    assert left == {"cost": "cost"}
    assert "job=cost abandoned at shutdown" in caplog.text and "1 run(s) abandoned" in caplog.text
    assert sqlite_store.acquire_lock("cost", now=datetime.now(UTC), lease=timedelta(hours=1))  # not held up


@pytest.mark.slow
def test_the_report_job_runs_run_monitor_report_in_a_child(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    store_url = f"sqlite:///{tmp_path / 'state.db'}"
    config = _write(
        tmp_path / "monitors.yaml",
        f"store: {{url: '{store_url}'}}\nchannels:\n  ops: {{kind: stdout}}\n"
        f"report: {{output_dir: {tmp_path / 'reports'}}}\n",
    )
    schedules = _write(tmp_path / "schedules.yaml", SCHEDULES)
    replay = _write(tmp_path / "empty.jsonl", "")
    store = Store.open(store_url)
    try:
        runner = JobRunner(_settings(), store, source_file=replay, config_path=config, schedules_path=schedules)
        with caplog.at_level(logging.INFO, logger="monitors.app.scheduler.jobs"):
            runner(ScheduleJob(name="weekly-report", monitor="report", cron="0 8 * * 4"))
        assert "job=weekly-report duration=" in caplog.text
        assert "monitor=report status=ok exit=0" in caplog.text, caplog.text
        assert store.last_runs()["report"]["last"]["status"] == "ok"  # the report records its own heartbeat
    finally:
        store.close()


def _fires_on(job: ScheduleJob, schedules: Schedules, day_start: datetime, day_end: datetime) -> list[datetime]:
    """The UTC fire times between two instants, asked the way APScheduler asks after each run."""
    trigger = build_scheduler(schedules, _noop).get_job(job.name).trigger
    fires: list[datetime] = []
    fire = trigger.get_next_fire_time(None, day_start)
    while fire is not None and fire < day_end:
        fires.append(fire.astimezone(UTC))
        # In UTC: adding to a local time in the repeated hour would step back to its first pass.
        fire = trigger.get_next_fire_time(fire, fire.astimezone(UTC) + timedelta(seconds=1))
    return fires


def test_a_job_in_the_hour_clocks_skip_runs_once_and_in_the_repeated_hour_twice(tmp_path: Path) -> None:
    # docs/deployment.md says what a job at 02:30 local time does on the two days a year clocks change.
    schedules = load_schedules(
        _write(
            tmp_path / "s.yaml", 'jobs: [{name: nightly, monitor: audit, cron: "30 2 * * *", timezone: Europe/Berlin}]'
        )
    )
    (job,) = schedules.jobs
    spring = _fires_on(job, schedules, datetime(2026, 3, 28, 23, tzinfo=UTC), datetime(2026, 3, 29, 23, tzinfo=UTC))
    assert spring == [datetime(2026, 3, 29, 1, 30, tzinfo=UTC)]  # 03:30 summer time, an hour late
    autumn = _fires_on(job, schedules, datetime(2026, 10, 24, 22, tzinfo=UTC), datetime(2026, 10, 25, 23, tzinfo=UTC))
    assert autumn == [datetime(2026, 10, 25, 0, 30, tzinfo=UTC), datetime(2026, 10, 25, 1, 30, tzinfo=UTC)]

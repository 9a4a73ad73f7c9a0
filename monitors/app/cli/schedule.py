"""run-monitor scheduler and run-monitor k8s render: run on, or deploy, the schedules in schedules.yaml."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from monitors.app.cli.common import (
    SCHEDULES_DEFAULT,
    Out,
    config_option,
    config_path,
    format_option,
    schedules_path,
)
from monitors.app.cli.errors import exit_codes, fail_config, verbose_option
from monitors.contracts.errors import ConfigError


def setup_logging(verbose: int) -> None:
    from monitors.app.cli.common import setup_logging as setup

    setup(1 + verbose)  # a daemon logs its runs: INFO by default
    if verbose == 0:
        # APScheduler announces every start and end; our one line per run says more. Its misfire and
        # "maximum number of running instances reached" warnings still show.
        logging.getLogger("apscheduler").setLevel(logging.WARNING)
    # run_once logs its own summary; the scheduler logs the same line with the job name and duration.
    logging.getLogger("monitors.engine.pipeline").setLevel(logging.WARNING if verbose < 2 else logging.DEBUG)


def _install_signal_handlers(stop: threading.Event) -> None:
    def handle(signum: int, _frame: Any) -> None:
        logging.getLogger("monitors.app.scheduler.jobs").info("received %s: shutting down", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)


def _scheduler(opts: dict[str, Any]) -> int:
    from monitors.app.scheduler.health import Health
    from monitors.app.scheduler.runner import JobRunner
    from monitors.app.scheduler.service import ServeOptions, serve
    from monitors.engine.schedule_config import load_schedules
    from monitors.engine.schedules import describe_jobs, jobs_json

    path, _named = schedules_path(opts["schedules"], opts["config"])
    schedules = load_schedules(path)
    if opts["dry_run"]:
        out, now = Out(opts["fmt"]), datetime.now(UTC)
        for line in describe_jobs(schedules, now):
            out.line(line)
        out.line(f"{len(schedules.jobs)} jobs in {path}")
        out.document({"schedules": str(path), "jobs": jobs_json(schedules, now)})
        return 0
    from monitors.app.cli.common import CONFIG_ENV, load_settings
    from monitors.app.cli.dry_replay import forges_unused
    from monitors.engine.wiring import build_source, open_store

    scheduled = {job.monitor for job in schedules.jobs}
    settings = load_settings(opts["config"], False, unused=forges_unused(opts["config"], scheduled))
    # Fail at start (exit 2), not at every run, when the monitors have nothing to read from.
    if any(job.monitor != "report" for job in schedules.jobs):
        _close(build_source(settings, opts["source_file"]))
    store = open_store(settings)
    setup_logging(opts["verbose"])  # only now: a CLI test that fails early leaves logging untouched
    stop = threading.Event()
    _install_signal_handlers(stop)
    config_file = settings.source_file or Path(os.environ.get(CONFIG_ENV, "monitors.yaml"))
    runner = JobRunner(settings, store, source_file=opts["source_file"], config_path=config_file, schedules_path=path)
    serve_opts = ServeOptions(opts["reload_interval"], opts["shutdown_timeout"], opts["workers"], opts["health_port"])
    health = Health(turn_interval=serve_opts.reload_interval)
    listener = _start_listener(opts["listen"] or settings.metrics.listen, settings, store, runner.stopping, health)
    try:
        abandoned = serve(schedules, path, runner, stop, serve_opts, health)
    finally:
        if listener is not None:
            listener.stop()
    if abandoned:
        # Worker threads cannot be interrupted and the interpreter would wait for them at exit; the
        # outbox keeps their alerts, so leave now.
        logging.shutdown()
        sys.stdout.flush()
        os._exit(0)
    store.close()
    return 0


def _start_listener(
    listen: str | None, settings: Any, store: Any, stopping: threading.Event, health: Any = None
) -> Any:
    """Serve /metrics and /healthz when `--listen` or `metrics.listen` asks for it.

    Its /healthz answers what --health-port's does (a stalled loop, a job far past its deadline), so a
    liveness probe pointed at either port restarts a wedged scheduler; and 503 once shutdown began.
    """
    if not listen:
        return None
    from monitors.engine.metrics_settings import parse_listen
    from monitors.metrics.listener import MetricsListener
    from monitors.metrics.publish import registry_for

    try:
        host, port = parse_listen(listen)
    except ValueError as exc:
        raise ConfigError(f"--listen / metrics.listen: {exc}") from None
    try:

        def problem() -> str | None:
            if stopping.is_set():
                return "the scheduler is shutting down"
            return health.problem() if health is not None else None

        return MetricsListener(registry_for(store, settings), host, port, problem=problem).start()
    except OSError as exc:
        raise ConfigError(f"metrics listener: cannot listen on {listen} ({exc.strerror or exc})") from None


def _close(source: Any) -> None:
    close = getattr(source, "close", None)
    if callable(close):
        close()


def register(cli: click.Group) -> None:
    @cli.command()
    @config_option
    @click.option(
        "--schedules", "-s", type=click.Path(dir_okay=False), help=f"schedules.yaml to run ({SCHEDULES_DEFAULT})."
    )
    @click.option(
        "--source",
        "source_file",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Replay an export file instead of calling Langfuse.",
    )
    @click.option("--dry-run", is_flag=True, help="Print the jobs and their next run times, then exit.")
    @click.option(
        "--reload-interval",
        type=click.FloatRange(min=0.1),
        default=30.0,
        show_default=True,
        help="Seconds between checks of the schedule file.",
    )
    @click.option(
        "--shutdown-timeout",
        type=click.FloatRange(min=0),
        default=25.0,
        show_default=True,
        help="Seconds a running job gets to finish after SIGTERM before it is abandoned.",
    )
    @click.option(
        "--workers", type=click.IntRange(1, 16), default=3, show_default=True, help="Jobs that may run at once."
    )
    @click.option(
        "--listen",
        metavar="HOST:PORT",
        help="Serve Prometheus /metrics here, e.g. 0.0.0.0:9464, and a /healthz that answers as "
        "--health-port's does (default: metrics.listen in monitors.yaml; unset: no listener).",
    )
    @click.option(
        "--health-port",
        type=click.IntRange(0, 65535),
        help="Serve GET /healthz on this port for a liveness probe: 503 when the loop stalls or a job runs "
        "far past its deadline (a restart ends it). Default: no server.",
    )
    @verbose_option("-v: APScheduler's own logs and an unexpected error's traceback, -vv: every dedupe decision.")
    @format_option(
        'with --dry-run: {"schedules", "jobs": [...]} with each job\'s next run (the running scheduler logs)'
    )
    def scheduler(**opts: Any) -> None:
        """Run the monitors on the cron schedules in schedules.yaml (one long-running process).

        Never runs two instances of one job; coalesces missed runs; reloads schedules.yaml when it changes
        (an invalid file is rejected and the old jobs keep running); SIGTERM finishes cleanly with exit 0.
        """
        sys.exit(exit_codes(_scheduler)(opts))

    @cli.group()
    def k8s() -> None:
        """Kubernetes manifests generated from schedules.yaml (see docs/deployment.md)."""

    @k8s.command()
    @click.option(
        "--schedules", "-s", type=click.Path(dir_okay=False), help=f"schedules.yaml to deploy ({SCHEDULES_DEFAULT})."
    )
    @click.option(
        "--config",
        "-c",
        type=click.Path(dir_okay=False),
        help="monitors.yaml for the ConfigMap (default: $MONITORS_CONFIG, else ./monitors.yaml).",
    )
    @click.option(
        "--image",
        help="Container image, e.g. registry.example.com/langfuse-monitors@sha256:... (default: the image of the "
        "manifests already in --output, else langfuse-monitors:0.1.0).",
    )
    @click.option(
        "-o",
        "--output",
        type=click.Path(file_okay=False, path_type=Path),
        default=Path("deploy/k8s"),
        show_default=True,
        help="Directory to write base/, cronjobs/ and scheduler/ into.",
    )
    @click.option("--check", is_flag=True, help="Write nothing; exit 1 when the files on disk differ.")
    @click.option("--dry-run", is_flag=True, help="Write nothing; list the files that would change.")
    @format_option('{"output", "files", "changed": [paths]} (with --check, the out-of-date ones)')
    def render(
        schedules: str | None,
        config: str | None,
        image: str | None,
        output: Path,
        check: bool,
        dry_run: bool,
        fmt: str,
    ) -> None:
        """Write the kustomize base, one CronJob per schedule entry, and the scheduler Deployment."""
        from monitors.app.k8s import manifests

        try:
            config_file = config_path(config)
            image = image or manifests.image_on_disk(output) or manifests.DEFAULT_IMAGE
            files = manifests.render_all(schedules_path(schedules, config_file)[0], config_file, image=image)
        except ConfigError as exc:
            fail_config(exc)
        out = Out(fmt)
        changed = manifests.differences(files, output) if dry_run or check else manifests.write_all(files, output)
        out.document({"output": str(output), "files": len(files), "changed": [str(output / n) for n in changed]})
        if dry_run:
            for name in changed:
                out.line(f"would write {output / name}")
            out.line(f"{len(changed)} of {len(files)} files would change in {output}")
        elif check:
            for name in changed:
                click.echo(f"out of date: {output / name}", err=True)
            sys.exit(1 if changed else 0)
        else:
            out.line(f"wrote {len(files)} files to {output} ({len(changed)} changed)")

"""run-monitor: the command line. Thin: every command parses options and calls the pipeline.

Exit codes: 0 ok (findings are not errors), 1 a source or delivery failure (or an unexpected error: one
`internal error:` line, -v for its traceback), 2 bad configuration or a file that cannot be read or written.
"""

from __future__ import annotations

import functools
import signal
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click

from monitors.app.cli import audit as cli_audit
from monitors.app.cli import drift as cli_drift
from monitors.app.cli import ops as cli_ops
from monitors.app.cli import report as cli_report
from monitors.app.cli import schedule as cli_schedule
from monitors.app.cli import status as cli_status
from monitors.app.cli import validate as cli_validate
from monitors.app.cli.common import (
    CONFIG_HELP,
    bad_option,
    check_until_after_watermarks,
    check_window,
    parse_when,
    setup_logging,
    terminal_alerts_to_stderr,
)
from monitors.app.cli.dry_replay import drift_problems, replay_settings
from monitors.app.cli.errors import GuardedGroup, exit_codes, verbose_option
from monitors.app.cli.output import RunOutput
from monitors.contracts.errors import ConfigError, SourceError
from monitors.contracts.findings import RunWindow
from monitors.contracts.values import format_duration
from monitors.engine.registry import MONITORS

RUN_MONITORS = tuple(MONITORS)


def run_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Options every monitor-running command shares."""
    options = [
        click.option("--config", "-c", type=click.Path(dir_okay=False), help=CONFIG_HELP),
        click.option(
            "--since",
            help="Start of the window: a duration ago (7d, 6h) or an ISO time. Default: where the last run "
            "stopped (with --source: the file's first observation).",
        ),
        click.option(
            "--until",
            help="End of the window (default: now minus the query delay; with --source: the file's last observation).",
        ),
        click.option(
            "--source",
            "source_file",
            type=click.Path(dir_okay=False, path_type=Path),
            help="Replay an export file instead of calling Langfuse; checks the file's whole time span by default.",
        ),
        click.option(
            "--deadline",
            default="20m",
            show_default=True,
            help="Stop the run after this long (e.g. 90s, 10m): exit 1 with where it stopped. Every request "
            "and retry fits in it; alerts not sent by then stay queued for the next run.",
        ),
        click.option("--dry-run", is_flag=True, help="Print what would be sent; touch neither the store nor any chat."),
        click.option(
            "--demo",
            is_flag=True,
            help="Use the bundled sample week and its config: no credentials, no network (not with -c, --since, "
            "--until or --source; always dry: nothing leaves the terminal).",
        ),
        click.option(
            "--format",
            "fmt",
            type=click.Choice(["text", "json"]),
            default="text",
            help="Summary format. json: stdout holds one JSON document (a monitor's summary; for all, "
            '{"runs": [...]}); alerts go to stderr.',
        ),
        verbose_option("-v: info logs and an unexpected error's traceback, -vv: every dedupe decision."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


# Options that would pick another config, window or data, which the demo's fixed sample week cannot honour.
DEMO_CONFLICTS = (("-c/--config", "config"), ("--since", "since"), ("--until", "until"), ("--source", "source_file"))


@exit_codes
def _run_monitors(names: tuple[str, ...], *, several: bool = False, **opts: Any) -> None:
    """Run `names`; `several`: the command runs every monitor, so JSON output lists the runs."""
    setup_logging(opts["verbose"])
    output = RunOutput(opts["fmt"], click.echo, several=several)
    if opts["demo"]:
        from monitors.app.demo import run_demo

        conflicting = [flag for flag, key in DEMO_CONFLICTS if opts[key]]
        if conflicting:
            raise click.UsageError(
                f"--demo replays the bundled sample week with its own config; drop {', '.join(conflicting)} "
                "(or drop --demo to use them)"
            )
        note = functools.partial(click.echo, err=opts["fmt"] == "json")
        sys.exit(run_demo(names, fmt=opts["fmt"], echo=click.echo, note=note, dry_run=opts["dry_run"], output=output))
    sys.exit(_run_configured(names, opts, output))


def _run_configured(names: tuple[str, ...], opts: dict[str, Any], output: RunOutput) -> int:
    from monitors.engine.pipeline import RunDeps, run_once
    from monitors.engine.wiring import build_notifiers, build_source, gitlab_factory, open_store

    settings = replay_settings(opts["config"], names, source_file=opts["source_file"], dry_run=opts["dry_run"])
    replay = opts["source_file"] is not None and opts["dry_run"]
    # Drift without its forge's token: the other monitors still run, then the command exits 2 naming it.
    unready = drift_problems(settings, names, replay=replay)
    if unready and [name for name in names if name in settings.enabled_monitors()] == ["drift"]:
        raise ConfigError("drift cannot read its forge", list(unready.values()))
    now = datetime.now(UTC)
    since, until = parse_when(opts["since"], now, "--since"), parse_when(opts["until"], now, "--until")
    deadline = parse_deadline(opts["deadline"])
    source = build_source(settings, opts["source_file"])
    if opts["source_file"] is not None:
        since, until = _replay_window(source, opts["source_file"], since, until)
    else:
        delay = settings.langfuse.query_delay if settings.langfuse else timedelta(minutes=15)
        check_window(since, until, end=now - delay, end_is=f"now minus langfuse.query_delay {format_duration(delay)}")
    store = open_store(settings, dry_run=opts["dry_run"])
    if opts["source_file"] is None and not opts["dry_run"]:  # a dry run's store is a new, empty one
        enabled = [name for name in names if name in settings.enabled_monitors()]
        check_until_after_watermarks(
            since=since, until=until, watermarks={n: store.watermark(n) for n in enabled}, now=now
        )
    notifiers = terminal_alerts_to_stderr(build_notifiers(settings, dry_run=opts["dry_run"]), opts["fmt"])
    deps = RunDeps(source, store, notifiers, gitlab_factory(settings))
    code = 0
    ran: list[str] = []
    try:
        for name in names:
            if name not in settings.enabled_monitors():
                output.disabled(name)
                continue
            if name == "drift" and unready:
                output.not_run(name, f"not set: {', '.join(unready)}")
                code = 2
                continue
            summary = run_once(
                name, settings, deps, now=now, since=since, until=until, dry_run=opts["dry_run"], deadline=deadline
            )
            output.run(summary)
            code = max(code, summary.exit_code)
            ran.append(name)
        if not opts["dry_run"]:
            from monitors.app.after_runs import after_runs

            synced = after_runs(settings, store, deps.notifiers, ran, now=now, echo=click.echo, on_sync=output.synced)
            code = max(code, synced)
    finally:
        output.close()  # a bad setting found mid-way (exit 2) still leaves the runs before it on stdout
    for problem in unready.values():
        click.echo(problem, err=True)
    return code


def parse_deadline(value: str) -> timedelta:
    from monitors.contracts.values import parse_duration

    try:
        deadline = parse_duration(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--deadline") from None
    if deadline <= timedelta(0):
        raise click.BadParameter("must be longer than zero", param_hint="--deadline")
    return deadline


def _replay_window(
    source: Any, path: Path, since: datetime | None, until: datetime | None
) -> tuple[datetime | None, datetime | None]:
    """A replay checks the file's own time span unless told otherwise, and says when it checks less.

    A live run's default (since the watermark, or the last 24 hours) would usually miss an export
    of a past week entirely and report "records=0 findings=0" as if all were well.
    """
    try:
        span = source.span()
    except SourceError as exc:  # unreadable: a damaged gzip, a permission denied
        raise bad_option("--source", str(exc)) from None
    if span is None:
        raise bad_option("--source", f"{path} holds no readable observations: nothing to replay")
    first, last = f"the first observation in {path}", f"the last observation in {path}"
    check_window(since, until, start=span.start, start_is=first, end=span.end, end_is=last)
    start, end = since or span.start, until or span.end
    if start > span.start or end < span.end:  # a wider window misses nothing: no need to say so
        checked = RunWindow(start, end)
        click.echo(f"note: {path} holds observations over {span}; checking {checked} only", err=True)
    return start, end


@click.group(cls=GuardedGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="langfuse-monitors")
def cli() -> None:
    """Watch unattended LLM agents through their Langfuse traces; alert a human when something is wrong.

    Channels: Slack, Mattermost, Teams, Discord, email, PagerDuty, Alertmanager, any webhook or the terminal.

    \b
    Try it with no credentials:   run-monitor all --demo
    Check a config file:          run-monitor validate -c monitors.yaml
    Run one monitor now:          run-monitor cost -c monitors.yaml
    """


@cli.command()
@run_options
def cost(**opts: Any) -> None:
    """Daily budgets: warn at 80%, page at 100%, flag spikes and days heading over the cap."""
    _run_monitors(("cost",), **opts)


@cli.group(invoke_without_command=True)
@run_options
@click.pass_context
def drift(ctx: click.Context, **opts: Any) -> None:
    """Goal drift: compare each agent's objective with what its merge or pull request changed.

    Subcommand `calibrate PAIRS.jsonl [--changes CHANGES.jsonl]` measures the score on your own labelled history.
    """
    if ctx.invoked_subcommand is None:
        _run_monitors(("drift",), **opts)


@cli.group(invoke_without_command=True)
@run_options
@click.pass_context
def audit(ctx: click.Context, **opts: Any) -> None:
    """Action audit: loops, repeats, failures, conversation loops, claims no call backs, plan divergence.

    Subcommand `evaluate SESSIONS --labels LABELS.jsonl` measures it on sessions you judged yourself.
    """
    if ctx.invoked_subcommand is None:
        _run_monitors(("audit",), **opts)


@cli.command()
@run_options
def events(**opts: Any) -> None:
    """Errors and failing evaluations: bursts of one error, error shares above usual, failing scores."""
    _run_monitors(("events",), **opts)


@cli.command(name="all")
@run_options
def run_all(**opts: Any) -> None:
    """Run every enabled monitor, one after another; one failing never stops the others."""
    _run_monitors(RUN_MONITORS, several=True, **opts)


@cli.command(name="help")
@click.argument("command", nargs=-1)
@click.pass_context
def help_(ctx: click.Context, command: tuple[str, ...]) -> None:
    """Show help for run-monitor or for one command (`run-monitor help drift calibrate`)."""
    group: click.Command = cli
    sub_ctx = ctx.parent or ctx
    for name in command:
        sub = group.get_command(sub_ctx, name) if isinstance(group, click.Group) else None
        if sub is None:
            raise click.UsageError(f"no such command {' '.join(command)!r}; run-monitor --help lists them")
        sub_ctx = click.Context(sub, info_name=name, parent=sub_ctx)
        group = sub
    click.echo(sub_ctx.get_help())


# Operator commands live in their own modules; each registers its commands on `cli`.
cli_ops.register(cli)
cli_status.register(cli)
cli_validate.register(cli)
cli_audit.register(audit)
cli_drift.register(drift)
cli_report.register(cli)
cli_schedule.register(cli)


def _exit_on_sigterm() -> None:
    """SIGTERM (a CronJob at its activeDeadlineSeconds, `kubectl delete pod`, systemd) ends the command as
    an exception, so a run in progress records itself as failed and gives its lock back instead of
    holding the monitor for a lease. The scheduler installs its own handler (a graceful stop)."""

    def stop(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, stop)


def main() -> None:
    _exit_on_sigterm()
    # Help and usage name the installed command, also when started as `python -m monitors.app.cli`.
    cli(prog_name="run-monitor")


if __name__ == "__main__":
    main()

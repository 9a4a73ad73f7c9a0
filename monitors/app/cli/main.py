"""run-monitor: the command line. Thin: every command parses options and calls the pipeline.

Exit codes: 0 ok (findings are not errors), 1 a source or delivery failure, 2 bad configuration.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from monitors.app.cli import drift as cli_drift
from monitors.app.cli import ops as cli_ops
from monitors.app.cli import report as cli_report
from monitors.app.cli import schedule as cli_schedule
from monitors.app.cli.common import CONFIG_ENV, load_settings, parse_when, setup_logging
from monitors.app.cli.errors import exit_codes
from monitors.contracts.errors import ConfigError
from monitors.engine.registry import MONITORS

RUN_MONITORS = tuple(MONITORS)


def run_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Options every monitor-running command shares."""
    options = [
        click.option(
            "--config",
            "-c",
            type=click.Path(dir_okay=False),
            help=f"monitors.yaml (default: ${CONFIG_ENV} or ./monitors.yaml).",
        ),
        click.option(
            "--since",
            help="Start of the window: a duration ago (7d, 6h) or an ISO time. Default: where the last run stopped.",
        ),
        click.option("--until", help="End of the window (default: now minus the query delay)."),
        click.option(
            "--source",
            "source_file",
            type=click.Path(dir_okay=False, path_type=Path),
            help="Replay an export file instead of calling Langfuse.",
        ),
        click.option("--dry-run", is_flag=True, help="Print what would be sent; touch neither the store nor any chat."),
        click.option(
            "--demo", is_flag=True, help="Use the bundled sample week and config: no credentials, no network."
        ),
        click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", help="Summary format."),
        click.option("-v", "--verbose", count=True, help="-v: info logs, -vv: every dedupe decision."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


@exit_codes
def _run_monitors(names: tuple[str, ...], **opts: Any) -> None:
    setup_logging(opts["verbose"])
    if opts["demo"]:
        from monitors.app.demo import run_demo

        sys.exit(run_demo(names, fmt=opts["fmt"], echo=click.echo))
    sys.exit(_run_configured(names, opts))


def _run_configured(names: tuple[str, ...], opts: dict[str, Any]) -> int:
    from monitors.engine.pipeline import RunDeps, run_once
    from monitors.engine.wiring import build_notifiers, build_source, gitlab_factory, open_store

    settings = load_settings(opts["config"], False)
    now = datetime.now(UTC)
    since, until = parse_when(opts["since"], now), parse_when(opts["until"], now)
    store = open_store(settings, dry_run=opts["dry_run"])
    source = build_source(settings, opts["source_file"])
    deps = RunDeps(source, store, build_notifiers(settings, dry_run=opts["dry_run"]), gitlab_factory(settings))
    code = 0
    for name in names:
        if name not in settings.enabled_monitors():
            click.echo(f"monitor={name} status=disabled")
            continue
        summary = run_once(name, settings, deps, now=now, since=since, until=until, dry_run=opts["dry_run"])
        echo_summary(summary, opts["fmt"])
        code = max(code, summary.exit_code)
    return code


def echo_summary(summary: Any, fmt: str) -> None:
    click.echo(json.dumps(summary.to_dict(), default=str) if fmt == "json" else summary.line())


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="langfuse-monitors")
def cli() -> None:
    """Watch unattended LLM agents through their Langfuse traces; alert in Mattermost or Slack.

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


@cli.command()
@run_options
def audit(**opts: Any) -> None:
    """Tool-call audit: loops, repeated calls, backtracking, runaway chains, plan divergence."""
    _run_monitors(("audit",), **opts)


@cli.command(name="all")
@run_options
def run_all(**opts: Any) -> None:
    """Run every enabled monitor, one after another; one failing never stops the others."""
    _run_monitors(RUN_MONITORS, **opts)


@cli.command()
@click.option("--config", "-c", type=click.Path(dir_okay=False), help="monitors.yaml to check.")
@click.option("--schedules", "-s", type=click.Path(dir_okay=False), help="schedules.yaml to check too.")
@click.option(
    "--dry-run", is_flag=True, help="Accepted for uniformity: validate only reads, it never changes anything."
)
def validate(config: str | None, schedules: str | None, dry_run: bool) -> None:
    """Check monitors.yaml (and schedules.yaml) and print every problem as file: key: reason."""
    from monitors.engine.config import load_schedules

    problems: list[str] = []
    checked: list[str] = []
    try:
        settings = load_settings(config, False)
        checked.append(str(settings.source_file))
    except ConfigError as exc:
        problems += exc.problems
    if schedules:
        try:
            load_schedules(schedules)
            checked.append(schedules)
        except ConfigError as exc:
            problems += exc.problems
    if problems:
        for problem in problems:
            click.echo(problem, err=True)
        sys.exit(2)
    click.echo(f"ok: {', '.join(checked)} valid")


# Operator commands live in their own modules; each registers its commands on `cli`.
cli_ops.register(cli)
cli_drift.register(drift)
cli_report.register(cli)
cli_schedule.register(cli)


def main() -> None:
    cli()


if __name__ == "__main__":
    main()

"""run-monitor validate: every problem of monitors.yaml (and schedules.yaml), in one pass."""

from __future__ import annotations

import sys
from typing import Any

import click

from monitors.app.cli.common import Out, config_option, format_option, load_settings
from monitors.app.cli.dry_replay import forges_unused
from monitors.contracts.errors import ConfigError
from monitors.engine.registry import MONITORS


def register(cli: click.Group) -> None:
    @cli.command()
    @config_option
    @click.option("--schedules", "-s", type=click.Path(dir_okay=False), help="schedules.yaml to check too.")
    @click.option(
        "--dry-run", is_flag=True, help="Accepted for uniformity: validate only reads, it never changes anything."
    )
    @format_option('{"ok", "checked": [files], "problems": ["file: key: reason", ...], "notes": [...]}')
    def validate(config: str | None, schedules: str | None, dry_run: bool, fmt: str) -> None:
        """Check monitors.yaml (and schedules.yaml) and print every problem as file: key: reason.

        Runs the checks a monitor run makes before it reads anything (every secret resolves, a trace source
        is configured, every channel can be built), so a config that passes here does not fail a run on them.
        """
        from monitors.app.k8s.manifests import check_names
        from monitors.engine.schedule_config import load_schedules

        problems: list[str] = []
        checked: list[str] = []
        notes: list[str] = []
        try:
            # A forge's token only when drift will read that forge live (not from an offline_file).
            settings = load_settings(config, False, unused=forges_unused(config, MONITORS))
        except ConfigError as exc:
            problems += exc.problems
        else:
            problems += _build_problems(settings)
            if not problems:
                checked.append(str(settings.source_file))
        if schedules:
            try:
                plan = load_schedules(schedules)
            except ConfigError as exc:
                problems += exc.problems
            else:
                checked.append(schedules)
                try:
                    check_names(plan)
                except ConfigError as exc:  # valid for the scheduler, not for Kubernetes
                    notes += [
                        f"{schedules}: {p} (only k8s render needs this; the scheduler takes it)" for p in exc.problems
                    ]
        out = Out(fmt)
        out.document({"ok": not problems, "checked": checked, "problems": problems, "notes": notes})
        for note in notes:
            click.echo(f"note: {note}", err=True)
        if problems:
            for problem in problems:
                click.echo(problem, err=True)
            sys.exit(2)
        out.line(f"ok: {', '.join(checked)} valid")


def _build_problems(settings: Any) -> list[str]:
    """What a run would fail on building its source and each channel, every one of them (not the first)."""
    from monitors.engine.wiring import build_notifiers, build_source

    problems: list[str] = []
    builds = [lambda: build_source(settings)]
    for name, channel in settings.channel_configs.items():
        only = settings.model_copy(update={"channel_configs": {name: channel}})
        builds.append(lambda only=only: build_notifiers(only))
    for build in builds:
        try:
            build()
        except ConfigError as exc:
            problems += exc.problems
    return problems

"""Operator commands of run-monitor: export, silence, test-alert, status, report, scheduler."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from monitors.app.cli.errors import exit_codes
from monitors.contracts.errors import ConfigError

NOT_BUILT = "is not built yet in this version (tracked in the project's issues)"


def _settings(config: str | None, demo: bool = False) -> Any:
    from monitors.app.cli.common import load_settings

    return load_settings(config, demo)


def register(cli: click.Group) -> None:
    config_opt = click.option("--config", "-c", type=click.Path(dir_okay=False), help="monitors.yaml.")

    @cli.command()
    @config_opt
    @click.option("--since", default="7d", show_default=True, help="A duration ago (7d) or an ISO time.")
    @click.option("--until", help="End of the window (default: now).")
    @click.option(
        "-o",
        "--output",
        type=click.Path(dir_okay=False, path_type=Path),
        required=True,
        help="File to write (JSON lines; gzip when it ends in .gz).",
    )
    @click.option("--dry-run", is_flag=True, help="Count what would be exported; write nothing.")
    @exit_codes
    def export(config: str | None, since: str, until: str | None, output: Path, dry_run: bool) -> None:
        """Save observations from Langfuse to a file that any monitor can replay with --source."""
        from monitors.app.cli.common import parse_when
        from monitors.contracts.findings import RunWindow
        from monitors.engine.export import export_observations
        from monitors.engine.wiring import build_source

        settings = _settings(config)
        now = datetime.now(UTC)
        window = RunWindow(parse_when(since, now) or now, parse_when(until, now) or now)
        source = build_source(settings)
        target = Path("/dev/null") if dry_run else output
        count = export_observations(source, window, target)
        verb = "would export" if dry_run else f"exported to {output}:"
        click.echo(
            f"{verb} {count} observations, window={window} requests={source.stats.requests} "
            f"malformed={source.stats.malformed}"
        )

    @cli.command()
    @click.argument("monitor", required=False)
    @config_opt
    @click.option("--key", help="Silence only findings whose key is this or starts with it (e.g. a budget name).")
    @click.option("--for", "duration", help="How long, e.g. 2h or 3d.")
    @click.option("--reason", default="", help="Why (shown by --list).")
    @click.option("--list", "list_", is_flag=True, help="List active silences.")
    @click.option("--remove", type=int, help="Remove the silence with this id.")
    @click.option("--dry-run", is_flag=True, help="Say what would change; change nothing.")
    @exit_codes
    def silence(
        monitor: str | None,
        config: str | None,
        key: str | None,
        duration: str | None,
        reason: str,
        list_: bool,
        remove: int | None,
        dry_run: bool,
    ) -> None:
        """Mute a monitor (or one of its keys) for a while; list or remove silences."""
        from monitors.contracts.values import parse_duration
        from monitors.engine.registry import MONITORS
        from monitors.engine.wiring import open_store

        store = open_store(_settings(config))
        now = datetime.now(UTC)
        if list_:
            active = store.silences(now=now)
            for s in active:
                click.echo(f"#{s.id} {s.monitor} key={s.key or '*'} until={s.until:%Y-%m-%d %H:%M}Z {s.reason or ''}")
            click.echo(f"{len(active)} active silence(s)")
            return
        if remove is not None:
            done = dry_run or store.remove_silence(remove)
            click.echo(
                f"{'would remove' if dry_run else 'removed'} silence #{remove}" if done else f"no silence #{remove}"
            )
            return
        if monitor not in MONITORS or not duration:
            raise click.UsageError(f"give MONITOR ({', '.join(MONITORS)}) and --for DURATION, or --list/--remove")
        try:
            until = now + parse_duration(duration)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--for") from None
        if dry_run:
            click.echo(f"would silence {monitor} key={key or '*'} until {until:%Y-%m-%d %H:%M}Z")
            return
        sid = store.add_silence(monitor, key, until, now=now, reason=reason)
        click.echo(f"silenced {monitor} key={key or '*'} until {until:%Y-%m-%d %H:%M}Z (#{sid})")

    @cli.command(name="test-alert")
    @config_opt
    @click.option("--channel", required=True, help="Channel name from monitors.yaml.")
    @click.option("--dry-run", is_flag=True, help="Print the message instead of sending it.")
    @exit_codes
    def test_alert(config: str | None, channel: str, dry_run: bool) -> None:
        """Send a harmless test message to one channel to check its webhook."""
        from monitors.engine.render import test_message
        from monitors.engine.wiring import build_notifiers

        settings = _settings(config)
        notifiers = build_notifiers(settings, dry_run=dry_run)
        if channel not in notifiers:
            raise ConfigError(f"--channel: unknown channel {channel!r} (defined: {', '.join(notifiers) or 'none'})")
        result = notifiers[channel].deliver(test_message())
        click.echo(f"channel={channel} ok={result.ok} status={result.status} reason={result.reason}")
        sys.exit(0 if result.ok else 1)

    @cli.command()
    @config_opt
    @click.option(
        "--schedules",
        "-s",
        type=click.Path(dir_okay=False, path_type=Path),
        help="schedules.yaml, to flag stale monitors (default: next to the config, if there).",
    )
    @click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
    @click.option("--dry-run", is_flag=True, help="Read the store without upgrading its schema.")
    @exit_codes
    def status(config: str | None, schedules: Path | None, fmt: str, dry_run: bool) -> None:
        """Each monitor's last run and last success, monitors gone stale, and alerts waiting to be sent.

        Exits 1 when a scheduled monitor has not succeeded within twice its interval (for probes).
        """
        import json

        from monitors.engine.config import load_schedules
        from monitors.engine.schedules import stale_monitors
        from monitors.engine.wiring import open_store
        from monitors.store.store import Store

        settings = _settings(config)
        url = settings.store.url.get_secret_value()
        store, now = (Store.open(url, migrate_schema=False) if dry_run else open_store(settings)), datetime.now(UTC)
        runs, outbox = store.last_runs(), store.outbox_counts()
        if schedules is None and settings.source_file is not None:
            beside = settings.source_file.parent / "schedules.yaml"
            schedules = beside if beside.exists() else None
        stale = stale_monitors(load_schedules(schedules), runs, now) if schedules else []
        if fmt == "json":
            click.echo(json.dumps({"runs": runs, "outbox": outbox, "stale": [s.monitor for s in stale]}, default=str))
        else:
            for monitor, entry in sorted(runs.items()):
                last = entry.get("last") or {}
                click.echo(
                    f"{monitor}: last={last.get('status')} at {last.get('finished_at')} "
                    f"last_ok={entry['last_ok']} failures={entry['failures']}"
                )
            for item in stale:
                click.echo(item.line(now))
            click.echo(
                f"outbox: {outbox or 'empty'}; stale monitors: {len(stale) if schedules else 'unknown (no schedules)'}"
            )
        sys.exit(1 if stale else 0)

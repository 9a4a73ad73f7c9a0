"""Helpers every run-monitor command module shares: settings loading, time options, logging."""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Callable, Collection, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from monitors.contracts.errors import ConfigError

CONFIG_ENV = "MONITORS_CONFIG"
CONFIG_HELP = f"monitors.yaml to read (default: ${CONFIG_ENV}, else ./monitors.yaml)."
SCHEDULES_ENV = "MONITORS_SCHEDULES"
SCHEDULES_DEFAULT = f"default: ${SCHEDULES_ENV}, else schedules.yaml next to the config file"

# Top-level config sections whose secrets each kind of command uses; see load_settings(needs=...).
STORE_ONLY = ("store",)
LANGFUSE_ONLY = ("langfuse",)


def config_option(fn: Any) -> Any:
    """The -c/--config option, worded the same on every command."""
    return click.option("--config", "-c", type=click.Path(dir_okay=False), help=CONFIG_HELP)(fn)


def format_option(holds: str) -> Callable[[Any], Any]:
    """--format text|json, worded the same on every command; `holds` says what the JSON document holds."""
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(["text", "json"]),
        default="text",
        show_default=True,
        help=f"json: stdout holds one JSON document, {holds}.",
    )


class Out:
    """What a command prints: text lines as they come, or with --format json one document at the end,
    so stdout parses whole. Problems go to stderr either way."""

    def __init__(self, fmt: str) -> None:
        self.json = fmt == "json"

    def line(self, text: str) -> None:
        if not self.json:
            click.echo(text)

    def document(self, document: Mapping[str, Any]) -> None:
        if self.json:
            click.echo(json.dumps(document, default=str))


def parse_when(value: str | None, now: datetime, option: str) -> datetime | None:
    """'7d' / '90m' (ago) or an ISO 8601 time; a bad one is an error naming `option` (--since, --until)."""
    if not value:
        return None
    from monitors.contracts.values import parse_duration

    try:
        return now - parse_duration(value)
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise bad_option(option, f"{value!r}: use a duration ago (7d, 6h) or an ISO time") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def bad_option(option: str, reason: str) -> ConfigError:
    """A bad value given on the command line: one line naming the option, exit 2."""
    return ConfigError(f"{option}: {reason}")


def check_window(
    since: datetime | None,
    until: datetime | None,
    *,
    end: datetime,
    end_is: str,
    start: datetime | None = None,
    start_is: str = "",
) -> None:
    """Refuse a window with nothing in it: `--since` at or after `--until`, or after the end a run takes
    without `--until` (`end`, which `end_is` explains); `--until` at or before the start it takes without
    `--since` (`start`, when known). Such a run read nothing and said all was well."""
    if since is not None and until is not None and since >= until:
        raise bad_option("--since", f"{iso(since)} is not before --until {iso(until)}: the window holds nothing")
    if since is not None and until is None and since >= end:
        raise bad_option("--since", f"{iso(since)} is not before the window's end, {end_is} ({iso(end)})")
    if until is not None and since is None and start is not None and until <= start:
        raise bad_option("--until", f"{iso(until)} is not after the window's start, {start_is} ({iso(start)})")


def check_until_after_watermarks(
    until: datetime | None, since: datetime | None, watermarks: dict[str, datetime | None], now: datetime
) -> None:
    """Refuse `--until` alone at or before where a monitor's last run stopped: without `--since` a run
    reads from there, so its window would hold nothing (and it said all was well)."""
    if until is None or since is not None:
        return
    for name, watermark in watermarks.items():
        if watermark is not None and watermark <= now and until <= watermark:
            raise bad_option(
                "--until",
                f"{iso(until)} is not after where the last {name} run stopped ({iso(watermark)}); "
                "give --since too to read a past range",
            )


def iso(value: datetime) -> str:
    """A time as the run's summary line writes it: 2026-11-23T08:45:12Z."""
    return f"{value.astimezone(UTC):%Y-%m-%dT%H:%M:%S}Z"


def setup_logging(verbose: int) -> None:
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def config_path(config: str | Path | None) -> Path:
    """The monitors.yaml a command reads: --config, else $MONITORS_CONFIG, else ./monitors.yaml."""
    return Path(config or os.environ.get(CONFIG_ENV) or "monitors.yaml")


def schedules_path(schedules: str | Path | None, config: str | Path | None) -> tuple[Path, bool]:
    """The schedules.yaml a command reads, and whether it was named (by -s or $MONITORS_SCHEDULES).

    Unnamed, it is the one next to the config file (./schedules.yaml beside ./monitors.yaml), the
    same for the scheduler, `status` and `k8s render`, as the container image and pods lay them out.
    """
    named = schedules or os.environ.get(SCHEDULES_ENV)
    return (Path(named), True) if named else (config_path(config).parent / "schedules.yaml", False)


def load_settings(
    config: str | None,
    demo: bool,
    *,
    needs: Collection[str] | None = None,
    unused: Collection[str] = (),
    needed_for: Mapping[str, str] | None = None,
) -> Any:
    """The settings a command runs with. `needs`: the sections whose secrets it uses (None: all);
    `unused`: keys whose secrets it never reads; `needed_for`: why a key's secret is needed (see load_config)."""
    from monitors.app.cli.redaction import remember_settings
    from monitors.engine.config import load_config
    from monitors.engine.wiring import demo_path

    if demo:
        return load_config(demo_path("monitors.yaml"), env={})
    path = config_path(config)
    if not path.exists():
        raise ConfigError(f"{path}: no such file (pass --config, set {CONFIG_ENV}, or try --demo)")
    settings = load_config(path, needs=needs, unused=unused, needed_for=needed_for)
    remember_settings(settings)  # an error line masks its secrets
    return settings


def store_for(settings: Any, *, dry_run: bool) -> Any:
    """The store a command that reads it opens: the configured one, or with `dry_run` that same store
    left as it is (its schema not upgraded), and before anything ever ran an empty one in memory, so a
    dry run creates no file."""
    from monitors.engine.wiring import open_store
    from monitors.store.store import Store

    if not dry_run:
        return open_store(settings)
    url = settings.store.url.get_secret_value()
    if _sqlite_file_missing(url):
        return Store.open("sqlite://")
    return Store.open(url, migrate_schema=False)


def _sqlite_file_missing(url: str) -> bool:
    import sqlalchemy as sa

    try:
        parsed = sa.engine.make_url(url)
    except sa.exc.ArgumentError:
        return False  # Store.open names the problem
    database = parsed.database or ""
    if parsed.get_backend_name() != "sqlite" or database in ("", ":memory:"):
        return False
    return not Path(database).expanduser().exists()


def terminal_alerts_to_stderr(notifiers: Mapping[str, Any], fmt: str) -> dict[str, Any]:
    """With --format json stdout carries only JSON: alerts printed on the terminal go to stderr."""
    from monitors.notifiers.stdout import StdoutNotifier

    if fmt != "json":
        return dict(notifiers)
    moved = {}
    for name, notifier in notifiers.items():
        if isinstance(notifier, StdoutNotifier) and notifier.config.stream == "stdout":
            notifier = StdoutNotifier(name, notifier.config.model_copy(update={"stream": "stderr"}))
        moved[name] = notifier
    return moved

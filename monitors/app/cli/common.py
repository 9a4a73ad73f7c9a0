"""Helpers every run-monitor command module shares: settings loading, time options, logging."""

from __future__ import annotations

import logging
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from monitors.contracts.errors import ConfigError

CONFIG_ENV = "MONITORS_CONFIG"


def parse_when(value: str | None, now: datetime) -> datetime | None:
    """'7d' / '90m' (ago) or an ISO 8601 time."""
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
        raise click.BadParameter(f"{value!r}: use a duration ago (7d, 6h) or an ISO time") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def setup_logging(verbose: int) -> None:
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def load_settings(config: str | None, demo: bool) -> Any:
    from monitors.engine.config import load_config
    from monitors.engine.wiring import demo_path

    if demo:
        return load_config(demo_path("monitors.yaml"), env={})
    path = config or os.environ.get(CONFIG_ENV) or "monitors.yaml"
    if not Path(path).exists():
        raise ConfigError(f"{path}: no such file (pass --config, set {CONFIG_ENV}, or try --demo)")
    return load_config(path)

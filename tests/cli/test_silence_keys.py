"""`silence` refuses a key that would silence something else than meant: an empty one (every finding of
the monitor) and a cost key naming no configured budget (nothing at all, while it said 'silenced')."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result

from monitors.app.cli.main import cli
from monitors.store.store import Store

BUDGETS = [
    {"name": "global", "daily_cap": 40},
    {"name": "per-agent", "scope": "agent", "per_value": True, "daily_cap": 20},
]


@pytest.fixture
def config(tmp_path: Path) -> Path:
    data = {"store": {"url": f"sqlite:///{tmp_path / 'state.db'}"}, "monitors": {"cost": {"budgets": BUDGETS}}}
    path = tmp_path / "monitors.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _silence(config: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["silence", *args, "--for", "2h", "-c", str(config)])


def _silences(config: Path) -> list[str | None]:
    store = Store.open(yaml.safe_load(config.read_text())["store"]["url"])
    try:
        from datetime import UTC, datetime

        return [s.key for s in store.silences(now=datetime.now(UTC))]
    finally:
        store.close()


@pytest.mark.parametrize("key", ["", "  "])
def test_an_empty_key_is_refused(config: Path, key: str) -> None:
    result = _silence(config, "audit", "--key", key)
    assert result.exit_code == 2, result.output
    assert result.stderr.splitlines() == [
        "--key: empty: it would silence every audit finding; leave --key out to mean that, or give the key each "
        "alert ends with"
    ]
    assert _silences(config) == []


def test_an_unknown_budget_is_refused_with_the_one_meant(config: Path) -> None:
    result = _silence(config, "cost", "--key", "per-agnt:llm-fix")
    assert result.exit_code == 2, result.output
    assert result.stderr.splitlines() == [
        "--key: unknown cost budget 'per-agnt' (did you mean 'per-agent'? budgets: global, per-agent)"
    ]
    assert _silences(config) == []


def test_a_cost_key_with_no_budget_configured(tmp_path: Path) -> None:
    path = tmp_path / "monitors.yaml"
    path.write_text(yaml.safe_dump({"store": {"url": f"sqlite:///{tmp_path / 'state.db'}"}}))
    result = _silence(path, "cost", "--key", "global")
    assert result.exit_code == 2, result.output
    assert result.stderr == "--key: unknown cost budget 'global' (no budgets under monitors.cost.budgets)\n"


@pytest.mark.parametrize("key", ["per-agent", "per-agent:llm-fix", "global:all:2026-11-20"])
def test_a_configured_budget_is_taken(config: Path, key: str) -> None:
    result = _silence(config, "cost", "--key", key)
    assert result.exit_code == 0, result.output
    assert _silences(config) == [key]


def test_other_monitors_keys_are_not_budgets(config: Path) -> None:
    assert _silence(config, "audit", "--key", "llm-fix-1116-3674").exit_code == 0

"""`status` says how to give it schedules when it has none, writes null (not []) for what it cannot know
without them, and writes every time in its JSON one way: ISO 8601 UTC with Z, to the second."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from monitors.app.cli.main import cli
from monitors.store.store import Store

TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "monitors.yaml"
    path.write_text(f"store:\n  url: sqlite:///{tmp_path / 'state.db'}\n")
    return path


def _status(config: Path, *args: object) -> Result:
    return CliRunner().invoke(cli, ["status", "-c", str(config), *map(str, args)], env={"MONITORS_SCHEDULES": None})


def _record(config: Path) -> None:
    store = Store.open(f"sqlite:///{config.parent / 'state.db'}")
    finished = datetime.now(UTC) - timedelta(minutes=5, microseconds=123456)
    store.record_run("cost", started=finished, finished=finished, status="ok", summary={})
    store.record_run("audit", started=finished, finished=finished, status="failed", summary={})
    store.record_run("audit", started=finished, finished=finished, status="skipped", summary={"error": "held"})
    store.close()


def test_without_schedules_the_text_says_how_to_give_them(config: Path) -> None:
    result = _status(config)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1] == (
        "outbox: 0 waiting to be sent; stale monitors: unknown (no schedules: pass -s schedules.yaml, set "
        f"MONITORS_SCHEDULES, or put it at {config.parent / 'schedules.yaml'})"
    )


def test_without_schedules_the_json_says_unknown_not_none(config: Path) -> None:
    result = _status(config, "--format", "json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["stale"] is None and document["not_run_yet"] is None


def test_with_schedules_the_json_lists_them(config: Path) -> None:
    schedules = config.parent / "schedules.yaml"
    schedules.write_text('jobs:\n  - {name: hourly, monitor: cost, cron: "0 * * * *"}\n')
    document = json.loads(_status(config, "-s", schedules, "--format", "json").stdout)
    assert document["stale"] == []
    assert [job["monitor"] for job in document["not_run_yet"]] == ["cost"]
    assert TIME.match(document["not_run_yet"][0]["next"]), document


def _times(node: Any) -> list[str]:
    """Every string in the document that holds a date."""
    if isinstance(node, dict):
        return [t for value in node.values() for t in _times(value)]
    if isinstance(node, list):
        return [t for value in node for t in _times(value)]
    return [node] if isinstance(node, str) and re.match(r"^\d{4}-\d\d-\d\d", node) else []


def test_every_time_in_the_json_is_iso_utc_with_z(config: Path) -> None:
    _record(config)
    schedules = config.parent / "schedules.yaml"
    schedules.write_text('jobs:\n  - {name: hourly, monitor: events, cron: "0 * * * *"}\n')
    document = json.loads(_status(config, "-s", schedules, "--format", "json").stdout)
    runs = document["runs"]
    times = [
        runs["cost"]["last"]["finished_at"],
        runs["cost"]["last_ok"],
        runs["audit"]["last"]["finished_at"],
        runs["audit"]["held_back"]["since"],
        document["outbox_settled_since"],
        document["not_run_yet"][0]["next"],
    ]
    assert sorted(times) == sorted(_times(document))  # no other time hides in it
    assert all(TIME.match(time) for time in times), times

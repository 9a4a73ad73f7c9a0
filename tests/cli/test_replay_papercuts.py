"""Papercuts of replaying an export through the command line, found in a newcomer's pass over every
command: which week `report --source` reports on by default."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from monitors.app.cli.main import cli
from monitors.engine.wiring import demo_path

ROOT = Path(__file__).resolve().parents[2]
DEMO_FILE = demo_path("observations.jsonl.gz")  # three weeks, 2026-11-02 .. Sunday 2026-11-22


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The repository's monitors.yaml in a directory of its own, its secrets unset (a dry-run replay's case)."""
    monkeypatch.chdir(tmp_path)
    return Path(shutil.copy(ROOT / "monitors.yaml", tmp_path / "monitors.yaml"))


def _invoke(*args: object) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args], env={"LANGFUSE_PUBLIC_KEY": None, "GITLAB_TOKEN": None})


def test_a_report_replay_reports_on_the_files_last_week_not_on_last_week(config: Path) -> None:
    # The live default (the week before today) misses the file and printed "Quiet week ... Spend $0.00".
    result = _invoke("report", "-c", config, "--source", DEMO_FILE, "--dry-run", "--format", "json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert (summary["week"], summary["spend"]) == ("2026-W47", 195.71)
    assert (
        f"note: {DEMO_FILE} holds observations over 2026-11-02T01:06:07Z..2026-11-22T22:55:09Z; "
        "reporting on 2026-W47 (--week for another)"
    ) in result.stderr.splitlines()


def test_a_report_replay_takes_the_week_it_is_given(config: Path) -> None:
    result = _invoke("report", "-c", config, "--source", DEMO_FILE, "--dry-run", "--week", "2026-W46")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().splitlines()[-1].startswith("monitor=report status=ok week=2026-W46 spend=$")
    assert "reporting on" not in result.stderr

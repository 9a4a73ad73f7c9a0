"""Papercuts found in a newcomer's pass over every command's help, dry run and JSON output: which week
`report --source` reports on by default, and a failed run under --format json saying why on stderr."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result

from monitors.app.cli.main import cli
from monitors.engine.wiring import demo_path
from tests.fakes.langfuse_server import FakeLangfuse

ROOT = Path(__file__).resolve().parents[2]
DEMO_FILE = demo_path("observations.jsonl.gz")  # three weeks, 2026-11-02 .. Sunday 2026-11-22


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The repository's monitors.yaml in a directory of its own, its secrets unset (a dry-run replay's case)."""
    monkeypatch.chdir(tmp_path)
    return Path(shutil.copy(ROOT / "monitors.yaml", tmp_path / "monitors.yaml"))


def _invoke(*args: object, env: dict[str, str] | None = None) -> Result:
    unset: dict[str, str | None] = {"LANGFUSE_PUBLIC_KEY": None, "GITLAB_TOKEN": None}
    return CliRunner().invoke(cli, [str(a) for a in args], env=unset | (env or {}))


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


def _refused_config(tmp_path: Path, langfuse: FakeLangfuse) -> Path:
    """A config whose Langfuse keys the server refuses: every run that reads it fails."""
    config = tmp_path / "refused.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "langfuse": {
                    "host": langfuse.url,
                    "public_key": "pk-wrong",
                    "secret_key": "sk-wrong",
                    "max_retries": 0,
                },
                "store": {"url": f"sqlite:///{tmp_path / 'state.db'}"},
                "channels": {"console": {"kind": "stdout"}},
                "default_route": {"channels": ["console"]},
            }
        )
    )
    return config


@pytest.mark.parametrize("command", [("cost",), ("events", "--dry-run"), ("report", "--dry-run")])
def test_a_failed_run_under_json_says_why_in_one_line_on_stderr(tmp_path: Path, command: tuple[str, ...]) -> None:
    # Before, the reason was only inside the JSON document: a person saw exit 1 and an empty stderr.
    with FakeLangfuse() as langfuse:
        result = _invoke(*command, "-c", _refused_config(tmp_path, langfuse), "--format", "json")
    assert result.exit_code == 1, result.output
    document = json.loads(result.stdout)  # stdout is still the document alone
    assert document["status"] == "failed"
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith(f"error: {command[0]}: ")
    assert "401" in errors[0] or "refused" in errors[0].lower(), errors[0]
    assert "sk-wrong" not in result.output


@pytest.mark.parametrize(
    "args",
    [
        ("cost", "--source", DEMO_FILE, "--dry-run", "--since", "1d", "--until", "yesterday"),
        ("export", "-o", "week.jsonl", "--since", "7d", "--until", "yesterday"),
    ],
)
def test_a_bad_time_names_its_option(config: Path, args: tuple[object, ...]) -> None:
    # Before: "Invalid value: 'yesterday': ..." with --since and --until both given, which one?
    keys = {"LANGFUSE_PUBLIC_KEY": "pk-lf-example", "LANGFUSE_SECRET_KEY": "sk-lf-example"}  # export reads them
    result = _invoke(args[0], "-c", config, *args[1:], env=keys)
    assert result.exit_code == 2
    assert result.stderr.splitlines()[-1] == "--until: 'yesterday': use a duration ago (7d, 6h) or an ISO time"
    assert "Usage:" not in result.stderr  # one line, not click's usage block

"""Only goal-drift reads a forge, so only drift needs its token, and not when it reads an offline file.

`all` without the token ran nothing at all (exit 2 before the first monitor); now the other monitors run,
then it exits 2 naming the key. `validate` asked for the token of a forge drift reads from a file.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

from monitors.app.cli.main import cli
from monitors.engine.wiring import demo_path

DEMO_FILE = demo_path("observations.jsonl.gz")


def _config(tmp_path: Path, **sections: Any) -> Path:
    data = {
        "langfuse": {"public_key": "pk-lf-1", "secret_key": "sk-lf-1"},
        "gitlab": {"url": "https://gitlab.example.com", "token": "${GITLAB_TOKEN}"},
        "store": {"url": f"sqlite:///{tmp_path / 'state.db'}"},
        "channels": {"term": {"kind": "stdout"}},
        "default_route": {"channels": ["term"]},
    } | sections
    path = tmp_path / "monitors.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _invoke(*args: object) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args], env={"GITLAB_TOKEN": None})


def test_all_runs_the_others_then_exits_2_naming_the_token(tmp_path: Path) -> None:
    config = _config(tmp_path)
    result = _invoke("all", "-c", config, "--source", DEMO_FILE, "--format", "json")  # delivers: not dry
    assert result.exit_code == 2, result.output
    runs = {run["monitor"]: run for run in json.loads(result.stdout)["runs"]}
    assert [runs[m]["status"] for m in ("cost", "audit", "events")] == ["ok", "ok", "ok"]
    assert runs["drift"] == {"monitor": "drift", "status": "not_run", "error": "not set: gitlab.token"}
    assert result.stderr.splitlines()[-1] == (
        f"{config}: gitlab.token: environment variable GITLAB_TOKEN is not set "
        "(needed: drift reads merge requests from GitLab)"
    )
    assert "Traceback" not in result.output


def test_drift_alone_without_its_token_is_one_line(tmp_path: Path) -> None:
    config = _config(tmp_path)
    result = _invoke("drift", "-c", config, "--source", DEMO_FILE)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"{config}: gitlab.token: environment variable GITLAB_TOKEN is not set "
        "(needed: drift reads merge requests from GitLab)"
    ]


def test_a_monitor_that_reads_no_forge_needs_no_token(tmp_path: Path) -> None:
    result = _invoke("cost", "-c", _config(tmp_path), "--source", DEMO_FILE)
    assert result.exit_code == 0, result.output
    assert "GITLAB_TOKEN" not in result.output


@pytest.fixture
def offline(tmp_path: Path) -> Path:
    """gitlab reads the demo's merge requests from a file, its token still written as a variable."""
    shutil.copy(demo_path("gitlab.json"), tmp_path / "gitlab.json")
    section = {"url": "https://gitlab.example.com", "token": "${GITLAB_TOKEN}", "offline_file": "gitlab.json"}
    return _config(tmp_path, gitlab=section)


def test_drift_reading_an_offline_file_needs_no_token(offline: Path) -> None:
    result = _invoke("drift", "-c", offline, "--source", DEMO_FILE, "--dry-run")
    assert result.exit_code == 0, result.output
    assert "monitor=drift status=ok" in result.stdout and "GITLAB_TOKEN is not set" not in result.output


def test_validate_asks_no_token_of_a_forge_read_from_a_file(offline: Path) -> None:
    result = _invoke("validate", "-c", offline)
    assert result.exit_code == 0, result.output
    assert result.stdout == f"ok: {offline} valid\n"


def test_validate_asks_the_token_drift_reads_live_and_only_then(tmp_path: Path) -> None:
    config = _config(tmp_path)
    live = _invoke("validate", "-c", config)
    assert live.exit_code == 2, live.output
    assert live.stderr == f"{config}: gitlab.token: environment variable GITLAB_TOKEN is not set\n"
    disabled = _config(tmp_path, monitors={"drift": {"enabled": False}})
    assert _invoke("validate", "-c", disabled).exit_code == 0

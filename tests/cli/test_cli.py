"""run-monitor through its runner and as a real process: exit codes, error text, lazy heavy imports."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from monitors.cli import cli

HEAVY = ("torch", "sentence_transformers", "sklearn", "transformers")


def _write(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "monitors.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_validate_broken_config_exits_2_naming_each_key(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        {
            "langfuse": {
                "host": "https://lf.example",
                "public_key": "${LF_PK}",
                "secret_key": "${LF_SK}",
                "page_size": "lots",
            },
            "channels": {"ops": {"kind": "mattermost", "webhook_url": "https://mm.example/hooks/x", "colour": 1}},
            "monitors": {
                "cost": {
                    "budgets": [{"name": "global", "daily_cap": -5}, {"name": "t", "daily_cap": 1, "scope": "team"}]
                }
            },
        },
    )
    result = CliRunner().invoke(cli, ["validate", "-c", str(path)], env={"LF_PK": "pk-lf-x"})
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    expected = [
        f"{path}: langfuse.secret_key: environment variable LF_SK is not set",
        f"{path}: langfuse.page_size: ",
        f"{path}: channels.ops.colour: unknown key",
        f"{path}: monitors.cost.budgets.0.daily_cap: ",
        f"{path}: monitors.cost.budgets.1.scope: unknown scope 'team'",
    ]
    for prefix in expected:
        assert any(line.startswith(prefix) for line in lines), (prefix, lines)
    assert "Traceback" not in result.output


def test_missing_config_file_is_exit_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["cost", "-c", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 2
    assert "nope.yaml: no such file" in result.output


def test_run_without_langfuse_section_says_what_to_do(tmp_path: Path) -> None:
    path = _write(tmp_path, {"store": {"url": f"sqlite:///{tmp_path / 's.db'}"}})
    result = CliRunner().invoke(cli, ["cost", "-c", str(path)])
    assert result.exit_code == 2
    assert "langfuse: section required to read traces (or pass --source FILE)" in result.output


def test_silence_add_list_remove(tmp_path: Path) -> None:
    path = _write(tmp_path, {"store": {"url": f"sqlite:///{tmp_path / 's.db'}"}})
    runner = CliRunner()
    added = runner.invoke(cli, ["silence", "cost", "--key", "global", "--for", "2h", "-c", str(path)])
    assert added.exit_code == 0 and "silenced cost key=global" in added.output
    listed = runner.invoke(cli, ["silence", "--list", "-c", str(path)])
    assert "#1 cost key=global" in listed.output and "1 active silence(s)" in listed.output
    assert "removed silence #1" in runner.invoke(cli, ["silence", "--remove", "1", "-c", str(path)]).output
    assert "0 active" in runner.invoke(cli, ["silence", "--list", "-c", str(path)]).output
    bad = runner.invoke(cli, ["silence", "cost", "--for", "soon", "-c", str(path)])
    assert bad.exit_code == 2 and "not a duration" in bad.output


def test_cost_demo_fires_each_budget_alert_once() -> None:
    result = CliRunner().invoke(cli, ["cost", "--demo"])
    assert result.exit_code == 0, result.output
    titles = [line for line in result.output.splitlines() if line.startswith("[")]
    assert titles.count("[WARNING] Cost budget global at 80% for all spend on 2026-11-19") == 1
    assert titles.count("[CRITICAL] Cost budget global at 100% for all spend on 2026-11-21") == 1
    assert titles.count("[CRITICAL] Cost budget per-user at 100% for user svc-llm-fix on 2026-11-21") == 1
    per_user = [t for t in titles if "per-user" in t]
    assert per_user == ["[CRITICAL] Cost budget per-user at 100% for user svc-llm-fix on 2026-11-21"]
    assert "monitor=cost status=ok" in result.output


@pytest.mark.parametrize("args", [["--help"], ["cost", "--demo"], ["validate", "--help"]])
def test_heavy_libraries_are_not_imported(args: list[str]) -> None:
    code = (
        "import sys\n"
        "from monitors.cli import cli\n"
        f"try:\n    cli({args!r})\nexcept SystemExit:\n    pass\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"

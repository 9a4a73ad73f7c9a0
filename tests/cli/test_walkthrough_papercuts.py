"""Papercuts a newcomer's walkthrough found in the command line: the top-level help, schedule errors
that name the key and the expression, and which schedules.yaml a command reads when not told."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from monitors.app.cli.main import cli
from monitors.engine.registry import NOTIFIERS

LANGFUSE = "langfuse:\n  public_key: pk-lf-test\n  secret_key: sk-lf-test\n"


def _invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args], env=env)


# --- the top-level help names every channel kind ----------------------------------------------------

# How the help names each kind; a kind added to the registry fails here until the help names it too.
KIND_NAMES = {
    "alertmanager": "Alertmanager",
    "discord": "Discord",
    "email": "email",
    "mattermost": "Mattermost",
    "pagerduty": "PagerDuty",
    "slack": "Slack",
    "stdout": "the terminal",
    "teams": "Teams",
    "webhook": "webhook",
}


def test_the_help_names_every_channel_kind() -> None:
    assert set(KIND_NAMES) == set(NOTIFIERS)
    result = _invoke("--help")
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    assert [kind for kind, name in KIND_NAMES.items() if name not in text] == []
    assert "Mattermost or Slack." not in text


# --- a bad schedule names the key and the expression --------------------------------------------------


def _validate(tmp_path: Path, schedules: str) -> tuple[Result, Path]:
    config = tmp_path / "monitors.yaml"
    config.write_text(LANGFUSE + "store:\n  url: sqlite:///state.db\n")
    path = tmp_path / "schedules.yaml"
    path.write_text(schedules)
    return _invoke("validate", "-c", config, "-s", path), path


def test_a_cron_with_four_fields_names_its_key_and_expression(tmp_path: Path) -> None:
    jobs = "".join(f'  - {{name: j{i}, monitor: cost, cron: "*/15 * * * *"}}\n' for i in range(3))
    result, path = _validate(tmp_path, f'jobs:\n{jobs}  - {{name: j3, monitor: cost, cron: "5 * * *"}}\n')
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"{path}: jobs.3.cron: '5 * * *' is not a cron expression (wrong number of fields; got 4, expected 5)"
    ]


@pytest.mark.parametrize(
    ("cron", "reason"),
    [
        ("61 * * * *", "'61': the last value (61) is higher than the maximum value (59)"),
        ("0 8 * * funday", "day of week 'funday': 'funday' is not 0-7 or a weekday name (sun..sat)"),
    ],
)
def test_a_bad_field_names_the_field_value(tmp_path: Path, cron: str, reason: str) -> None:
    result, path = _validate(tmp_path, f'jobs:\n  - {{name: a, monitor: cost, cron: "{cron}"}}\n')
    assert result.exit_code == 2
    assert f"{path}: jobs.0.cron: '{cron}' is not a cron expression ({reason})" in result.stderr


def test_an_unknown_time_zone_is_named_once_under_its_own_key(tmp_path: Path) -> None:
    jobs = (
        '  - {name: a, monitor: cost, cron: "0 * * * *"}\n'
        '  - {name: b, monitor: audit, cron: "0 6 * * *"}\n'
        '  - {name: c, monitor: drift, cron: "0 7 * * *", timezone: Europe/Atlantis}\n'
    )
    result, path = _validate(tmp_path, f"timezone: Mars/Olympus\njobs:\n{jobs}")
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"{path}: timezone: unknown time zone 'Mars/Olympus'",
        f"{path}: jobs.2.timezone: unknown time zone 'Europe/Atlantis'",
    ]


# --- which schedules.yaml: -s, else $MONITORS_SCHEDULES, else next to the config -----------------------


def _folder(root: Path, name: str, cron: str) -> Path:
    folder = root / name
    folder.mkdir()
    (folder / "monitors.yaml").write_text(LANGFUSE + f"store:\n  url: sqlite:///{folder / 'state.db'}\n")
    (folder / "schedules.yaml").write_text(f'jobs:\n  - {{name: {name}, monitor: cost, cron: "{cron}"}}\n')
    return folder


@pytest.fixture
def folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """The config's folder and the working folder, each with its own schedules.yaml."""
    config_dir, here = _folder(tmp_path, "beside", "0 * * * *"), _folder(tmp_path, "here", "30 * * * *")
    monkeypatch.chdir(here)
    monkeypatch.delenv("MONITORS_SCHEDULES", raising=False)
    monkeypatch.delenv("MONITORS_CONFIG", raising=False)
    return config_dir, here


def test_the_scheduler_reads_the_schedules_next_to_its_config(folders: tuple[Path, Path]) -> None:
    config_dir, _here = folders
    result = _invoke("scheduler", "-c", config_dir / "monitors.yaml", "--dry-run")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == f"1 jobs in {config_dir / 'schedules.yaml'}"
    alone = _invoke("scheduler", "--dry-run")  # no config named: ./monitors.yaml, so ./schedules.yaml
    assert alone.output.splitlines()[-1] == "1 jobs in schedules.yaml"


def test_the_scheduler_and_status_both_read_the_variable(folders: tuple[Path, Path], tmp_path: Path) -> None:
    config_dir, _here = folders
    elsewhere = _folder(tmp_path, "elsewhere", "15 * * * *")
    env = {"MONITORS_SCHEDULES": str(elsewhere / "schedules.yaml")}
    scheduler = _invoke("scheduler", "-c", config_dir / "monitors.yaml", "--dry-run", env=env)
    assert scheduler.output.splitlines()[0].startswith("job=elsewhere monitor=cost")
    status = _invoke("status", "-c", config_dir / "monitors.yaml", env=env)
    assert status.exit_code == 0, status.output  # a fresh store: cost is scheduled by that file, not yet due
    assert "cost: no run yet; next scheduled " in status.output and "(job elsewhere)" in status.output


def test_status_without_a_schedules_file_says_staleness_is_unknown(folders: tuple[Path, Path]) -> None:
    config_dir, _here = folders
    (config_dir / "schedules.yaml").unlink()  # ./schedules.yaml still exists: status must not take it
    status = _invoke("status", "-c", config_dir / "monitors.yaml")
    assert status.exit_code == 0, status.output
    looked_at = config_dir / "schedules.yaml"
    assert status.output.splitlines()[-1].endswith(
        f"stale monitors: unknown (no schedules: pass -s schedules.yaml, set MONITORS_SCHEDULES, or put it at "
        f"{looked_at})"
    )


@pytest.mark.parametrize("command", [("scheduler",), ("status",), ("k8s", "render")])
def test_the_help_says_where_the_schedules_come_from(command: tuple[str, ...]) -> None:
    text = " ".join(_invoke(*command, "--help").output.split())
    assert "default: $MONITORS_SCHEDULES, else schedules.yaml next to the config file" in text

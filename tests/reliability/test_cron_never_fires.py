"""A cron expression that names a date no month has ("0 0 31 2 *") is accepted by cron and Kubernetes
and never runs: a monitor that silently never happens. `validate` and the scheduler reject it."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from monitors.app.cli.main import cli

# A run needs somewhere to read traces from; these tests are about the other keys.
LANGFUSE = "langfuse:\n  public_key: pk-lf-test\n  secret_key: sk-lf-test\n"


def _validate(tmp_path: Path, cron: str):
    config = tmp_path / "monitors.yaml"
    config.write_text(LANGFUSE + "store:\n  url: sqlite:///state.db\n")
    schedules = tmp_path / "schedules.yaml"
    schedules.write_text(f'jobs:\n  - {{name: cost, monitor: cost, cron: "{cron}"}}\n')
    return CliRunner().invoke(cli, ["validate", "-c", str(config), "-s", str(schedules)]), schedules


@pytest.mark.parametrize("cron", ["0 0 31 2 *", "0 0 30 2 *", "0 0 31 4,6,9,11 *", "0 8 31 2 mon"])
def test_a_date_that_never_occurs_is_rejected(cron: str, tmp_path: Path) -> None:
    result, schedules = _validate(tmp_path, cron)
    assert result.exit_code == 2, result.output
    assert f"{schedules}: jobs.0.cron: '{cron}' never fires" in result.output


@pytest.mark.parametrize("cron", ["0 0 29 2 *", "0 0 31 * *", "0 0 30 1-2 *", "*/15 * * * *", "0 8 13 * fri"])
def test_dates_that_occur_at_least_sometimes_are_accepted(cron: str, tmp_path: Path) -> None:
    result, _ = _validate(tmp_path, cron)
    assert result.exit_code == 0, result.output

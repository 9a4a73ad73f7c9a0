"""A key written twice in monitors.yaml or schedules.yaml: PyYAML keeps the last one silently, so a
second `store:` section would drop the first one's URL and the runs would use the default store."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from monitors.app.cli.main import cli
from monitors.contracts.errors import ConfigError
from monitors.engine.config import load_config

TWO_STORE_SECTIONS = """\
store:
  url: postgresql://monitors@db.internal:5432/monitors
channels:
  ops: {kind: stdout}
default_route: {channels: [ops]}
store:
  lock_lease: 60s
"""


def test_a_section_given_twice_is_one_line_naming_both_and_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "monitors.yaml"
    path.write_text(TWO_STORE_SECTIONS)
    result = CliRunner().invoke(cli, ["validate", "-c", str(path)])
    assert result.exit_code == 2, result.output
    assert result.output.strip() == (
        f"{path}: line 6: not valid YAML (duplicate key 'store' (first on line 1); "
        "the later one would silently replace it)"
    )


def test_a_channel_given_twice_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "monitors.yaml"
    path.write_text(
        "channels:\n  ops: {kind: slack, webhook_url: 'https://hooks.slack.com/services/T/B/x'}\n"
        "  ops: {kind: stdout}\ndefault_route: {channels: [ops]}\n"
    )
    with pytest.raises(ConfigError, match=r"line 3: .*duplicate key 'ops' \(first on line 2\)"):
        load_config(path, env={})


def test_keys_beside_a_merge_still_override_it(tmp_path: Path) -> None:
    path = tmp_path / "monitors.yaml"
    path.write_text(
        "channels:\n  base: &base {kind: stdout}\n  ops:\n    <<: *base\n    kind: stdout\n"
        "default_route: {channels: [ops]}\n"
    )
    assert sorted(load_config(path, env={}).channels) == ["base", "ops"]


def test_a_job_key_given_twice_in_schedules_is_refused(tmp_path: Path) -> None:
    schedules = tmp_path / "schedules.yaml"
    schedules.write_text("jobs:\n  - name: cost\n    cron: '*/15 * * * *'\n    cron: '0 * * * *'\n")
    result = CliRunner().invoke(cli, ["validate", "--schedules", str(schedules), "-c", str(tmp_path / "none.yaml")])
    assert result.exit_code == 2
    assert "line 4: not valid YAML (duplicate key 'cron' (first on line 3)" in result.output

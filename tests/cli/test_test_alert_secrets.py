"""`test-alert --channel X` asks only for X's secrets: another channel's unset webhook (or Langfuse's keys)
made it refuse to test a channel that was set up."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result

from monitors.app.cli.main import cli


@pytest.fixture
def config(tmp_path: Path) -> Path:
    data = {
        "langfuse": {"public_key": "${LANGFUSE_PUBLIC_KEY}", "secret_key": "${LANGFUSE_SECRET_KEY}"},
        "gitlab": {"token": "${GITLAB_TOKEN}"},
        "store": {"url": "postgresql://monitors:${DB_PASSWORD}@db/monitors"},
        "channels": {
            "term": {"kind": "stdout"},
            "team": {"kind": "slack", "webhook_url": "${SLACK_WEBHOOK_URL}"},
            "page": {"kind": "pagerduty", "routing_key": "${PD_KEY}"},
        },
        "default_route": {"channels": ["term"]},
    }
    path = tmp_path / "monitors.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _test_alert(config: Path, channel: str, *args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, ["test-alert", "-c", str(config), "--channel", channel, *args], env=env or {})


def test_a_channel_without_secrets_is_tested_with_every_other_secret_unset(config: Path) -> None:
    result = _test_alert(config, "term")
    assert result.exit_code == 0, result.output
    assert "channel=term kind=stdout ok=True" in result.stdout
    assert (
        "SLACK_WEBHOOK_URL" not in result.output
        and "PD_KEY" not in result.output
        and "DB_PASSWORD" not in result.output
    )


def test_a_channel_is_tested_with_only_its_own_secret(config: Path) -> None:
    env = {"SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T0/B0/xyz"}
    result = _test_alert(config, "team", "--dry-run", env=env)
    assert result.exit_code == 0, result.output
    assert "dry run: channel=team kind=slack would go to=hooks.slack.com/" in result.stdout


def test_the_tested_channels_own_secret_is_still_named(config: Path) -> None:
    result = _test_alert(config, "team")
    assert result.exit_code == 2, result.output
    assert result.stderr == f"{config}: channels.team.webhook_url: environment variable SLACK_WEBHOOK_URL is not set\n"


def test_a_mistyped_channel_gets_the_one_meant(config: Path) -> None:
    result = _test_alert(config, "tem")
    assert result.exit_code == 2, result.output
    assert result.stderr == "--channel: unknown channel 'tem' (did you mean 'term'? defined: page, team, term)\n"

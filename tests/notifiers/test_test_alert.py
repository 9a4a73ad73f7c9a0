"""`run-monitor test-alert --channel X` for every new kind, through the CLI against local receivers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from monitors.app.cli.main import cli
from tests.fakes.pagerduty_server import PagerDutyServer
from tests.fakes.smtp_server import SmtpServer
from tests.fakes.webhook_server import WebhookServer
from tests.notifiers.channels import email_config, http_config


def _invoke(tmp_path: Path, channel: dict[str, Any]) -> Any:
    path = tmp_path / "monitors.yaml"
    path.write_text(yaml.safe_dump({"channels": {"x": channel}}))
    return CliRunner().invoke(cli, ["test-alert", "-c", str(path), "--channel", "x"])


@pytest.mark.parametrize("kind", ["webhook", "teams", "discord"])
def test_test_alert_reaches_each_webhook_kind(kind: str, tmp_path: Path) -> None:
    with WebhookServer() as hook:
        result = _invoke(tmp_path, http_config(kind, hook.url(f"/{kind}/x")))
    assert result.exit_code == 0, result.output
    assert f"channel=x kind={kind} ok=True" in result.output
    assert len(hook.requests) == 1 and "Test alert from langfuse" in hook.requests[0].body.decode()


def test_test_alert_on_pagerduty_opens_and_resolves_the_test_incident(tmp_path: Path) -> None:
    with PagerDutyServer() as pd:
        result = _invoke(tmp_path, http_config("pagerduty", pd.url()))
    assert result.exit_code == 0, result.output
    assert "ok=True status=202" in result.output and "test incident resolved=True" in result.output
    assert [r.json["event_action"] for r in pd.requests] == ["trigger", "resolve"]
    assert set(pd.incidents.values()) == {"resolved"}


def test_test_alert_by_email(tmp_path: Path) -> None:
    with SmtpServer() as smtp:
        result = _invoke(tmp_path, email_config(smtp))
    assert result.exit_code == 0, result.output
    assert "kind=email ok=True status=250" in result.output
    assert smtp.messages[0]["Subject"] == "[langfuse-monitors] INFO: Test alert from langfuse-monitors"


@pytest.mark.parametrize("kind", ["webhook", "pagerduty", "teams", "discord", "email"])
def test_a_failed_test_alert_says_it_is_not_queued(kind: str, tmp_path: Path) -> None:
    with SmtpServer() if kind == "email" else WebhookServer() as server:
        channel = email_config(server) if kind == "email" else http_config(kind, server.url("/x"))
        server.go_down()
        result = _invoke(tmp_path, channel)
    assert result.exit_code == 1
    assert f"kind={kind} ok=False" in result.output
    assert "not queued and not retried: a test alert is sent once" in result.output


def test_a_dry_run_test_alert_names_where_it_would_go_and_sends_nothing(tmp_path: Path) -> None:
    with WebhookServer() as hook:
        path = tmp_path / "monitors.yaml"
        path.write_text(yaml.safe_dump({"channels": {"x": http_config("webhook", hook.url("/hooks/x"))}}))
        command = ["test-alert", "-c", str(path), "--channel", "x", "--dry-run"]
        result = CliRunner().invoke(cli, command)
        as_json = CliRunner().invoke(cli, [*command, "--format", "json"])
    assert result.exit_code == 0, result.output
    assert hook.requests == []
    assert "Test alert from langfuse-monitors" in result.output  # the message, printed
    assert "dry run: channel=x kind=webhook would go to=127.0.0.1:" in result.output
    assert "nothing sent" in result.output and "to=terminal" not in result.output
    document = json.loads(as_json.stdout)
    assert document["dry_run"] is True and document["to"].startswith("127.0.0.1:")
    assert document["reason"] == "dry run: printed above, not sent"

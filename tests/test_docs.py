"""Documentation that is generated from code stays in sync with it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_configuration_reference_is_current() -> None:
    result = subprocess.run(
        [sys.executable, "scripts/config_reference.py", "--check"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


def test_example_configs_validate() -> None:
    env = {
        "LANGFUSE_PUBLIC_KEY": "pk-lf-example",
        "LANGFUSE_SECRET_KEY": "sk-lf-example",
        "GITLAB_TOKEN": "example",
        "MATTERMOST_WEBHOOK_URL": "https://mattermost.example.com/hooks/example",
        "SLACK_WEBHOOK_URL": "https://hooks.slack.example/services/example",
        "PATH": "/usr/bin:/bin",
    }
    cmd = [sys.executable, "-m", "monitors.app.cli.main", "validate", "-c", "monitors.yaml", "-s", "schedules.yaml"]
    result = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ok: monitors.yaml, schedules.yaml valid")

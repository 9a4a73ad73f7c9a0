"""`run-monitor cost` end to end: a run pushes its series, writes the textfile and posts open findings to
Alertmanager; `--format json` keeps stdout pure JSON; `--dry-run` does none of it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from prometheus_client.parser import text_string_to_metric_families

from monitors.app.cli.main import cli
from monitors.contracts.records import observation_to_row
from tests.cost.helpers import obs
from tests.fakes.alertmanager import FakeAlertmanager
from tests.fakes.pushgateway import FakePushgateway

DAY = ["--since", "2026-11-21T00:00:00Z", "--until", "2026-11-21T23:00:00Z"]
BUDGETS = {
    "budgets": [
        {"name": "global", "daily_cap": 40},
        {"name": "per-agent", "scope": "agent", "per_value": True, "daily_cap": 20},
    ]
}


def _traces(tmp_path: Path) -> Path:
    """A replay file for one Saturday: a runaway agent takes the day past the $40 global cap."""
    rows = [obs(f"2026-11-21 {h:02d}:10", 2.5, agent="runaway") for h in range(20)]
    rows += [obs(f"2026-11-21 {h:02d}:20", 0.5, agent="steady") for h in range(20)]
    path = tmp_path / "saturday.jsonl"
    path.write_text("".join(json.dumps(observation_to_row(o)) + "\n" for o in rows))
    return path


@pytest.fixture
def servers() -> Iterator[tuple[FakePushgateway, FakeAlertmanager]]:
    with FakePushgateway() as gateway, FakeAlertmanager() as am:
        yield gateway, am


def _config(tmp_path: Path, gateway: FakePushgateway, am: FakeAlertmanager) -> Path:
    config = {
        "store": {"url": f"sqlite:///{tmp_path / 'state.db'}"},
        "channels": {"am": {"kind": "alertmanager", "url": am.url}},
        "metrics": {"pushgateway_url": gateway.url, "textfile_path": str(tmp_path / "lm.prom")},
        "monitors": {"cost": BUDGETS},
        "alerting": {"retries_per_run": 0},
    }
    path = tmp_path / "monitors.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_a_cost_run_publishes_metrics_and_keeps_alertmanager_in_step(tmp_path: Path, servers) -> None:
    gateway, am = servers
    config = _config(tmp_path, gateway, am)
    args = ["cost", "-c", str(config), "--source", str(_traces(tmp_path)), *DAY, "--format", "json"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    run = json.loads(result.stdout)  # one JSON document on stdout: the summary, with the sync results in it
    [synced] = run["alertmanager"]
    assert run["monitor"] == "cost" and run["status"] == "ok" and run["findings"] > 0
    expected = {"channel": "am", "kind": "alertmanager", "status": "ok", "error": None}
    assert {k: synced[k] for k in expected} == expected
    assert synced["alerts"] > 0 and all(p.status == 200 for p in am.posts)
    keys = {a["labels"]["key"] for a in am.posts[-1].body}
    assert "global:*:2026-11-21:cap=40" in keys  # the day over the global cap is an open alert

    assert {p.grouping["monitor"] for p in gateway.pushes} == {"cost", "_outbox"}
    assert all(p.status == 200 for p in gateway.pushes)
    families = {f.name: f for f in text_string_to_metric_families((tmp_path / "lm.prom").read_text())}
    ratios = {s.labels["value"]: s.value for s in families["langfuse_monitors_budget_ratio"].samples
              if s.labels["budget"] == "global"}  # fmt: skip
    assert ratios["*"] == pytest.approx(60.0 / 40)
    per_agent = {s.labels["value"]: s.value for s in families["langfuse_monitors_budget_ratio"].samples
                 if s.labels["budget"] == "per-agent"}  # fmt: skip
    assert per_agent == {"runaway": pytest.approx(50.0 / 20), "steady": pytest.approx(10.0 / 20)}


def test_a_dry_run_publishes_nothing(tmp_path: Path, servers) -> None:
    gateway, am = servers
    config = _config(tmp_path, gateway, am)
    args = ["cost", "-c", str(config), "--source", str(_traces(tmp_path)), *DAY, "--dry-run"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert gateway.pushes == [] and am.posts == [] and not (tmp_path / "lm.prom").exists()

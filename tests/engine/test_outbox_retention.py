"""The outbox keeps finished messages for `store.outbox_retention`: a run prunes older ones after its
delivery and counts them (`outbox_pruned`), but an alert still open whose route asked for a resolved
notice keeps its rows, so its resolve, weeks later, still closes the incident where it was opened.

Real pipeline, real store (SQLite and PostgreSQL), a PagerDuty-like receiver and a webhook receiver.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from monitors.app.cli.main import cli
from monitors.contracts.errors import ConfigError
from monitors.engine import registry
from monitors.engine.config import settings_from_dict
from monitors.engine.pipeline import RunDeps, RunSummary, run_once
from monitors.sources.replay import ReplaySource
from monitors.store.store import Store
from tests.fakes.pagerduty_server import PagerDutyServer
from tests.fakes.webhook_server import WebhookServer
from tests.notifiers.channels import http_config
from tests.reliability.harness import NOW, notifiers_for

DAY = timedelta(days=1)


@pytest.fixture(autouse=True)
def _scripted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(registry.MONITORS, "scripted", "tests.engine.lifecycle_monitor:LifecycleMonitor")


@pytest.fixture
def servers() -> Iterator[tuple[PagerDutyServer, WebhookServer]]:
    with PagerDutyServer() as pd, WebhookServer() as hook:
        yield pd, hook


def run(
    store: Store,
    when: timedelta,
    servers: tuple[PagerDutyServer, WebhookServer],
    findings: list[dict[str, Any]] = (),
    resolved: list[str] = (),
) -> RunSummary:
    """A run of the scripted monitor at NOW + `when`: pages go to oncall (with resolved notices), every
    finding to the hooks channel (without)."""
    pd, hook = servers
    raw = {
        "channels": {"oncall": http_config("pagerduty", pd.url()), "hooks": http_config("webhook", hook.url("/h"))},
        "routes": [
            {"channels": ["oncall"], "kinds": ["page"], "send_resolved": True},
            {"channels": ["hooks"]},
        ],
        "monitors": {"scripted": {"findings": list(findings), "resolved": list(resolved)}},
    }
    settings = settings_from_dict(raw, env={})
    deps = RunDeps(ReplaySource.from_observations([]), store, notifiers_for(settings))
    return run_once("scripted", settings, deps, now=NOW + when)


def test_old_messages_are_pruned_but_an_open_page_keeps_where_it_went_for_its_resolve(
    servers: tuple[PagerDutyServer, WebhookServer], store: Store
) -> None:
    pd, _ = servers
    first = run(store, timedelta(0), servers, [{"key": "runaway", "severity": "critical", "kind": "page"}])
    assert (first.queued, first.delivered) == (2, 2)  # the page to oncall and hooks
    run(store, timedelta(hours=1), servers, [{"key": "noise"}])  # hooks only
    assert pd.incidents == {"scripted:runaway": "triggered"}
    assert store.outbox_counts() == {"sent": 3}

    later = run(store, 40 * DAY, servers, [{"key": "fresh"}])
    # 'noise' went nowhere that sends notices: gone. The page is still open: both its rows stay.
    assert later.counters["outbox_pruned"] == 1
    assert "outbox_pruned=1" in later.line()
    assert store.outbox_counts() == {"sent": 3}
    assert store.outbox_counts(settled_since=NOW + 10 * DAY) == {"sent": 1}  # what status and the gauge show
    assert sorted(store.deliveries(["scripted:runaway"])) == ["scripted:runaway"]

    over = run(store, 41 * DAY, servers, resolved=["runaway"])
    assert (over.queued, over.delivered, over.counters["resolved"]) == (1, 1, 1)
    assert pd.incidents == {"scripted:runaway": "resolved"}  # closed where it was opened, 41 days on
    # Closed now, the page's two alert rows age out in the same run; the notice just sent stays.
    assert over.counters["outbox_pruned"] == 2
    assert store.outbox_counts() == {"sent": 2}

    # Each channel's latest message stays (what it says about the chat's answers); nothing else is left.
    assert "outbox_pruned" not in run(store, 80 * DAY, servers).counters
    assert store.outbox_counts() == {"sent": 2}


def test_the_retention_is_validated_naming_its_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        settings_from_dict({"store": {"outbox_retention": "12h"}}, env={})
    assert info.value.problems == [
        "monitors.yaml: store.outbox_retention: must be at least 1d (got 12h): runs read what was sent recently"
    ]
    assert settings_from_dict({}, env={}).store.outbox_retention == 30 * DAY  # the default
    config = tmp_path / "monitors.yaml"
    routes = [{"channels": ["out"], "group_by": ["agent"], "group_interval": "3d"}]
    body = {"store": {"outbox_retention": "2d"}, "channels": {"out": {"kind": "stdout"}}, "routes": routes}
    config.write_text(yaml.safe_dump(body))
    result = CliRunner().invoke(cli, ["validate", "-c", str(config)])
    assert result.exit_code == 2
    problem = "routes.0.group_interval: 3d is longer than store.outbox_retention (2d); raise the retention"
    assert f"{config}: {problem}" in result.output

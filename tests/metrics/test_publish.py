"""Pushgateway push per monitor group, the node-exporter textfile, and the scheduler's /metrics listener."""

from __future__ import annotations

import base64
import contextlib
import socket
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.error import HTTPError

import pytest
from prometheus_client.parser import text_string_to_metric_families

from monitors.engine.config import settings_from_dict
from monitors.engine.pipeline import RunDeps, run_once
from monitors.metrics.listener import MetricsListener
from monitors.metrics.publish import JOB, OUTBOX_GROUP, publish, registry_for
from monitors.store.rows import RunCommit
from monitors.store.store import Store
from tests.cost.helpers import CountingSource, at, obs
from tests.fakes.pushgateway import FakePushgateway
from tests.metrics.test_series import cost_settings

NOW = datetime(2026, 11, 20, 20, 0, tzinfo=UTC)


def _settings(**metrics: Any) -> Any:
    raw = {"monitors": {"cost": {"budgets": [{"name": "global", "daily_cap": 40}]}}, "metrics": metrics}
    return settings_from_dict(raw, env={})


def _run(store: Store, monitor: str, status: str, at: datetime) -> None:
    store.record_run(monitor, started=at, finished=at + timedelta(seconds=5), status=status, summary={})


def _queue(store: Store, channel: str, rows: int) -> None:
    outbox = [(f"cost:k{i}", channel, {"title": "t", "severity": "warning"}) for i in range(rows)]
    store.commit_run(RunCommit("cost", NOW, None, [], outbox, [], {}))


def test_each_monitor_replaces_its_own_group(sqlite_store: Store) -> None:
    _run(sqlite_store, "cost", "ok", NOW)
    _run(sqlite_store, "audit", "ok", NOW)
    _queue(sqlite_store, "ops", 2)
    with FakePushgateway() as gateway:
        result = publish(_settings(pushgateway_url=gateway.url), sqlite_store, ["cost", "audit"], clock=lambda: NOW)
        assert result.problems == [] and result.pushed == ["cost", "audit", OUTBOX_GROUP]
        assert {p.method for p in gateway.pushes} == {"PUT"}  # the group holds what the store says, no more
        assert [p.path for p in gateway.pushes] == [
            f"/metrics/job/{JOB}/monitor/cost",
            f"/metrics/job/{JOB}/monitor/audit",
            f"/metrics/job/{JOB}/monitor/{OUTBOX_GROUP}",
        ]
        assert all(p.status == 200 for p in gateway.pushes)
        cost_body = gateway.pushes[0].body
        assert "langfuse_monitors_budget_ratio" in cost_body and 'monitor="audit"' not in cost_body
        assert "langfuse_monitors_budget_ratio" not in gateway.pushes[1].body  # spend belongs to cost
        pending = gateway.samples("langfuse_monitors_outbox_messages")
        assert ({"job": JOB, "monitor": OUTBOX_GROUP, "channel": "ops", "status": "pending"}, 2.0) in pending


def test_a_failed_run_never_erases_the_last_success_or_another_monitor(sqlite_store: Store) -> None:
    with FakePushgateway() as gateway:
        settings = _settings(pushgateway_url=gateway.url)
        _run(sqlite_store, "cost", "ok", NOW)
        _run(sqlite_store, "drift", "ok", NOW)
        publish(settings, sqlite_store, ["cost", "drift"])
        _run(sqlite_store, "cost", "failed", NOW + timedelta(minutes=15))
        publish(settings, sqlite_store, ["cost"])  # only cost ran
        success = dict(
            (lab["monitor"], v) for lab, v in gateway.samples("langfuse_monitors_last_success_timestamp_seconds")
        )
        assert success == {
            "cost": (NOW + timedelta(seconds=5)).timestamp(),
            "drift": (NOW + timedelta(seconds=5)).timestamp(),
        }
        status = {(lab["monitor"], lab["status"]): v for lab, v in gateway.samples("langfuse_monitors_last_run_status")}
        assert status[("cost", "failed")] == 1 and status[("drift", "ok")] == 1


def test_an_unreachable_or_refusing_pushgateway_is_one_warning_line(sqlite_store: Store, caplog) -> None:
    _run(sqlite_store, "cost", "ok", NOW)
    with FakePushgateway() as gateway:
        gateway.fail_with(500, 500)
        result = publish(_settings(pushgateway_url=gateway.url + "/secret-path"), sqlite_store, ["cost"])
    assert len(result.problems) == 2 and all("HTTP 500" in p for p in result.problems)
    gone = publish(_settings(pushgateway_url=gateway.url), sqlite_store, ["cost"])  # the server is closed now
    assert len(gone.problems) == 2 and "connection failed" in gone.problems[0]
    assert not any("secret-path" in p for p in result.problems + gone.problems)
    assert len([r for r in caplog.records if r.levelname == "WARNING"]) == 4


def test_a_gateway_that_never_answers_costs_one_timeout_not_one_per_group(sqlite_store: Store) -> None:
    for monitor in ("cost", "drift", "audit"):
        _run(sqlite_store, monitor, "ok", NOW)
    # Takes connections and never answers: a host behind a firewall that drops what it receives.
    with socket.create_server(("127.0.0.1", 0), backlog=16) as silent:
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        result = publish(_settings(pushgateway_url=url, timeout="1s"), sqlite_store, ["cost", "drift", "audit"])
        silent.settimeout(0.5)
        accepted = []
        with contextlib.suppress(TimeoutError):
            while True:
                accepted.append(silent.accept()[0])
    for conn in accepted:
        conn.close()
    assert len(accepted) == 1  # the later groups were not tried
    assert result.pushed == [] and len(result.problems) == 2
    assert "(monitor=cost) failed" in result.problems[0]
    assert result.problems[1].startswith(f"metrics push of drift, audit, {OUTBOX_GROUP} skipped: 127.0.0.1:")


def test_the_textfile_holds_every_series_and_is_replaced_whole(sqlite_store: Store, tmp_path: Path) -> None:
    _run(sqlite_store, "cost", "ok", NOW)
    _run(sqlite_store, "audit", "failed", NOW)
    (tmp_path / "textfiles").mkdir()
    path = tmp_path / "textfiles" / "langfuse_monitors.prom"
    path.write_text("stale content\n")
    result = publish(_settings(textfile_path=str(path)), sqlite_store, ["audit"])
    assert result.wrote == str(path) and result.problems == []
    names = {f.name for f in text_string_to_metric_families(path.read_text())}
    assert {"langfuse_monitors_runs", "langfuse_monitors_budget_ratio", "langfuse_monitors_store_up"} <= names
    assert "stale content" not in path.read_text()
    assert sorted(p.name for p in path.parent.iterdir()) == ["langfuse_monitors.prom"]  # no temporary file left


def test_a_textfile_path_that_cannot_be_written_is_a_warning(sqlite_store: Store, tmp_path: Path) -> None:
    result = publish(_settings(textfile_path=str(tmp_path / "missing-dir" / "x.prom")), sqlite_store, ["cost"])
    assert result.wrote is None and len(result.problems) == 1 and "cannot write" in result.problems[0]


def test_the_metrics_config_section_rejects_bad_values() -> None:
    from monitors.contracts.errors import ConfigError

    with pytest.raises(ConfigError) as info:
        _settings(pushgateway_url="pushgateway:9091", textfile_path="/x/metrics.txt", listen="9464", bogus=1)
    problems = "\n".join(info.value.problems)
    for key in ("metrics.pushgateway_url", "metrics.textfile_path", "metrics.listen", "metrics.bogus"):
        assert key in problems
    assert _settings(pushgateway_url="", listen=":9464").metrics.pushgateway_url is None  # ${VAR:-} means off


def _get(url: str) -> tuple[int, str, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.headers["Content-Type"], response.read().decode()
    except HTTPError as exc:
        return exc.code, exc.headers["Content-Type"], exc.read().decode()


def test_the_listener_serves_metrics_from_the_store_and_a_liveness_check(sqlite_store: Store) -> None:
    problem: dict[str, str | None] = {"now": None}
    registry = registry_for(sqlite_store, _settings())
    with MetricsListener(registry, "127.0.0.1", 0, problem=lambda: problem["now"]) as srv:
        base = f"http://127.0.0.1:{srv.port}"
        status, kind, body = _get(f"{base}/metrics")
        assert status == 200 and kind.startswith("text/plain; version=0.0.4")
        assert "langfuse_monitors_runs_total{" not in body  # no run yet
        _run(sqlite_store, "cost", "ok", NOW)  # a run by any process sharing the store shows up
        families = {f.name: f for f in text_string_to_metric_families(_get(f"{base}/metrics")[2])}
        runs = {(s.labels["monitor"], s.labels["status"]): s.value for s in families["langfuse_monitors_runs"].samples}
        assert runs[("cost", "ok")] == 1
        assert _get(f"{base}/healthz")[0] == 200
        problem["now"] = "job cost has run 900s, past its deadline of 600s"
        assert _get(f"{base}/healthz") == (503, "text/plain; charset=utf-8", f"{problem['now']}\n")
        assert _get(f"{base}/other")[0] == 404


def test_credentials_in_the_pushgateway_url_are_sent_as_basic_auth_and_never_shown(sqlite_store: Store) -> None:
    _run(sqlite_store, "cost", "ok", NOW)
    with FakePushgateway() as gateway:
        url = gateway.url.replace("http://", "http://pusher:s%40cret-pw@")
        result = publish(_settings(pushgateway_url=url), sqlite_store, ["cost"])
        assert result.problems == []
        expected = "Basic " + base64.b64encode(b"pusher:s@cret-pw").decode()
        assert {p.authorization for p in gateway.pushes} == {expected}
        gateway.fail_with(401, 401)
        refused = publish(_settings(pushgateway_url=url), sqlite_store, ["cost"])
    assert len(refused.problems) == 2 and all("HTTP 401" in p for p in refused.problems)
    assert not any("cret" in p or "pusher" in p for p in refused.problems)


class ParsingPushgateway(FakePushgateway):
    """The Pushgateway as it parses a push: Prometheus' text parser drops a family whose `# HELP` and
    `# TYPE` lines have no sample under them, so a push-add of an empty family replaces nothing."""

    def _handle(self, method: str, path: str, content_type: str, body: str) -> tuple[int, str]:
        return super()._handle(method, path, content_type, _without_empty_families(body))


def _without_empty_families(body: str) -> str:
    sampled = {line.split("{", 1)[0].split(" ", 1)[0] for line in body.splitlines() if line and line[0] != "#"}
    sampled |= {name.removesuffix("_total") for name in sampled}

    def keep(line: str) -> bool:
        words = line.split(" ")
        return not (line.startswith(("# HELP ", "# TYPE ")) and words[2] not in sampled)

    return "".join(line + "\n" for line in body.splitlines() if keep(line))


def test_a_run_with_nothing_to_report_clears_the_last_runs_findings_and_yesterdays_values(
    sqlite_store: Store,
) -> None:
    rows = [obs(f"2026-11-20 0{h}:00", 1.0, user="alice") for h in range(1, 7)]
    with ParsingPushgateway() as gateway:
        settings = cost_settings(pushgateway_url=gateway.url)
        evening = run_once("cost", settings, RunDeps(CountingSource(rows), sqlite_store, {}), now=NOW,
                           since=at("2026-11-20 00:00"))  # fmt: skip
        assert evening.findings == 2  # alice at 80% and 100% of her $5
        publish(settings, sqlite_store, ["cost"])
        assert gateway.samples("langfuse_monitors_last_run_findings")
        # After midnight: a new budget day, no spend yet, nothing found, no projection so early.
        for hours in (5, 6):  # the first run after midnight still closes yesterday
            night = run_once("cost", settings, RunDeps(CountingSource(rows), sqlite_store, {}),
                             now=NOW + timedelta(hours=hours))  # fmt: skip
        assert night.status == "ok" and night.findings == 0
        publish(settings, sqlite_store, ["cost"])

        assert gateway.samples("langfuse_monitors_last_run_findings") == []
        assert gateway.samples("langfuse_monitors_budget_projected_usd") == []
        users = [lab["value"] for lab, _ in gateway.samples("langfuse_monitors_budget_spend_usd")]
        assert "alice" not in users
        assert {p.method for p in gateway.pushes} == {"PUT"}


def test_an_unreadable_store_adds_store_up_0_and_keeps_the_last_known_series(sqlite_store: Store) -> None:
    _run(sqlite_store, "cost", "ok", NOW)
    with ParsingPushgateway() as gateway:
        settings = _settings(pushgateway_url=gateway.url)
        publish(settings, sqlite_store, ["cost"])
        with sqlite_store.engine.begin() as conn:
            conn.exec_driver_sql("DROP TABLE runs")  # the store cannot be read any more
        publish(settings, sqlite_store, ["cost"])
        assert [p.method for p in gateway.pushes] == ["PUT", "PUT", "POST", "POST"]
        up = {lab["monitor"]: v for lab, v in gateway.samples("langfuse_monitors_store_up")}
        assert up == {"cost": 0, OUTBOX_GROUP: 0}
        # What the store last said stays: the stale-monitor rule still sees when cost last worked.
        success = gateway.samples("langfuse_monitors_last_success_timestamp_seconds")
        assert success == [({"job": JOB, "monitor": "cost"}, (NOW + timedelta(seconds=5)).timestamp())]

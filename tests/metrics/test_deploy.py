"""deploy/prometheus and deploy/grafana use only series the code exports, and the rules are valid.

The rules are checked by `promtool check rules` and their unit tests by `promtool test rules` (promtool
comes with Debian's `prometheus` package); without promtool those two tests skip and the structural
check below still runs.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from monitors.metrics.publish import registry_for
from monitors.metrics.series import SERIES, full_name
from monitors.store.rows import RunCommit
from monitors.store.store import Store
from tests.metrics.test_series import NOW, _ledger_with_users, cost_settings

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "prometheus" / "langfuse-monitors.rules.yaml"
RULE_TESTS = ROOT / "deploy" / "prometheus" / "langfuse-monitors.rules.test.yaml"
DASHBOARD = ROOT / "deploy" / "grafana" / "langfuse-monitors.json"
SERIES_NAME = re.compile(r"\blangfuse_monitors_[a-z_]+\b")
DURATION = re.compile(r"^\d+[smhdwy]$")


def _emitted(store: Store) -> set[str]:
    """Every sample name a store with runs, findings, an outbox (one message given up) and a cost ledger
    produces."""
    ledger = _ledger_with_users(60, 6.0, 1000)
    store.commit_run(RunCommit("cost", NOW, NOW, [], [("cost:x", "ops", {"title": "t"})], [], ledger))
    store.commit_run(RunCommit("cost", NOW, None, [], [("cost:y", "ops", {"title": "t"})], [], {}))
    store.mark_outbox(store.pending_outbox(NOW)[-1].id, now=NOW, status="failed", error="refused (410)")
    requests = {"/api/public/v2/observations": 1}
    summary = {"records": 3, "requests_by_endpoint": requests, "counters": {"gitlab_requests": 2}}
    store.record_run("cost", started=NOW, finished=NOW + timedelta(seconds=3), status="ok", summary=summary)
    store.commit_run(RunCommit("cost", NOW, None, [], [], [{
        "monitor": "cost", "fingerprint": "cost:x", "kind": "budget", "severity": "critical",
        "observed_at": NOW, "decision": "first notification", "finding": {}}], {}))  # fmt: skip
    settings = cost_settings(max_values_per_dimension=50)
    text = generate_latest(registry_for(store, settings, clock=lambda: NOW + timedelta(hours=1))).decode()
    return {s.name for f in text_string_to_metric_families(text) for s in f.samples}


def _dashboard_queries() -> list[str]:
    board = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in board["panels"] for t in p.get("targets", [])]
    exprs += [v["definition"] for v in board["templating"]["list"] if v.get("type") == "query"]
    return exprs


def test_the_dashboard_queries_only_series_the_code_exports(sqlite_store: Store) -> None:
    emitted = _emitted(sqlite_store)
    queries = _dashboard_queries()
    assert len(queries) >= 15
    used = {name for q in queries for name in SERIES_NAME.findall(q)}
    assert used - emitted == set(), f"the dashboard queries series nobody exports: {sorted(used - emitted)}"
    assert all(SERIES_NAME.search(q) for q in queries)  # every panel shows one of ours
    # and it covers what the issue asks for: run health, findings, outbox, requests, spend, ratio, projection
    for short in ("last_success_timestamp_seconds", "last_run_findings", "outbox_messages", "last_run_requests",
                  "budget_spend_usd", "budget_ratio", "budget_projected_usd", "budget_values"):  # fmt: skip
        assert full_name(short) in used


def test_the_alert_rules_use_only_exported_series_and_are_well_formed(sqlite_store: Store) -> None:
    emitted = _emitted(sqlite_store)
    doc = yaml.safe_load(RULES.read_text())
    assert set(doc) == {"groups"}
    names: set[str] = set()
    for group in doc["groups"]:
        assert set(group) <= {"name", "interval", "rules"} and group["rules"]
        for rule in group["rules"]:
            assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}, rule
            assert re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", rule["alert"])
            assert "for" not in rule or DURATION.match(rule["for"])
            assert rule["labels"]["severity"] in ("warning", "critical")
            assert rule["annotations"]["summary"]
            used = set(SERIES_NAME.findall(rule["expr"]))
            assert used and used <= emitted, (rule["alert"], used - emitted)
            names.add(rule["alert"])
    assert {"LangfuseMonitorStale", "LangfuseMonitorFailing", "LangfuseBudgetOverCap"} <= names
    assert len(SERIES) >= 15


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool is not installed (apt-get install prometheus)")
def test_promtool_accepts_the_rules_and_their_unit_tests_pass() -> None:
    check = subprocess.run(["promtool", "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "SUCCESS: 10 rules found" in check.stdout
    tests = subprocess.run(
        ["promtool", "test", "rules", RULE_TESTS.name],
        cwd=RULE_TESTS.parent,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert tests.returncode == 0, tests.stdout + tests.stderr

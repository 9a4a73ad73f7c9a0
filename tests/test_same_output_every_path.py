"""The promise: the same monitor output from the v2 API, the legacy API and a replay file.

One demo day (Saturday: a runaway session, a loop, a budget blown) is served by the fake Langfuse through
both read paths and written to an export file; the cost and audit monitors run through the real pipeline
on each, and their findings must be identical.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitors.app.demo import load_demo_source
from monitors.contracts.findings import RunWindow
from monitors.contracts.source import ObservationQuery
from monitors.engine.config import settings_from_dict
from monitors.engine.export import export_observations
from monitors.engine.pipeline import RunDeps, run_once
from monitors.sources.langfuse import LangfuseSource
from monitors.sources.replay import ReplaySource
from monitors.store.store import Store
from monitors.support.retry import RetryPolicy
from tests.fakes.langfuse_server import FakeLangfuse
from tests.fakes.scripted_monitor import RecordingNotifier

DAY = RunWindow(datetime(2026, 11, 21, tzinfo=UTC), datetime(2026, 11, 22, tzinfo=UTC))
HISTORY = RunWindow(datetime(2026, 11, 13, tzinfo=UTC), DAY.end)  # enough for a baseline
NOW = DAY.end + timedelta(minutes=45)
EVERY_FIELD = frozenset({"core", "basic", "time", "io", "metadata", "model", "usage", "metrics", "trace_context"})

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo_rows() -> list:
    # Saturday in full; before it, only cost-bearing rows (the cost history) to keep the fake small.
    source = load_demo_source()
    rows = list(source.observations(ObservationQuery(DAY, fields=EVERY_FIELD)))
    history = RunWindow(HISTORY.start, DAY.start)
    rows += [o for o in source.observations(ObservationQuery(history, fields=EVERY_FIELD)) if o.total_cost > 0]
    return rows


def _findings(source, tmp_path: Path, name: str) -> list[tuple]:
    settings = settings_from_dict(
        {
            "channels": {"ops": {"kind": "stdout"}},
            "default_route": {"channels": ["ops"], "min_severity": "info"},
            "monitors": {"cost": {"budgets": [{"name": "global", "daily_cap": 40}]}},
        },
        env={},
    )
    store = Store.open(f"sqlite:///{tmp_path / f'{name}.db'}")
    deps = RunDeps(source, store, {"ops": RecordingNotifier()})
    out = []
    for monitor in ("cost", "audit"):
        summary = run_once(monitor, settings, deps, now=NOW, since=DAY.start, until=DAY.end)
        assert summary.status == "ok", summary.line()
        out += sorted((d.finding.fingerprint, d.finding.rank, d.finding.title) for d in summary.decisions)
    return out


def test_cost_and_audit_findings_are_identical_on_v2_legacy_and_replay(demo_rows: list, tmp_path: Path) -> None:
    retry = RetryPolicy(attempts=3, sleep=lambda _s: None)
    results = {}
    for name, legacy in (("v2", False), ("legacy", True)):
        with FakeLangfuse(demo_rows, legacy_only=legacy) as server:
            source = LangfuseSource(server.url, server.public_key, server.secret_key, retry=retry)
            results[name] = _findings(source, tmp_path, name)
            assert source.using_legacy is legacy
            if name == "v2":
                export = tmp_path / "day.jsonl.gz"
                assert export_observations(source, HISTORY, export) == len(demo_rows)
                replay_host = server.url
    results["replay"] = _findings(ReplaySource(export, host=replay_host, strict_fields=True), tmp_path, "replay")
    kinds = {fp.split(":")[0] + ":" + fp.rsplit(":", 1)[-1] for fp, _rank, _title in results["v2"]}
    assert any(fp.startswith("cost:global") for fp, _r, _t in results["v2"]), results["v2"]
    assert any(fp.startswith("audit:") for fp, _r, _t in results["v2"]), kinds
    assert results["v2"] == results["legacy"] == results["replay"]

"""The exported series, parsed back with prometheus_client.parser, against runs of the real pipeline."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from monitors.contracts.monitor import MemoryState
from monitors.cost.ledger import Ledger
from monitors.engine import registry
from monitors.engine.config import settings_from_dict
from monitors.engine.pipeline import RunDeps, run_once
from monitors.metrics.publish import registry_for
from monitors.metrics.series import SERIES, full_name
from monitors.sources.replay import ReplaySource
from monitors.store.rows import RunCommit
from monitors.store.store import Store
from tests.cost.helpers import CountingSource, at, obs

NOW = datetime(2026, 11, 20, 20, 0, tzinfo=UTC)
PER_USER = {"name": "per-user", "scope": "user", "per_value": True, "daily_cap": 5}
GLOBAL = {"name": "global", "daily_cap": 40}


def scrape(store: Store, settings: Any, **options: Any) -> dict[str, list[tuple[dict[str, str], float]]]:
    """name -> [(labels, value)] for every sample in the exposition, as Prometheus would read it."""
    text = generate_latest(registry_for(store, settings, clock=lambda: NOW, **options)).decode()
    samples: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append((sample.labels, sample.value))
    return samples


def value(samples: dict, name: str, **labels: str) -> float:
    matches = [v for lab, v in samples.get(full_name(name), []) if all(lab.get(k) == x for k, x in labels.items())]
    assert len(matches) == 1, (name, labels, samples.get(full_name(name)))
    return matches[0]


def cost_settings(**metrics: Any) -> Any:
    raw = {"monitors": {"cost": {"budgets": [GLOBAL, PER_USER], "max_values_per_dimension": 100000}}}
    return settings_from_dict(raw | ({"metrics": metrics} if metrics else {}), env={})


def test_a_cost_run_shows_up_as_run_health_findings_requests_and_spend(sqlite_store: Store) -> None:
    rows = [obs(f"2026-11-20 0{h}:00", 1.0, user="alice") for h in range(1, 7)]
    rows += [obs("2026-11-20 07:00", 1.0, user="bob"), obs("2026-11-20 08:00", 1.0, user="bob")]
    rows += [obs("2026-11-20 09:00", 3.0, user=None)]
    settings = cost_settings()
    summary = run_once(
        "cost", settings, RunDeps(CountingSource(rows), sqlite_store, {}), now=NOW, since=at("2026-11-20 00:00")
    )
    assert summary.status == "ok" and summary.findings == 2  # alice at 80% and 100%
    s = scrape(sqlite_store, settings)

    assert value(s, "store_up") == 1
    assert value(s, "runs_total", monitor="cost", status="ok") == 1
    assert value(s, "runs_total", monitor="cost", status="failed") == 0
    assert value(s, "last_run_status", monitor="cost", status="ok") == 1
    assert value(s, "last_run_status", monitor="cost", status="failed") == 0
    finished = value(s, "last_run_timestamp_seconds", monitor="cost")
    assert value(s, "last_success_timestamp_seconds", monitor="cost") == finished
    assert value(s, "last_run_records", monitor="cost") == summary.records
    by_kind = {(lab["kind"], lab["severity"]): v for lab, v in s[full_name("last_run_findings")]}
    assert by_kind == {("budget", "critical"): 1, ("budget", "warning"): 1}
    requests = {lab["endpoint"]: v for lab, v in s[full_name("last_run_requests")]}
    assert requests == summary.requests_by_endpoint and sum(requests.values()) == summary.requests > 0

    # Spend as of the end of the run's window (20:00 minus the 15-minute query delay).
    assert value(s, "spend_as_of_timestamp_seconds") == (NOW - timedelta(minutes=15)).timestamp()
    assert value(s, "spend_today_usd") == pytest.approx(11.0)
    assert value(s, "budget_spend_usd", budget="global", value="*") == pytest.approx(11.0)
    assert value(s, "budget_ratio", budget="global", value="*") == pytest.approx(11.0 / 40)
    assert value(s, "budget_spend_usd", budget="per-user", scope="user", value="alice") == pytest.approx(6.0)
    assert value(s, "budget_ratio", budget="per-user", value="alice") == pytest.approx(1.2)
    assert value(s, "budget_ratio", budget="per-user", value="bob") == pytest.approx(0.4)
    # No history: the projection spreads the day evenly, 19.75 of 24 hours gone.
    assert value(s, "budget_projected_usd", budget="per-user", value="alice") == pytest.approx(6.0 * 24 / 19.75)
    assert value(s, "budget_cap_usd", budget="per-user") == 5
    assert value(s, "budget_values_over_cap", budget="per-user") == 1
    assert value(s, "budget_values", budget="per-user", state="folded") == 0
    users = {lab["value"] for lab, _ in s[full_name("budget_spend_usd")] if lab["budget"] == "per-user"}
    assert users == {"alice", "bob"}  # spend with no user is nobody's budget, as in the monitor


def _ledger_with_users(users: int, cost_each: float, max_values: int) -> dict[str, Any]:
    """The cost monitor's own ledger, fed one observation per user, as its state is stored."""
    state = MemoryState()
    ledger = Ledger.load(state, ZoneInfo("UTC"))
    for n in range(users):
        row = obs(NOW - timedelta(hours=2), cost_each, user=f"user-{n:05d}")
        ledger.add_observation(row, {"user": (f"user-{n:05d}",)}, {}, max_values)
    ledger.save(state)
    return dict(state.dirty)


def _store_ledger(store: Store, ledger_state: dict[str, Any]) -> None:
    store.commit_run(RunCommit("cost", NOW, NOW, [], [], [], ledger_state))


def test_ten_thousand_users_over_budget_do_not_make_ten_thousand_label_values(sqlite_store: Store) -> None:
    _store_ledger(sqlite_store, _ledger_with_users(10_000, 6.0, max_values=100_000))
    s = scrape(sqlite_store, cost_settings(max_values_per_dimension=50))
    spend = [(lab, v) for lab, v in s[full_name("budget_spend_usd")] if lab["budget"] == "per-user"]
    values = [lab["value"] for lab, _ in spend]
    assert len(values) == 51 and len(set(values)) == 51 and "other" in values  # 50 users + other
    assert len(s[full_name("budget_ratio")]) == 52  # the same 51, and global
    assert value(s, "budget_values", budget="per-user", state="exported") == 50
    assert value(s, "budget_values", budget="per-user", state="folded") == 9_950
    assert value(s, "budget_values_over_cap", budget="per-user") == 10_000  # the fold hides no one
    assert value(s, "budget_spend_usd", budget="per-user", value="other") == pytest.approx(9_950 * 6.0)
    assert value(s, "budget_ratio", budget="per-user", value="other") == pytest.approx(1.2)
    assert sum(v for _, v in spend) == pytest.approx(value(s, "spend_today_usd"))  # nothing lost or counted twice
    others = [lab for lab, _ in s[full_name("budget_projected_usd")] if lab["value"] == "other"]
    assert others == []  # a sum of many values has no meaningful projection
    assert sum(len(samples) for samples in s.values()) < 200  # the whole exposition, 10,000 users or not


def test_the_costliest_values_are_the_ones_kept(sqlite_store: Store) -> None:
    state = MemoryState()
    ledger = Ledger.load(state, ZoneInfo("UTC"))
    for n, usd in enumerate([0.5, 9.0, 1.0, 7.0, 0.2]):
        ledger.add_observation(obs(NOW - timedelta(hours=1), usd), {"user": (f"u{n}",)}, {}, 1000)
    ledger.save(state)
    _store_ledger(sqlite_store, dict(state.dirty))
    s = scrape(sqlite_store, cost_settings(max_values_per_dimension=2))
    kept = {lab["value"]: v for lab, v in s[full_name("budget_spend_usd")] if lab["budget"] == "per-user"}
    assert kept == {"u1": 9.0, "u3": 7.0, "other": pytest.approx(1.7)}
    assert value(s, "budget_ratio", budget="per-user", value="other") == pytest.approx(1.0 / 5)


def test_values_the_ledger_folded_itself_land_in_other_too(sqlite_store: Store) -> None:
    # The cost monitor caps distinct values per day in its own ledger (default 500); those arrive
    # already summed and are kept in `other`, so the totals still add up.
    _store_ledger(sqlite_store, _ledger_with_users(30, 1.0, max_values=10))
    s = scrape(sqlite_store, cost_settings(max_values_per_dimension=50))
    kept = {lab["value"]: v for lab, v in s[full_name("budget_spend_usd")] if lab["budget"] == "per-user"}
    assert len(kept) == 11 and kept["other"] == pytest.approx(20.0)
    assert sum(kept.values()) == pytest.approx(30.0)


def test_a_failed_run_keeps_the_last_success_time(sqlite_store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(registry.MONITORS, "scripted", "tests.fakes.scripted_monitor:ScriptedMonitor")
    settings = settings_from_dict({"monitors": {"scripted": {"findings": []}}}, env={})
    deps = RunDeps(ReplaySource.from_observations([]), sqlite_store, {})
    run_once("scripted", settings, deps, now=NOW)
    first = scrape(sqlite_store, settings)
    later = datetime.now(UTC) + timedelta(minutes=15)  # run_once stamps `finished` with the real clock
    sqlite_store.record_run("scripted", started=later, finished=later + timedelta(minutes=1),
                            status="failed", summary={"error": "Langfuse answered 503"})  # fmt: skip
    s = scrape(sqlite_store, settings)
    assert value(s, "last_run_status", monitor="scripted", status="failed") == 1
    assert value(s, "last_run_status", monitor="scripted", status="ok") == 0
    assert value(s, "last_run_duration_seconds", monitor="scripted") == 60
    assert value(s, "last_success_timestamp_seconds", monitor="scripted") == value(
        first, "last_success_timestamp_seconds", monitor="scripted"
    )
    assert value(s, "runs_total", monitor="scripted", status="failed") == 1


def test_an_unreadable_store_says_so_instead_of_failing_the_scrape(tmp_path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'gone.db'}")
    settings = cost_settings()
    with store.engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE runs")
    s = scrape(store, settings)
    assert s == {full_name("store_up"): [({}, 0.0)]}
    store.close()


def test_every_series_has_help_and_only_the_declared_labels(sqlite_store: Store) -> None:
    _store_ledger(sqlite_store, _ledger_with_users(3, 6.0, max_values=100))
    sqlite_store.record_run("cost", started=NOW, finished=NOW, status="ok", summary={})
    text = generate_latest(registry_for(sqlite_store, cost_settings(), clock=lambda: NOW)).decode()
    seen = set()
    for family in text_string_to_metric_families(text):
        short = family.name.removeprefix("langfuse_monitors_")
        assert short in SERIES and family.documentation == SERIES[short].help
        for sample in family.samples:
            assert set(sample.labels) == set(SERIES[short].labels), sample
        seen.add(short)
    assert {"budget_ratio", "last_success_timestamp_seconds", "runs"} <= seen


def test_request_paths_become_routes_so_trace_ids_never_become_label_values() -> None:
    from monitors.metrics.series import _requests, endpoint_route

    assert endpoint_route("/api/public/v2/observations") == "/api/public/v2/observations"
    assert endpoint_route("/api/public/traces/7f3e9a01-22") == "/api/public/traces/{id}"
    assert endpoint_route("/api/public/traces/a%2Fb") == "/api/public/traces/{id}"
    paths = {f"/api/public/traces/t{n}": 1 for n in range(500)} | {"/api/public/observations": 3}
    assert _requests({"requests_by_endpoint": paths, "counters": {"gitlab_requests": 4}}) == {
        "/api/public/traces/{id}": 500.0,
        "/api/public/observations": 3.0,
        "gitlab": 4.0,
    }
    routes = {f"/api/public/{letter}": 1 for letter in "abcdefghijklmnopqrstuvwxyz"}  # 26 static routes
    capped = _requests({"requests_by_endpoint": routes})
    assert len(capped) == 20 and capped["other"] == 7 and sum(capped.values()) == 26
    # Forge endpoints count toward the same cap; the largest are the ones kept (3 forge + 16 Langfuse).
    forge = {"gitlab:mr": 30, "gitlab:mr_commits": 30, "github:pr_files": 2}
    capped = _requests({"requests_by_endpoint": routes, "forge_requests_by_endpoint": forge})
    assert len(capped) == 20 and capped["gitlab:mr"] == capped["gitlab:mr_commits"] == 30
    assert capped["github:pr_files"] == 2 and capped["other"] == 26 - 16 and sum(capped.values()) == 26 + 62


def test_forge_requests_by_endpoint_replace_the_totals_and_old_summaries_keep_their_gitlab_total(
    sqlite_store: Store,
) -> None:
    settings = cost_settings()
    langfuse = {"/api/public/v2/observations": 2}
    counters = {"gitlab_requests": 6, "github_requests": 2}
    by_endpoint = {"gitlab:mr": 3, "gitlab:mr_commits": 3, "github:pr": 2}
    new = {"requests_by_endpoint": langfuse, "counters": counters, "forge_requests_by_endpoint": by_endpoint}
    sqlite_store.record_run("drift", started=NOW, finished=NOW, status="ok", summary=new)
    # A run stored by the version before: the GitLab total in counters, no forge endpoints.
    old = {"requests_by_endpoint": langfuse, "counters": {"gitlab_requests": 4, "scored": 2}}
    sqlite_store.record_run("drift-old", started=NOW, finished=NOW, status="ok", summary=old)
    # A run that read nothing from the forges: no forge label at all, not a zero.
    idle = {"requests_by_endpoint": langfuse, "counters": {}, "forge_requests_by_endpoint": {}}
    sqlite_store.record_run("drift-idle", started=NOW, finished=NOW, status="ok", summary=idle)
    s = scrape(sqlite_store, settings)
    requests: dict[str, dict[str, float]] = {}
    for lab, v in s[full_name("last_run_requests")]:
        requests.setdefault(lab["monitor"], {})[lab["endpoint"]] = v
    assert requests == {
        "drift": {"/api/public/v2/observations": 2, "gitlab:mr": 3, "gitlab:mr_commits": 3, "github:pr": 2},
        "drift-old": {"/api/public/v2/observations": 2, "gitlab": 4},
        "drift-idle": {"/api/public/v2/observations": 2},
    }


def test_scores_waiting_to_be_written_back_are_a_series_per_monitor(sqlite_store: Store) -> None:
    for monitor in ("cost", "drift"):
        sqlite_store.record_run(monitor, started=NOW, finished=NOW, status="ok", summary={})
    body = {"trace_id": "t", "name": "goal_drift", "value": 0.1, "timestamp": NOW.isoformat(), "comment": None}
    sqlite_store.queue_scores("drift", {f"drift:t{i}": body | {"id": f"drift:t{i}"} for i in range(3)}, now=NOW)
    samples = scrape(sqlite_store, cost_settings())
    assert value(samples, "scores_pending", monitor="drift") == 3
    assert value(samples, "scores_pending", monitor="cost") == 0  # present, so a rule sees 0
    sqlite_store.remember_scores({"drift:t0": "d", "drift:t1": "d", "drift:t2": "d"}, now=NOW)
    assert value(scrape(sqlite_store, cost_settings()), "scores_pending", monitor="drift") == 0


def _ledger_with_names(names: dict[str, float]) -> dict[str, Any]:
    state = MemoryState()
    ledger = Ledger.load(state, ZoneInfo("UTC"))
    for name, cost in names.items():
        ledger.add_observation(obs(NOW - timedelta(hours=2), cost, user=name), {"user": (name,)}, {}, 1000)
    ledger.save(state)
    return dict(state.dirty)


def test_user_names_with_quotes_newlines_and_broken_unicode_are_exported_readably(
    sqlite_store: Store, tmp_path
) -> None:
    # User ids come from traces: anything a client sent. JSON's "\ud83d" (half an emoji, cut by a
    # client that truncated at a byte limit) is a lone surrogate, which UTF-8 cannot hold.
    names = {'ops "bot"\nline 2': 7.0, "zoë 🤖": 6.0, "cut-emoji-\ud83d": 5.5, "back\\slash": 1.0}
    _store_ledger(sqlite_store, _ledger_with_names(names))
    s = scrape(sqlite_store, cost_settings())
    users = {lab["value"]: v for lab, v in s[full_name("budget_spend_usd")] if lab["budget"] == "per-user"}
    assert users == {'ops "bot"\nline 2': 7.0, "zoë 🤖": 6.0, "cut-emoji-\ufffd": 5.5, "back\\slash": 1.0}

    from monitors.metrics.publish import publish

    path = tmp_path / "langfuse_monitors.prom"
    result = publish(cost_settings(textfile_path=str(path)), sqlite_store, ["cost"])
    assert result.problems == [] and "cut-emoji-\ufffd" in path.read_text(encoding="utf-8")

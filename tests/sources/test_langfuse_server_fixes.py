"""One test per way the real Langfuse server differs from its spec in a way that lost data, counted it
twice or failed runs. Each runs against the fake in its default, server-like behaviour
(tests/sources/test_server_behaviour.py pins that behaviour) and failed before the fix it names.
docs/langfuse-api.md lists these points with the server files they come from."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import pytest
from pydantic import BaseModel, ConfigDict

from monitors.contracts.findings import Finding, RunWindow
from monitors.contracts.monitor import MemoryState, RunContext
from monitors.contracts.records import Observation
from monitors.contracts.source import CostQuery, ObservationQuery, Score
from monitors.engine import registry
from monitors.engine.config import settings_from_dict
from monitors.engine.pipeline import RunDeps, run_once
from monitors.sources.langfuse import LangfuseSource
from monitors.sources.replay import ReplaySource
from monitors.store.store import Store
from monitors.support.retry import RetryPolicy
from tests.cost.helpers import monitor, obs
from tests.fakes.langfuse_limits import Budget
from tests.fakes.langfuse_server import FakeLangfuse
from tests.sources.langfuse_data import ALL_FIELDS, T0, build_dataset

MS = timedelta(milliseconds=1)
US = timedelta(microseconds=1)


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def source_for(fake: FakeLangfuse, sleeps: Sleeps | None = None, **kwargs: Any) -> LangfuseSource:
    policy = RetryPolicy(attempts=4, base_delay=0.01, max_delay=30, max_total_wait=60, sleep=sleeps or Sleeps())
    return LangfuseSource(fake.url, fake.public_key, fake.secret_key, retry=policy, **kwargs)


def ids(records: Iterable[Observation]) -> list[str]:
    return sorted(o.id for o in records)


# 1. Window edges ----------------------------------------------------------------------------------


def test_a_row_in_the_millisecond_of_a_window_edge_is_read_by_exactly_one_of_the_two_runs() -> None:
    edge = datetime(2026, 11, 20, 10, 0, 0, 123_000, tzinfo=UTC)
    row = obs(edge, 0.5)  # stored, like every server time, in whole milliseconds
    with FakeLangfuse([row, obs(edge - timedelta(minutes=5), 0.1), obs(edge + timedelta(minutes=5), 0.1)]) as fake:
        source = source_for(fake)
        # `now - query_delay` has microseconds: the first run ends 456 us into the row's millisecond.
        boundary = edge + 456 * US
        first = RunWindow(edge - timedelta(minutes=15), boundary)
        second = RunWindow(boundary, edge + timedelta(minutes=15))
        got = ids(source.observations(ObservationQuery(window=first)))
        got += ids(source.observations(ObservationQuery(window=second)))
    assert got.count(row.id) == 1 and len(got) == 3


def test_every_time_we_send_has_a_utc_offset_and_whole_milliseconds() -> None:
    # A naive time is a 400; anything finer than a millisecond is silently cut by the server.
    start = datetime(2026, 11, 20, 9, 0, 0, 654_321, tzinfo=UTC)
    with FakeLangfuse(build_dataset(traces=3)) as fake:
        source = source_for(fake)
        list(source.observations(ObservationQuery(window=RunWindow(start, start + timedelta(days=1)))))
        source.costs(CostQuery(start, start + timedelta(days=1), "hour"))
        sent = [v for r in fake.requests for k, vs in r.query.items() for v in vs if "Time" in k]
        sent += [c["value"] for r in fake.requests_to("/api/public/v2/observations") for c in _filter(r)]
        sent += [
            q[k] for r in fake.requests_to("/api/public/v2/metrics") for q in [_query(r)] for k in q if "Timestamp" in k
        ]
    assert sent and all(len(t) == len("2026-11-20T09:00:00.654Z") and t.endswith("Z") for t in sent), sent


def _filter(request: Any) -> list[dict[str, Any]]:
    return [c for c in json.loads(request.param("filter") or "[]") if c.get("type") == "datetime"]


def _query(request: Any) -> dict[str, Any]:
    return json.loads(request.param("query") or "{}")


# 2. Inclusive Metrics toTimestamp -----------------------------------------------------------------


def test_adjacent_metrics_queries_count_a_boundary_row_once() -> None:
    hour = datetime(2026, 11, 20, 10, tzinfo=UTC)
    rows = [obs(hour, 1.0), obs(hour - timedelta(minutes=30), 0.25), obs(hour + timedelta(minutes=30), 0.5)]
    with FakeLangfuse(rows) as fake:
        source = source_for(fake)
        before = source.costs(CostQuery(hour - timedelta(hours=1), hour, "hour"))
        after = source.costs(CostQuery(hour, hour + timedelta(hours=1), "hour"))
    assert sum(b.cost for b in before) == pytest.approx(0.25)
    assert sum(b.cost for b in after) == pytest.approx(1.5)


# 3. Legacy trace metadata -------------------------------------------------------------------------


def test_legacy_reads_carry_trace_level_metadata() -> None:
    data = build_dataset(traces=3)
    with FakeLangfuse(data, legacy_only=True) as fake:
        got = {
            o.id: o
            for o in source_for(fake).observations(
                ObservationQuery(RunWindow(T0, T0 + timedelta(days=1)), fields=ALL_FIELDS)
            )
        }
        trace_requests = fake.requests_to("/api/public/traces")
    assert got["trace-000-gen"].metadata["objective"] == "fix the flaky test"
    assert got["trace-001-tool-1"].metadata["feature"] == "mr-review"
    assert trace_requests and all("io" in (r.param("fields") or "io").split(",") for r in trace_requests)


# 4. Scores: once per logical result across days ---------------------------------------------------


class ScoringMonitor:
    """Emits the scores of its config, as goal drift or the audit would."""

    name: ClassVar[str] = "scoring"

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid")
        values: dict[str, float] = {}

    def __init__(self, config: Config) -> None:
        self.config = config

    def run(self, ctx: RunContext) -> Iterable[Finding]:
        for trace, value in self.config.values.items():
            ctx.scores.append(Score(f"drift:{trace}", trace, "goal_drift", value, timestamp=ctx.window.start))
        return []


@pytest.fixture
def scoring(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(registry.MONITORS, "scoring", f"{__name__}:ScoringMonitor")


def _score_run(fake: FakeLangfuse, store: Store, now: datetime, values: dict[str, float]) -> dict[str, int]:
    fake.clock = lambda: now  # the server stamps a score with the time of the POST
    settings = settings_from_dict({"monitors": {"scoring": {"values": values}}}, env={})
    summary = run_once("scoring", settings, RunDeps(source_for(fake), store, {}), now=now)
    assert summary.status == "ok", summary.error
    return summary.counters


@pytest.mark.usefixtures("scoring")
def test_a_rerun_on_a_later_day_does_not_write_a_second_score(sqlite_store: Store) -> None:
    day1 = datetime(2026, 11, 20, 23, 50, tzinfo=UTC)
    with FakeLangfuse([]) as fake:
        first = _score_run(fake, sqlite_store, day1, {"t1": 0.4, "t2": 0.9})
        second = _score_run(fake, sqlite_store, day1 + timedelta(minutes=20), {"t1": 0.4, "t2": 0.9})
        assert (first["scores_written"], second["scores_written"], second["scores_unchanged"]) == (2, 0, 2)
        # A changed result on a later day replaces the old score instead of adding a second one.
        third = _score_run(fake, sqlite_store, day1 + timedelta(days=1), {"t1": 0.7, "t2": 0.9})
        rows = {(day, score_id): body["value"] for (day, _name, score_id), body in fake.score_rows.items()}
        posts = fake.requests_to("/api/public/scores")
    assert third["scores_written"] == 1
    assert rows == {("2026-11-20", "drift:t2"): 0.9, ("2026-11-21", "drift:t1"): 0.7}
    # A run that sends asks once with a list of one, which this server refuses; then one object each. The
    # third run's only score is a change from the day before: it goes as it is (no DELETE before the
    # server is known), lands as one object beside the old copy, and both go before it is sent again.
    assert [(p.method, isinstance(p.body, list)) for p in posts] == [
        *[("POST", True), ("POST", False), ("POST", False)],
        *[("POST", True), ("POST", False), ("DELETE", False), ("POST", False)],
    ]


@pytest.mark.usefixtures("scoring")
def test_on_a_list_taking_server_a_later_days_change_replaces_the_score_with_no_delete(sqlite_store: Store) -> None:
    day1 = datetime(2026, 11, 20, 23, 50, tzinfo=UTC)
    values = {f"t{i}": 0.5 for i in range(120)}
    with FakeLangfuse([], scores_accept_list=True) as fake:
        first = _score_run(fake, sqlite_store, day1, values)
        second = _score_run(fake, sqlite_store, day1 + timedelta(days=1), values | {"t1": 0.7, "t200": 0.1})
        requests = fake.requests_to("/api/public/scores")
        rows = {score_id: (stamp, body["value"]) for (stamp, _name, score_id), body in fake.score_rows.items()}
    assert (first["scores_written"], second["scores_written"], second["scores_unchanged"]) == (120, 2, 119)
    # A list of one finds out, then lists of 50. The next run asks again, with its new score.
    assert [[item["id"] for item in r.body] for r in requests][-2:] == [["drift:t200"], ["drift:t1"]]
    assert [len(r.body) for r in requests] == [1, 50, 50, 19, 1, 1]
    assert {r.method for r in requests} == {"POST"}  # no DELETE
    assert len(rows) == 121 and rows["drift:t1"] == ("2026-11-20T23:50:00.000Z", 0.7)


@pytest.mark.usefixtures("scoring")
def test_scores_a_failing_server_cut_short_are_sent_once_by_the_next_run(sqlite_store: Store) -> None:
    day1 = datetime(2026, 11, 20, 22, 0, tzinfo=UTC)
    values = {f"t{i}": i / 10 for i in range(6)}
    with FakeLangfuse([]) as fake:
        # The refused list of one, two scores in, then the server goes away.
        fake.fail_next("/api/public/scores", 503, times=1000, after=3)
        first = _score_run(fake, sqlite_store, day1, values)
        assert (first["scores_written"], first["scores_pending"]) == (2, 4)
        fake.faults.clear()
        # The next run, on the next UTC day, has one new result for a score still pending (t5).
        second = _score_run(fake, sqlite_store, day1 + timedelta(days=1), {"t5": 0.99})
        third = _score_run(fake, sqlite_store, day1 + timedelta(days=1, hours=1), {})
        rows = {score_id: (day, body["value"]) for (day, _name, score_id), body in fake.score_rows.items()}
        posts = [p.body for p in fake.requests_to("/api/public/scores") if p.method == "POST"]
        posted = [(body["id"], body["value"]) for body in posts if isinstance(body, dict)]
    assert (second["scores_written"], second.get("scores_pending", 0)) == (4, 0)
    assert "scores_written" not in third  # nothing left, nothing new
    assert len(rows) == 6  # each score once, on one day
    assert rows["drift:t0"] == ("2026-11-20", 0.0) and rows["drift:t5"] == ("2026-11-21", 0.99)
    assert posted.count(("drift:t2", 0.2)) == 4 + 1  # the first run's 503 and its 3 retries, then once more
    assert [p for p in posted if p[0] == "drift:t5"] == [("drift:t5", 0.99)]  # the pending 0.5 was superseded


# 5. A spent Metrics v2 budget ---------------------------------------------------------------------


def test_a_spent_metrics_budget_degrades_to_the_ledger_and_resumes_when_it_returns() -> None:
    rows = [obs(datetime(2026, 11, 18, tzinfo=UTC) + timedelta(hours=h, minutes=5), 0.2) for h in range(60)]
    mon, state, sleeps = monitor(budgets=[{"name": "daily", "daily_cap": 100}]), MemoryState(), Sleeps()
    with FakeLangfuse(rows, metrics_budget=Budget(0, 86_400)) as fake:  # Hobby, spent for the day

        def run(end: datetime) -> dict[str, int]:
            now = end + timedelta(minutes=15)
            fake.clock = lambda: now
            source = source_for(fake, sleeps)  # each run builds its own source; only the ledger remembers
            ctx = RunContext(window=RunWindow(end - timedelta(minutes=15), end), now=now, source=source, state=state)
            list(mon.run(ctx))
            return ctx.counters

        first = run(datetime(2026, 11, 20, 12, tzinfo=UTC))
        metrics_after_first = len(fake.requests_to("/api/public/v2/metrics"))
        second = run(datetime(2026, 11, 20, 12, 15, tzinfo=UTC))
        metrics_after_second = len(fake.requests_to("/api/public/v2/metrics"))
        fake.metrics_budget = Budget(100, 3600)
        third = run(datetime(2026, 11, 21, 12, 30, tzinfo=UTC))
    assert sleeps == []  # a day-long Retry-After is not waited for
    assert first["cost.metrics_budget_back_in_min"] == 24 * 60 and first["cost.rows"] > 0
    assert metrics_after_first == 1 and metrics_after_second == 1  # the second run does not ask again
    assert second["cost.metrics_budget_back_in_min"] == 24 * 60 - 15
    assert "cost.metrics_budget_back_in_min" not in third and third["cost.days_closed"] >= 1


# 6. 422 on a query too big for the server ---------------------------------------------------------


def test_a_range_the_server_times_out_on_is_read_in_smaller_ranges() -> None:
    data = build_dataset(traces=12)
    window = RunWindow(T0 - timedelta(hours=1), T0 + timedelta(days=3))
    with FakeLangfuse(data, scan_limit=12) as fake:
        source = source_for(fake)
        got = ids(source.observations(ObservationQuery(window=window)))
        buckets = source.costs(CostQuery(window.start, window.end, "hour"))
        reads = len(fake.requests_to("/api/public/v2/observations"))
        metrics = len(fake.requests_to("/api/public/v2/metrics"))
    assert got == ids(data) and reads > 1  # one page would do, but 60 rows are more than it scans in time
    assert sum(b.cost for b in buckets) == pytest.approx(sum(o.total_cost for o in data)) and metrics > 1


def test_a_422_on_a_range_too_small_to_split_is_one_clear_error() -> None:
    burst = [obs(T0 + i * MS, 0.1) for i in range(30)]  # 30 rows in 30 ms
    with FakeLangfuse(burst, scan_limit=5) as fake, pytest.raises(Exception, match="too much for the server"):
        list(source_for(fake).observations(ObservationQuery(window=RunWindow(T0, T0 + timedelta(seconds=1)))))


# 7. Repeated rows, legacy ties, daily metrics by trace day ------------------------------------------


def test_a_row_the_server_returns_twice_is_read_once() -> None:
    row = obs(T0, 0.3)
    with FakeLangfuse([row, row, obs(T0 + timedelta(seconds=1), 0.1)]) as fake:  # stored twice, read without FINAL
        got = ids(source_for(fake).observations(ObservationQuery(window=RunWindow(T0, T0 + timedelta(hours=1)))))
    assert got.count(row.id) == 1 and len(got) == 2


def test_legacy_rows_sharing_a_start_time_across_pages_are_read_once_each() -> None:
    times = [T0 + timedelta(minutes=m) for m in (3, 2, 1)]
    rows = [obs(t, 0.01) for t in times for _ in range(60)]  # 60 rows per instant: ties across page edges
    with FakeLangfuse(rows, legacy_only=True) as fake:
        got = [o.id for o in source_for(fake).observations(ObservationQuery(RunWindow(T0, T0 + timedelta(hours=1))))]
    assert sorted(got) == ids(rows)


def test_costs_without_metrics_v1_land_on_the_observations_day_not_the_traces() -> None:
    late = datetime(2026, 11, 20, 23, 59, tzinfo=UTC)
    rows = [obs(late, 0.5, trace="night"), obs(late + timedelta(minutes=2), 2.0, trace="night")]
    with FakeLangfuse(rows, legacy_only=True, missing_routes={"/api/public/metrics"}) as fake:
        day = datetime(2026, 11, 20, tzinfo=UTC)
        buckets = source_for(fake).costs(CostQuery(day, day + timedelta(days=2), "day"))
    assert [(b.start.date().isoformat(), b.cost) for b in buckets] == [("2026-11-20", 0.5), ("2026-11-21", 2.0)]


def test_the_bundled_replay_agrees_with_the_server_like_fake_on_costs() -> None:
    data = build_dataset(traces=12)
    query = CostQuery(T0.replace(hour=0, minute=0), T0 + timedelta(days=3), "hour", group_by="model")
    with FakeLangfuse(data) as fake:
        live = [(b.start, b.group, round(b.cost, 9)) for b in source_for(fake).costs(query)]
    replay = [(b.start, b.group, round(b.cost, 9)) for b in ReplaySource.from_observations(data).costs(query)]
    assert live == replay

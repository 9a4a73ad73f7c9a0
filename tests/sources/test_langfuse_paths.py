"""The same data read through Observations/Metrics v2, the legacy API and an export-then-replay file
must give the same records and the same cost buckets."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from monitors.contracts.findings import RunWindow
from monitors.contracts.records import CostBucket, Observation
from monitors.contracts.source import CostFilter, CostQuery, ObservationQuery
from monitors.engine.export import export_observations
from monitors.sources.langfuse import LangfuseSource
from monitors.sources.replay import ReplaySource
from monitors.support.retry import RetryPolicy
from tests.fakes.langfuse_server import FakeLangfuse
from tests.sources.langfuse_data import ALL_FIELDS, T0, build_dataset

WINDOW = RunWindow(T0 - timedelta(hours=2), T0 + timedelta(days=3))
DATA = build_dataset()


@pytest.fixture
def v2_server() -> Iterator[FakeLangfuse]:
    with FakeLangfuse(DATA) as server:
        yield server


@pytest.fixture
def legacy_server() -> Iterator[FakeLangfuse]:
    with FakeLangfuse(DATA, legacy_only=True) as server:
        yield server


def source_for(server: FakeLangfuse, **kwargs: object) -> LangfuseSource:
    retry = RetryPolicy(attempts=3, sleep=lambda _s: None)
    return LangfuseSource(server.url, server.public_key, server.secret_key, retry=retry, **kwargs)  # type: ignore[arg-type]


def by_id(records: Iterator[Observation] | list[Observation]) -> list[Observation]:
    return sorted(records, key=lambda o: o.id)


def replay_of(server: FakeLangfuse, path: Path) -> ReplaySource:
    written = export_observations(source_for(server), WINDOW, path)
    assert written == len(DATA)
    return ReplaySource(path, host=server.url, strict_fields=True)


QUERIES = [
    ObservationQuery(window=WINDOW, fields=ALL_FIELDS),
    ObservationQuery(window=WINDOW, fields=ALL_FIELDS, types=("TOOL",)),
    ObservationQuery(window=WINDOW, fields=frozenset({"core", "basic"}), root_only=True),
    ObservationQuery(window=WINDOW, fields=ALL_FIELDS, metadata_present=("objective",), session_id="sess-1"),
    ObservationQuery(window=WINDOW, fields=frozenset({"core", "usage"}), min_total_cost=0.05, user_id="u-rev"),
    ObservationQuery(window=RunWindow(T0, T0 + timedelta(hours=12)), fields=ALL_FIELDS, types=("GENERATION", "AGENT")),
]


@pytest.mark.parametrize("query", QUERIES, ids=range(len(QUERIES)))
def test_same_records_from_v2_legacy_and_replay(
    query: ObservationQuery, v2_server: FakeLangfuse, legacy_server: FakeLangfuse, tmp_path: Path
) -> None:
    v2 = by_id(source_for(v2_server).observations(query))
    legacy_source = source_for(legacy_server)
    legacy = by_id(legacy_source.observations(query))
    replay = by_id(replay_of(v2_server, tmp_path / "traces.jsonl.gz").observations(query))
    assert v2, "the query should match something, or the comparison proves nothing"
    assert v2 == legacy == replay
    assert legacy_source.using_legacy


def test_records_carry_decoded_metadata_and_trace_context(v2_server: FakeLangfuse) -> None:
    query = ObservationQuery(window=WINDOW, fields=ALL_FIELDS, trace_id="trace-000")
    records = {o.id: o for o in source_for(v2_server).observations(query)}
    tool = records["trace-000-tool-1"]
    assert tool.metadata == {"feature": "pipeline-medic", "objective": "fix the flaky test", "mr_iid": "40"}
    assert (tool.trace_name, tool.tags, tool.user_id, tool.session_id) == (
        "pipeline-medic",
        ("prod", "ci"),
        "u-ci",
        "sess-0",
    )
    assert records["trace-000-gen"].input == {"messages": [{"role": "user", "content": "task 0"}]}
    assert records["trace-000-gen"].model == "gpt-4o"


def test_unrequested_field_groups_are_absent_on_both_paths(
    v2_server: FakeLangfuse, legacy_server: FakeLangfuse
) -> None:
    query = ObservationQuery(window=WINDOW, fields=frozenset({"core"}), trace_id="trace-001")
    for server in (v2_server, legacy_server):
        records = list(source_for(server).observations(query))
        assert records and all(o.metadata == {} and o.total_cost == 0 and o.name is None for o in records)
    assert v2_server.requests_to("/api/public/v2/observations")[0].param("fields") == "core"


COST_QUERIES = [
    CostQuery(WINDOW.start, WINDOW.end, "hour"),
    CostQuery(WINDOW.start, WINDOW.end, "day", group_by="traceName"),
    CostQuery(WINDOW.start, WINDOW.end, "day", group_by="tags"),
    CostQuery(WINDOW.start, WINDOW.end, "day", group_by="model"),
    CostQuery(WINDOW.start, WINDOW.end, "hour", group_by="user"),
    CostQuery(WINDOW.start, WINDOW.end, "day", group_by="metadata.feature"),
    CostQuery(WINDOW.start, WINDOW.end, "day", filters=(CostFilter("tags", "ci"),)),
    CostQuery(WINDOW.start, WINDOW.end, "hour", group_by="environment", filters=(CostFilter("user", "u-rev"),)),
]


def rounded(buckets: list[CostBucket]) -> list[tuple[object, ...]]:
    return [(b.start, b.group, round(b.cost, 9), b.count) for b in buckets]


@pytest.mark.parametrize("query", COST_QUERIES, ids=range(len(COST_QUERIES)))
def test_same_cost_buckets_from_v2_legacy_and_replay(
    query: CostQuery, v2_server: FakeLangfuse, legacy_server: FakeLangfuse, tmp_path: Path
) -> None:
    v2 = rounded(source_for(v2_server).costs(query))
    legacy = rounded(source_for(legacy_server).costs(query))
    replay = rounded(replay_of(v2_server, tmp_path / "traces.jsonl").costs(query))
    assert v2 and sum(b[2] for b in v2) > 0  # type: ignore[misc]
    assert v2 == legacy == replay


def test_without_metrics_v1_costs_are_summed_from_rows_never_from_daily_metrics(legacy_server: FakeLangfuse) -> None:
    # /metrics/daily dates a row by its trace's timestamp, so it cannot give per-observation days.
    day = T0.replace(hour=0, minute=0)
    query = CostQuery(day, day + timedelta(days=3), "day", group_by="model")
    expected = rounded(source_for(legacy_server).costs(query))
    legacy_server.missing_routes.add("/api/public/metrics")
    rows_source = source_for(legacy_server)
    assert rounded(rows_source.costs(query)) == expected
    assert rows_source.stats.by_endpoint["/api/public/observations"] >= 1
    assert rows_source.stats.by_endpoint["/api/public/metrics/daily"] == 0


def test_legacy_is_detected_once_per_source(legacy_server: FakeLangfuse, caplog: pytest.LogCaptureFixture) -> None:
    source = source_for(legacy_server)
    with caplog.at_level(logging.INFO, logger="monitors.sources.langfuse"):
        list(source.observations(QUERIES[0]))
        source.costs(COST_QUERIES[1])
        list(source.observations(QUERIES[1]))
    v2_calls = [r for r in legacy_server.requests if r.path.startswith("/api/public/v2/")]
    assert len(v2_calls) == 1
    assert sum("legacy" in r.getMessage() for r in caplog.records) == 1


def test_forced_v2_mode_does_not_fall_back(legacy_server: FakeLangfuse) -> None:
    source = source_for(legacy_server, api="v2")
    with pytest.raises(Exception, match="HTTP 404"):
        list(source.observations(QUERIES[0]))
    assert not legacy_server.requests_to("/api/public/observations")


def test_metrics_strings_and_zero_filled_buckets_are_read(v2_server: FakeLangfuse) -> None:
    # The fake, like the server, sends count_count as a string and zero-fills empty hours.
    source = source_for(v2_server)
    buckets = source.costs(COST_QUERIES[0])
    assert all(b.count > 0 for b in buckets)  # the fake zero-fills ~75 empty hours; they are dropped
    assert round(sum(b.cost for b in buckets), 9) == round(sum(o.total_cost for o in DATA), 9)

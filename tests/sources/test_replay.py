"""ReplaySource: query semantics and cost buckets in memory, streaming an export file."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta

import pytest

from monitors.contracts.findings import RunWindow
from monitors.contracts.records import Observation, observation_to_row
from monitors.contracts.source import CostFilter, CostQuery, ObservationQuery, Score
from monitors.sources.replay import ReplaySource

T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
WINDOW = RunWindow(T0 - timedelta(days=1), T0 + timedelta(days=1))


def obs(i: int, **kw: object) -> Observation:
    base: dict[str, object] = {
        "id": f"o{i}",
        "trace_id": f"t{i % 3}",
        "type": "GENERATION",
        "start_time": T0 + timedelta(minutes=40 * i),
        "project_id": "p1",
    }
    base.update(kw)
    return Observation(**base)  # type: ignore[arg-type]


DATA = [
    obs(0, total_cost=1.0, trace_name="medic", tags=("prod", "a"), user_id="u1", metadata={"objective": "x"}),
    obs(1, total_cost=2.0, trace_name="medic", tags=("prod",), user_id="u2", type="TOOL", parent_id="o0"),
    obs(2, total_cost=4.0, trace_name="review", model="gpt", is_root=True, parent_id="o9"),
    obs(3, total_cost=8.0, trace_name="review", start_time=T0 + timedelta(days=2)),  # outside window
]


@pytest.mark.parametrize(
    ("query_kwargs", "expected"),
    [
        ({}, ["o0", "o1", "o2"]),
        ({"types": ("tool",)}, ["o1"]),
        ({"root_only": True}, ["o0", "o2"]),
        ({"user_id": "u2"}, ["o1"]),
        ({"trace_id": "t2"}, ["o2"]),
        ({"metadata_present": ("objective",)}, ["o0"]),
        ({"min_total_cost": 2.0}, ["o1", "o2"]),
    ],
)
def test_query_semantics(query_kwargs: dict[str, object], expected: list[str]) -> None:
    source = ReplaySource.from_observations(DATA)
    got = [o.id for o in source.observations(ObservationQuery(window=WINDOW, **query_kwargs))]  # type: ignore[arg-type]
    assert got == expected


def test_window_is_half_open() -> None:
    source = ReplaySource.from_observations(DATA)
    window = RunWindow(T0, T0 + timedelta(minutes=40))
    assert [o.id for o in source.observations(ObservationQuery(window=window))] == ["o0"]


def test_costs_group_by_tags_gives_one_bucket_per_tag() -> None:
    source = ReplaySource.from_observations(DATA)
    buckets = source.costs(CostQuery(start=WINDOW.start, end=WINDOW.end, granularity="day", group_by="tags"))
    by_group = {b.group: (b.cost, b.count) for b in buckets}
    assert by_group == {"prod": (3.0, 2), "a": (1.0, 1), "": (4.0, 1)}
    assert {b.start for b in buckets} == {T0.replace(hour=0)}


def test_costs_hourly_with_filter() -> None:
    source = ReplaySource.from_observations(DATA)
    query = CostQuery(start=WINDOW.start, end=WINDOW.end, filters=(CostFilter("traceName", "medic"),), group_by="user")
    buckets = source.costs(query)
    # o0 (10:00) and o1 (10:40) share the 10:00 bucket; o2 is another agent and is filtered out.
    assert [(b.start, b.group, b.cost, b.count) for b in buckets] == [(T0, "u1", 1.0, 1), (T0, "u2", 2.0, 1)]


def test_export_file_round_trip_counts_malformed_lines(tmp_path) -> None:
    path = tmp_path / "traces.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        for o in DATA:
            fh.write(json.dumps(observation_to_row(o)) + "\n")
        fh.write("{not json\n")
        fh.write(json.dumps({"id": "x", "type": "SPAN"}) + "\n")  # no traceId/startTime
    source = ReplaySource(path, host="https://lf.example/")
    got = list(source.observations(ObservationQuery(window=WINDOW)))
    assert got == DATA[:3]
    assert source.stats.malformed == 2
    assert source.trace_url("t1") == "https://lf.example/project/p1/traces/t1"


def test_write_scores_is_recorded_not_sent() -> None:
    source = ReplaySource.from_observations(DATA)
    score = Score(id="s1", trace_id="t1", name="drift", value=0.3, timestamp=T0)
    assert source.write_scores([score]).not_written_ids == {"s1"}  # written nowhere, and says so
    assert source.scores == [score]
    assert source.trace_url("t1") is None  # no host known


def test_a_bad_line_counts_once_however_many_passes_read_it(tmp_path) -> None:
    path = tmp_path / "export.jsonl"
    rows = [json.dumps(observation_to_row(o), default=str) for o in DATA]
    path.write_text("\n".join([rows[0], "{not json", *rows[1:]]) + "\n")
    source = ReplaySource(path)
    for _ in range(3):  # the audit and the cost ledger read a file several times in one run
        list(source.observations(ObservationQuery(window=WINDOW)))
    assert source.stats.malformed == 1


def test_span_is_the_files_own_window(tmp_path) -> None:
    path = tmp_path / "export.jsonl.gz"
    with gzip.open(path, "wt") as fh:
        fh.writelines(json.dumps(observation_to_row(o), default=str) + "\n" for o in DATA)
    span = ReplaySource(path).span()
    assert span is not None and span.start == T0 and span.end == T0 + timedelta(days=2, milliseconds=1)
    assert [o.id for o in ReplaySource(path).observations(ObservationQuery(window=span))] == ["o0", "o1", "o2", "o3"]
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    assert ReplaySource(empty).span() is None

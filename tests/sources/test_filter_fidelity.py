"""Filters: what our code sends fits what the Langfuse server accepts, and the fake refuses what the
server refuses. The server's rules are data (tests/fakes/langfuse_filter_rules.json, copied from the
server source; each list names its server file and commit), so these tests judge our client and the
fake against the server's lists, not against each other."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from monitors.contracts.findings import RunWindow
from monitors.contracts.source import CostFilter, ObservationQuery, ScoreCountQuery
from monitors.sources.langfuse_events import _count_query
from monitors.sources.langfuse_metrics import FILTER_COLUMNS, V1_DIMENSIONS, V2_DIMENSIONS, metrics_filter
from monitors.sources.langfuse_v2 import observation_filter
from tests.events.test_source_scores import DAY, serve, source_for
from tests.fakes.langfuse_events_endpoints import SCORE_ROW_KEYS
from tests.fakes.langfuse_filter_rules import (
    OBSERVATION_COLUMNS,
    OPERATORS,
    BadRequest,
    check_single_filter,
    metrics_column,
    metrics_view,
    observation_column,
)
from tests.fakes.langfuse_filters import METRIC_ROW_KEYS, ROW_KEYS
from tests.fakes.langfuse_server import FakeLangfuse
from tests.sources.langfuse_data import build_dataset

V2_OBS = "/api/public/v2/observations"
V2_METRICS = "/api/public/v2/metrics"
WINDOW = RunWindow(datetime(2026, 11, 20, 9, tzinfo=UTC), datetime(2026, 11, 20, 11, tzinfo=UTC))
SCORE_VIEWS = ("scores-numeric", "scores-categorical")


# -- our client's filters, judged by the server's rules --------------------------------------------
def every_observation_filter() -> list[dict[str, Any]]:
    """What observation_filter sends for queries that take each of its branches."""
    full = ObservationQuery(
        WINDOW,
        types=("generation", "tool"),
        root_only=True,
        user_id="u",
        session_id="s",
        trace_id="t",
        min_total_cost=0.5,
        levels=("ERROR", "WARNING"),
        trace_ids=("t1", "t2"),
    )
    return [*observation_filter(full), *observation_filter(ObservationQuery(WINDOW, types=("span",)))]


def test_every_observations_v2_filter_we_send_is_one_the_server_takes() -> None:
    sent = every_observation_filter()
    assert {(c["column"], c["type"]) for c in sent} >= {("level", "stringOptions"), ("traceId", "stringOptions")}
    for cond in sent:
        column = observation_column(check_single_filter(cond))  # raises where the server answers 400
        assert column == cond["column"]


def test_every_cost_filter_we_send_reads_a_declared_metrics_dimension_on_both_versions() -> None:
    # A column the view does not declare is a 400, except one ending in "Name", which the server reads
    # as the view's `name` without a word: so the target must be the column itself.
    for dimension in FILTER_COLUMNS:
        cond = check_single_filter(metrics_filter(CostFilter(dimension, "x")))  # type: ignore[arg-type]
        for version in ("v1", "v2"):
            assert metrics_column(cond, metrics_view("observations", version)) == cond["column"]


@pytest.mark.parametrize(("dimensions", "version"), [(V2_DIMENSIONS, "v2"), (V1_DIMENSIONS, "v1")])
def test_every_cost_grouping_is_a_declared_dimension(dimensions: dict[str, str], version: str) -> None:
    view = metrics_view("observations", version)
    assert set(dimensions.values()) <= set(view.dimensions)
    assert not set(dimensions.values()) & view.high_cardinality  # refused in a time series on v2


@pytest.mark.parametrize("version", ["v1", "v2"])
@pytest.mark.parametrize("view_name", SCORE_VIEWS)
def test_the_score_count_query_fits_both_score_views(view_name: str, version: str) -> None:
    query = _count_query(view_name, ScoreCountQuery(WINDOW, ("relevance", "tests_pass")))
    view = metrics_view(view_name, version)
    assert {d["field"] for d in query["dimensions"]} <= set(view.dimensions) - view.high_cardinality
    for cond in query["filters"]:
        assert metrics_column(check_single_filter(cond), view) == cond["column"]


def test_no_evaluators_means_no_score_count_request() -> None:
    # The server refuses `any of []` (stringOptionsFilter refines the list to be non-empty).
    with serve() as fake:
        assert source_for(fake).score_counts(ScoreCountQuery(DAY, ())) == []
        assert not [r for r in fake.requests if "metrics" in r.path]


# -- the fake's lists are the server's ------------------------------------------------------------
def test_the_fake_evaluates_only_columns_and_dimensions_the_server_declares() -> None:
    assert set(ROW_KEYS) <= set(OBSERVATION_COLUMNS)
    observations = metrics_view("observations", "v2")
    assert set(METRIC_ROW_KEYS) <= {*observations.dimensions, observations.time_dimension, "metadata"}
    for version in ("v1", "v2"):
        for name in SCORE_VIEWS:
            view = metrics_view(name, version)
            assert set(SCORE_ROW_KEYS) <= {*view.dimensions, view.time_dimension}


@pytest.mark.parametrize("kind", sorted(OPERATORS))
def test_each_filter_type_takes_exactly_the_servers_operators(kind: str) -> None:
    samples = {"string": "x", "stringObject": "x", "number": 1, "numberObject": 1, "boolean": True, "null": ""}
    value = samples.get(kind, "2026-11-20T10:00:00Z" if kind == "datetime" else ["x"])
    every_operator = {op for ops in OPERATORS.values() for op in ops} | {"!=", "is set", "matches"}
    for operator in sorted(every_operator):
        cond = {"type": kind, "column": "c", "operator": operator, "value": value, "key": "k"}
        if operator in OPERATORS[kind]:
            check_single_filter(cond)
        else:
            with pytest.raises(BadRequest):
                check_single_filter(cond)


# -- the fake answers as the server does ---------------------------------------------------------
@pytest.fixture
def fake() -> Any:
    with FakeLangfuse(build_dataset(traces=4)) as server:
        yield server


def get(fake: FakeLangfuse, path: str, **params: Any) -> httpx.Response:
    with httpx.Client(base_url=fake.url, auth=(fake.public_key, fake.secret_key)) as client:
        return client.get(path, params=params)


def observations(fake: FakeLangfuse, *extra: dict[str, Any]) -> httpx.Response:
    window = [
        {"type": "datetime", "column": "startTime", "operator": ">=", "value": "2026-11-20T00:00:00Z"},
        {"type": "datetime", "column": "startTime", "operator": "<", "value": "2026-11-21T00:00:00Z"},
    ]
    return get(fake, V2_OBS, filter=json.dumps([*window, *extra]), limit=1000)


def metrics(fake: FakeLangfuse, view: str, *filters: dict[str, Any], dims: tuple[str, ...] = ()) -> httpx.Response:
    query = {
        "view": view,
        "dimensions": [{"field": d} for d in dims],
        "metrics": [{"measure": "count", "aggregation": "count"}],
        "filters": list(filters),
        "fromTimestamp": "2026-11-19T00:00:00.000Z",
        "toTimestamp": "2026-11-22T00:00:00.000Z",
    }
    return get(fake, V2_METRICS, query=json.dumps(query))


@pytest.mark.parametrize(
    ("bad", "error"),
    [
        # packages/shared/src/interfaces/filters.ts: zod refuses these ("Invalid request data").
        ({"type": "stringOptions", "column": "level", "operator": "any of", "value": []}, None),
        ({"type": "stringOptions", "column": "level", "operator": "=", "value": ["ERROR"]}, None),
        ({"type": "datetime", "column": "startTime", "operator": "=", "value": "2026-11-20T10:00:00Z"}, None),
        ({"column": "level", "operator": "any of", "value": ["ERROR"]}, None),
        # clickhouse-sql/factory.ts: an unknown column, or a type the column does not take.
        ({"type": "string", "column": "severity", "operator": "=", "value": "ERROR"}, "InvalidRequestError"),
        ({"type": "string", "column": "totalCost", "operator": "=", "value": "1"}, "InvalidRequestError"),
        (
            {"type": "stringOptions", "column": "isRootObservation", "operator": "any of", "value": ["true"]},
            "InvalidRequestError",
        ),
    ],
)
def test_observations_v2_refuses_what_the_server_refuses(fake: FakeLangfuse, bad: dict, error: str | None) -> None:
    response = observations(fake, bad)
    assert response.status_code == 400
    body = response.json()
    if error is None:
        assert body["message"] == "Invalid request data" and isinstance(body["error"], list)
    else:
        assert body["error"] == "InvalidRequestError"


def test_observations_v2_takes_a_column_by_its_name_and_the_string_operators(fake: FakeLangfuse) -> None:
    generations = {"type": "stringOptions", "column": "type", "operator": "any of", "value": ["GENERATION"]}
    by_id = observations(fake, generations)
    by_name = observations(fake, {**generations, "column": "Type"})
    assert by_id.status_code == by_name.status_code == 200
    assert by_name.json()["data"] == by_id.json()["data"] != []
    assert {r["type"] for r in by_id.json()["data"]} == {"GENERATION"}
    one_trace = observations(fake, {"type": "string", "column": "Trace ID", "operator": "ends with", "value": "-001"})
    assert one_trace.status_code == 200
    assert {r["traceId"] for r in one_trace.json()["data"]} == {"trace-001"}


def test_metrics_filters_must_name_a_view_dimension(fake: FakeLangfuse) -> None:
    # queryBuilder.ts mapFilters: an Observations v2 column is not a Metrics dimension.
    start_time = {"type": "datetime", "column": "startTime", "operator": ">=", "value": "2026-11-20T00:00:00Z"}
    response = metrics(fake, "observations", start_time)
    assert response.status_code == 400 and response.json()["error"] == "InvalidRequestError"
    tags = {"type": "string", "column": "tags", "operator": "=", "value": "prod"}
    assert metrics(fake, "observations", tags).status_code == 400  # an array dimension needs arrayOptions


def test_an_undeclared_name_column_silently_filters_the_name(fake: FakeLangfuse) -> None:
    # queryBuilder.ts: a column ending in "Name" that the view does not declare reads `name`, no 400:
    # why test_every_cost_filter_we_send_reads_a_declared_metrics_dimension_on_both_versions exists.
    named = {"type": "stringOptions", "column": "name", "operator": "any of", "value": ["plan"]}
    model = {**named, "column": "modelName"}
    everything = metrics(fake, "observations").json()["data"]
    assert metrics(fake, "observations", model).json()["data"] == metrics(fake, "observations", named).json()["data"]
    assert metrics(fake, "observations", model).json()["data"] != everything


def test_score_view_filters_are_checked_like_every_metrics_filter(fake: FakeLangfuse) -> None:
    untyped = {"column": "name", "operator": "any of", "value": ["relevance"]}
    assert metrics(fake, "scores-numeric", untyped).status_code == 400
    unknown = {"type": "stringOptions", "column": "score", "operator": "any of", "value": ["relevance"]}
    assert metrics(fake, "scores-numeric", unknown).json()["error"] == "InvalidRequestError"
    names = {"type": "stringOptions", "column": "name", "operator": "any of", "value": ["relevance"]}
    assert metrics(fake, "scores-numeric", names, dims=("name", "traceName")).status_code == 200


def test_a_filter_the_fake_cannot_evaluate_is_a_501_not_a_silent_pass(fake: FakeLangfuse) -> None:
    latency = {"type": "number", "column": "latency", "operator": ">", "value": 1}
    assert observation_column(check_single_filter(latency)) == "latency"  # the server takes it
    assert observations(fake, latency).status_code == 501

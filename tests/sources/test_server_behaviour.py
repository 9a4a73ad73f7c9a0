"""The fake Langfuse behaves like the Langfuse server (langfuse/langfuse at 62751446, 2026-08-22), not
only like its OpenAPI spec. Each test pins one behaviour with plain HTTP and names the server file it
copies, so a change to the fake that drifts from the server fails here. tests/test_langfuse_spec.py
still checks every response against the spec."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.cost.helpers import obs
from tests.fakes.langfuse_limits import Budget
from tests.fakes.langfuse_server import FakeLangfuse
from tests.sources.langfuse_data import T0, build_dataset

V2_OBS = "/api/public/v2/observations"
V2_METRICS = "/api/public/v2/metrics"
EDGE = datetime(2026, 11, 20, 10, 0, 0, 123_000, tzinfo=UTC)


@pytest.fixture
def fake() -> Iterator[FakeLangfuse]:
    rows = [*build_dataset(traces=4), obs(EDGE, 1.0, user=None, trace="edge-trace")]
    with FakeLangfuse(rows) as server:
        yield server


def get(fake: FakeLangfuse, path: str, **params: Any) -> httpx.Response:
    with httpx.Client(base_url=fake.url, auth=(fake.public_key, fake.secret_key)) as client:
        return client.get(path, params=params)


def window_filter(start: str, end: str) -> str:
    return json.dumps(
        [
            {"type": "datetime", "column": "startTime", "operator": ">=", "value": start},
            {"type": "datetime", "column": "startTime", "operator": "<", "value": end},
        ]
    )


def metrics_query(start: str, end: str) -> str:
    return json.dumps(
        {
            "view": "observations",
            "metrics": [{"measure": "totalCost", "aggregation": "sum"}, {"measure": "count", "aggregation": "count"}],
            "fromTimestamp": start,
            "toTimestamp": end,
        }
    )


def test_time_bounds_are_cut_to_the_millisecond(fake: FakeLangfuse) -> None:
    # packages/shared/src/interfaces/filters.ts (z.coerce.date: a JS Date, milliseconds) and
    # clickhouse-sql/clickhouse-filter.ts (DateTime64(3) parameters): .123999 is .123, so the row at
    # .123 is not before it.
    body = get(fake, V2_OBS, filter=window_filter("2026-11-20T09:59:00Z", "2026-11-20T10:00:00.123999Z")).json()
    assert "edge-trace" not in {r["traceId"] for r in body["data"]}
    body = get(fake, V2_OBS, filter=window_filter("2026-11-20T10:00:00.123999Z", "2026-11-20T10:01:00Z")).json()
    assert [r["startTime"] for r in body["data"]] == ["2026-11-20T10:00:00.123Z"]


def test_naive_timestamps_are_a_400_whose_error_is_a_list_of_issues(fake: FakeLangfuse) -> None:
    # web/src/features/public-api/types/observations.ts: fromStartTime is stringDateTime (an offset is
    # required), checked whether or not a JSON filter is sent; withMiddlewares.ts turns the ZodError
    # into {"message": "Invalid request data", "error": [issues]}.
    window = window_filter("2026-11-20T09:00:00Z", "2026-11-20T11:00:00Z")
    response = get(fake, V2_OBS, fromStartTime="2026-11-20T09:00:00", filter=window)
    assert response.status_code == 400
    assert response.json()["message"] == "Invalid request data" and isinstance(response.json()["error"], list)
    # A time inside the JSON filter is z.coerce.date() (packages/shared/src/interfaces/filters.ts): a
    # JS Date takes a naive time (as the server's local time; the fake reads UTC), so no 400 there.
    assert get(fake, V2_OBS, filter=window_filter("2026-11-20T09:00:00", "2026-11-20T11:00:00Z")).status_code == 200


def test_metrics_to_timestamp_is_inclusive_and_counts_are_strings(fake: FakeLangfuse) -> None:
    # packages/shared/src/features/query/server/queryBuilder.ts: `<= toTimestamp`; ClickHouse counts
    # (UInt64) reach JSON as strings.
    response = get(fake, V2_METRICS, query=metrics_query("2026-11-20T09:59:00.000Z", "2026-11-20T10:00:00.123Z"))
    (row,) = response.json()["data"]
    assert row["count_count"] == "1" and row["sum_totalCost"] == 1.0


def test_v2_pages_follow_a_keyset_cursor_in_start_time_desc_order(fake: FakeLangfuse) -> None:
    # packages/shared/src/server/repositories/events.ts: ORDER BY start_time DESC, xxHash32(trace_id)
    # DESC, id DESC; the cursor is the last row's sort key (base64 JSON), present only while rows remain.
    params = {"filter": window_filter("2026-11-19T00:00:00Z", "2026-11-25T00:00:00Z"), "limit": 7}
    first = get(fake, V2_OBS, **params).json()
    cursor = first["meta"]["cursor"]
    assert set(json.loads(base64.b64decode(cursor))) >= {"lastStartTimeTo", "lastId"}
    pages, seen = [first], [r["startTime"] for r in first["data"]]
    while cursor:
        page = get(fake, V2_OBS, **params, cursor=cursor).json()
        pages.append(page)
        seen += [r["startTime"] for r in page["data"]]
        cursor = page["meta"].get("cursor")
    assert seen == sorted(seen, reverse=True) and len(pages) > 2
    assert "cursor" not in pages[-1]["meta"]


def test_v2_rows_name_the_model_model_and_missing_ids_are_empty_strings(fake: FakeLangfuse) -> None:
    # packages/shared/src/server/repositories/events.ts (row converter): `model`, not the spec's
    # providedModelName; user_id and session_id are non-nullable String columns, so missing is "".
    params = {"filter": window_filter("2026-11-20T10:00:00Z", "2026-11-20T10:01:00Z"), "fields": "core,basic,model"}
    (row,) = get(fake, V2_OBS, **params).json()["data"]
    assert row["model"] == "gpt-4o" and "providedModelName" not in row
    assert row["userId"] == ""


def test_the_v2_list_does_not_deduplicate_by_id() -> None:
    # The events table is a ReplacingMergeTree read without FINAL (events.ts): a row stored twice
    # before a merge is returned twice.
    row = obs(T0, 0.3)
    with FakeLangfuse([row, row]) as fake:
        body = get(fake, V2_OBS, filter=window_filter("2026-11-20T00:00:00Z", "2026-11-21T00:00:00Z")).json()
    assert [r["id"] for r in body["data"]] == [row.id, row.id]


def test_legacy_traces_carry_metadata_only_with_the_io_group(fake: FakeLangfuse) -> None:
    # packages/shared/src/server/repositories/traces.ts and web/src/pages/api/public/traces/[traceId].ts:
    # input, output and metadata belong to the `io` field group; without it metadata is {}.
    core = get(fake, "/api/public/traces", fields="core").json()["data"]
    full = get(fake, "/api/public/traces", fields="core,io").json()["data"]
    assert all(t["metadata"] == {} for t in core)
    assert any(t["metadata"].get("feature") for t in full)
    assert get(fake, "/api/public/traces/trace-000", fields="core").json()["metadata"] == {}


def test_legacy_observations_break_start_time_ties_differently_per_request() -> None:
    # packages/shared/src/server/repositories/observations.ts: ORDER BY start_time DESC with LIMIT and
    # OFFSET and no tie-breaker: rows sharing a start time have no fixed order across requests.
    rows = [obs(T0, 0.1) for _ in range(40)]
    with FakeLangfuse(rows, legacy_only=True) as fake:
        orders = {
            tuple(r["id"] for r in get(fake, "/api/public/observations", limit=40).json()["data"]) for _ in range(4)
        }
    assert len(orders) > 1


def test_metrics_daily_dates_rows_by_their_trace() -> None:
    # web/src/pages/api/public/metrics/daily.ts groups by the trace's timestamp.
    late = datetime(2026, 11, 20, 23, 59, tzinfo=UTC)
    rows = [obs(late, 0.5, trace="night"), obs(late + timedelta(minutes=2), 2.0, trace="night")]
    with FakeLangfuse(rows, legacy_only=True) as fake:
        days = get(fake, "/api/public/metrics/daily").json()["data"]
    assert [(d["date"], d["totalCost"]) for d in days] == [("2026-11-20", 2.5)]


def test_scores_are_keyed_by_the_day_of_the_post_and_a_list_is_a_400(fake: FakeLangfuse) -> None:
    # packages/shared/clickhouse/migrations/unclustered/0003_scores.up.sql: ORDER BY (project_id,
    # toDate(timestamp), name, id); worker/src/services/IngestionService/index.ts stamps the POST time
    # and ignores a timestamp in the body (packages/shared/src/features/scores/interfaces/shared.ts).
    score = {
        "id": "s-1",
        "traceId": "trace-000",
        "name": "goal_drift",
        "value": 0.5,
        "timestamp": "2020-01-01T00:00:00Z",
    }
    with httpx.Client(base_url=fake.url, auth=(fake.public_key, fake.secret_key)) as client:
        fake.clock = lambda: datetime(2026, 11, 20, 12, tzinfo=UTC)
        assert client.post("/api/public/scores", json=score).json() == {"id": "s-1"}
        assert client.post("/api/public/scores", json={**score, "value": 0.6}).status_code == 200
        fake.clock = lambda: datetime(2026, 11, 21, 0, 5, tzinfo=UTC)
        client.post("/api/public/scores", json=score)
        rejected = client.post("/api/public/scores", json=[score])
    assert sorted((day, value["value"]) for (day, _, _), value in fake.score_rows.items()) == [
        ("2026-11-20", 0.6),
        ("2026-11-21", 0.5),
    ]
    assert fake.scores["s-1"]["timestamp"] == "2026-11-21T00:05:00.000Z"
    assert rejected.status_code == 400 and isinstance(rejected.json()["error"], list)


def test_metrics_v2_has_a_per_organisation_budget_with_a_long_retry_after() -> None:
    # web/src/features/public-api/server/RateLimitService.ts: public-api-v2-metrics is 100 a day on
    # Hobby; a spent budget is 429 with Retry-After, X-RateLimit-* headers and a `details` body.
    with FakeLangfuse(build_dataset(traces=2), metrics_budget=Budget(2, 86_400)) as fake:
        now = datetime(2026, 11, 20, 12, tzinfo=UTC)
        fake.clock = lambda: now
        query = metrics_query("2026-11-20T00:00:00Z", "2026-11-21T00:00:00Z")
        statuses = [get(fake, V2_METRICS, query=query).status_code for _ in range(3)]
        now += timedelta(hours=1)
        limited = get(fake, V2_METRICS, query=query)
        now += timedelta(days=1)
        back = get(fake, V2_METRICS, query=query)
    assert statuses == [200, 200, 429]
    assert limited.headers["Retry-After"] == str(23 * 3600)
    assert {"x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset"} <= set(limited.headers.keys())
    assert limited.json()["code"] == "rate_limited" and limited.json()["details"]["retryAfterSeconds"] == 23 * 3600
    assert back.status_code == 200


def test_a_query_reading_too_many_rows_is_a_422() -> None:
    # web/src/features/public-api/server/withMiddlewares.ts maps ClickHouseResourceError (a timeout or
    # memory limit) to 422 {"message": advice, "error": "Request timed out"}.
    with FakeLangfuse(build_dataset(traces=4), scan_limit=5) as fake:
        response = get(fake, V2_OBS, filter=window_filter("2026-11-19T00:00:00Z", "2026-11-25T00:00:00Z"))
        small = get(fake, V2_OBS, filter=window_filter("2026-11-20T09:30:00Z", "2026-11-20T09:30:30Z"))
    assert response.status_code == 422 and response.json()["error"] == "Request timed out"
    assert small.status_code == 200


def test_v2_routes_are_404_on_a_server_not_in_v4_write_mode() -> None:
    # web/src/pages/api/public/v2/observations/index.ts: only with a v4 write mode (or the preview flag).
    with FakeLangfuse([], legacy_only=True) as fake:
        response = get(fake, V2_OBS)
    assert response.status_code == 404 and "v4" in response.json()["message"]

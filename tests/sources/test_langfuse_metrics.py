"""Metrics queries: long ranges are chunked under row_limit, full answers are split and re-asked,
and the result equals summing the rows ourselves."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import pytest

from monitors.contracts.source import CostQuery
from monitors.sources.langfuse import LangfuseSource
from monitors.sources.langfuse_metrics import V2_DIMENSIONS, aggregate_costs, chunks, split_point
from monitors.sources.replay import ReplaySource
from monitors.support.retry import RetryPolicy
from tests.fakes.langfuse_server import FakeLangfuse
from tests.sources.langfuse_data import T0, build_dataset

DATA = build_dataset(traces=30)  # ~5 days of traces, one every ~4 hours
METRICS = "/api/public/v2/metrics"


@pytest.fixture
def server() -> Iterator[FakeLangfuse]:
    with FakeLangfuse(DATA) as fake:
        yield fake


def make_source(server: FakeLangfuse) -> LangfuseSource:
    return LangfuseSource(server.url, server.public_key, server.secret_key, retry=RetryPolicy(attempts=1))


def rounded(buckets: list) -> list[tuple[object, ...]]:
    return [(b.start, b.group, round(b.cost, 9), b.count) for b in buckets]


def test_hourly_range_longer_than_row_limit_is_chunked(server: FakeLangfuse) -> None:
    start = T0.replace(minute=0) - timedelta(days=40)
    query = CostQuery(start, start + timedelta(days=50), "hour")  # 1200 hourly buckets
    source = make_source(server)
    got = rounded(source.costs(query))
    assert got == rounded(ReplaySource.from_observations(DATA).costs(query))
    sent = [json.loads(r.param("query") or "{}") for r in server.requests_to(METRICS)]
    assert len(sent) == 2  # 1000 + 200 buckets, each under the limit
    # toTimestamp is inclusive on the server: a chunk ends 1 ms before the next one starts.
    assert sent[0]["toTimestamp"] == "2026-11-22T00:59:59.999Z"
    assert sent[1]["fromTimestamp"] == "2026-11-22T01:00:00.000Z"
    assert all(q["config"]["row_limit"] == 1000 for q in sent)


def test_full_answers_are_split_until_they_fit(server: FakeLangfuse) -> None:
    source = make_source(server)
    query = CostQuery(T0 - timedelta(hours=1), T0 + timedelta(days=6), "day", group_by="traceName")
    row_limit = 3  # three agents: any day with all of them fills a response
    got = aggregate_costs(query, source._v2._metrics, V2_DIMENSIONS, source.stats, source._sum_rows, row_limit)
    assert rounded(got) == rounded(ReplaySource.from_observations(DATA).costs(query))
    assert len(server.requests_to(METRICS)) > 3  # 3 day-chunks at first, then splits


def test_chunks_and_split_points_follow_bucket_boundaries() -> None:
    start = T0  # 09:30, not on a boundary
    pieces = list(chunks(start, start + timedelta(hours=5), "hour", 2))
    assert [(a.hour, a.minute, b.hour, b.minute) for a, b in pieces] == [
        (9, 30, 11, 0),
        (11, 0, 13, 0),
        (13, 0, 14, 30),
    ]
    assert split_point(start, start + timedelta(minutes=20), "hour") is None
    mid = split_point(start, start + timedelta(hours=5), "hour")
    assert mid is not None and mid.minute == 0 and start < mid < start + timedelta(hours=5)

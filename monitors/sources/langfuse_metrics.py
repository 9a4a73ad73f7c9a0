"""Cost aggregates from Langfuse's Metrics API (v2, and v1 on older servers: same query object).

One query asks for `sum(totalCost)` and `count(count)` per hour or day (`timeDimension`), optionally per
dimension value. A response holds at most `row_limit` (1000) rows, so a long range is cut into chunks of
at most that many buckets, and a chunk whose answer fills the limit, or that the server times out on
(422), is split in two and asked again. The server reads `toTimestamp` inclusively
(packages/shared/src/features/query/server/queryBuilder.ts), so a chunk [start, end) is sent as
[start, end - 1 ms]: times are whole milliseconds there, so no row is counted by two chunks or by the
next run. Numbers may come back as JSON strings (`count_count` does); a row we cannot read is counted as
malformed and skipped.

Docs: https://langfuse.com/docs/metrics/features/metrics-api
Spec: GET /api/public/v2/metrics (MetricsV2Response), GET /api/public/metrics (legacyMetricsResponse).
"""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from monitors.contracts.errors import SourceError
from monitors.contracts.findings import to_ms, utc
from monitors.contracts.records import CostBucket, MalformedRecord, parse_time
from monitors.contracts.source import CostFilter, CostQuery, SourceStats
from monitors.sources.http import QueryTimedOut
from monitors.sources.replay import bucket_start

ROW_LIMIT = 1000
LAST_INCLUDED = timedelta(milliseconds=1)  # [start, end) is [start, end - 1 ms] at the server's precision

# Our cost dimension -> the Metrics API field (Metrics calls the model `providedModelName`).
V2_DIMENSIONS = {
    "traceName": "traceName",
    "model": "providedModelName",
    "environment": "environment",
    "tags": "tags",
}
# Metrics v1 may also group by user; v2 rejects high-cardinality dimensions with 400.
V1_DIMENSIONS = {**V2_DIMENSIONS, "user": "userId"}
# What both versions can filter on (userId is a valid filter in v2 even though it cannot group).
FILTER_COLUMNS = {**V1_DIMENSIONS}

MetricsFetch = Callable[[dict[str, Any]], list[Any]]


def step_of(granularity: str) -> timedelta:
    return timedelta(days=1) if granularity == "day" else timedelta(hours=1)


def can_aggregate(query: CostQuery, dimensions: Mapping[str, str]) -> bool:
    """True when the Metrics API can answer `query` directly (otherwise sum observation rows)."""
    if query.group_by is not None and query.group_by not in dimensions:
        return False
    return all(f.dimension in FILTER_COLUMNS for f in query.filters)


def metrics_filter(flt: CostFilter) -> dict[str, Any]:
    column = FILTER_COLUMNS[flt.dimension]
    if flt.dimension == "tags":
        return {"column": column, "operator": "any of", "value": [flt.value], "type": "arrayOptions"}
    return {"column": column, "operator": "=", "value": flt.value, "type": "string"}


def build_query(
    query: CostQuery, start: datetime, end: datetime, dimension: str | None, row_limit: int
) -> dict[str, Any]:
    """The Metrics query object for [start, end) of `query`."""
    return {
        "view": "observations",
        "dimensions": [{"field": dimension}] if dimension else [],
        "metrics": [
            {"measure": "totalCost", "aggregation": "sum"},
            {"measure": "count", "aggregation": "count"},
        ],
        "filters": [metrics_filter(f) for f in query.filters],
        "timeDimension": {"granularity": query.granularity},
        "fromTimestamp": _iso(start),
        "toTimestamp": _iso(to_ms(end) - LAST_INCLUDED),
        "config": {"row_limit": row_limit},
    }


def _iso(dt: datetime) -> str:
    return to_ms(dt).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _number(value: Any, name: str) -> float:
    if value is None:
        return 0.0
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise MalformedRecord(f"{name}: not a number: {str(value)[:40]!r}") from None
    if not math.isfinite(number):
        raise MalformedRecord(f"{name}: not finite: {value!r}")
    return number


def _groups(value: Any, dimension: str) -> tuple[str, ...]:
    # Metrics v2 groups `tags` by the whole array; exploding it gives one bucket per tag, which is
    # exactly the per-tag sum because every observation counts once under each of its tags.
    if dimension == "tags":
        if isinstance(value, str) and value.startswith("["):
            with contextlib.suppress(ValueError):
                value = json.loads(value)
        if isinstance(value, list):
            return tuple(str(v) for v in value) or ("",)
    return ("",) if value is None else (str(value),)


@dataclass
class BucketSums:
    """Cost and count per (bucket start, group), filled from Metrics rows."""

    granularity: str
    sums: dict[tuple[datetime, str | None], list[float]]

    def add_rows(self, rows: Sequence[Any], dimension: str | None, stats: SourceStats) -> None:
        for row in rows:
            try:
                self._add_row(row, dimension)
            except MalformedRecord as exc:
                stats.count_malformed(f"metrics row: {exc}")

    def _add_row(self, row: Any, dimension: str | None) -> None:
        if not isinstance(row, Mapping):
            raise MalformedRecord(f"expected an object, got {type(row).__name__}")
        count = _number(row.get("count_count"), "count_count")
        cost = _number(row.get("sum_totalCost"), "sum_totalCost")
        if count <= 0 and cost == 0:
            return  # a zero-filled empty bucket: "buckets with no spend may be absent"
        start = bucket_start(parse_time(row.get("time_dimension"), field_name="time_dimension"), self.granularity)
        groups: tuple[str | None, ...] = _groups(row.get(dimension), dimension) if dimension else (None,)
        for group in groups:
            acc = self.sums.setdefault((start, group), [0.0, 0.0])
            acc[0] += cost
            acc[1] += count

    def buckets(self) -> list[CostBucket]:
        ordered = sorted(self.sums.items(), key=lambda kv: (kv[0][0], kv[0][1] or ""))
        return [CostBucket(start=s, cost=c, group=g, count=int(n)) for (s, g), (c, n) in ordered]


def chunks(start: datetime, end: datetime, granularity: str, max_buckets: int) -> Iterator[tuple[datetime, datetime]]:
    """[start, end) cut at bucket boundaries into pieces of at most `max_buckets` buckets."""
    step = step_of(granularity)
    cursor = utc(start)
    end = utc(end)
    while cursor < end:
        stop = min(end, bucket_start(cursor, granularity) + step * max_buckets)
        yield cursor, stop
        cursor = stop


def split_point(start: datetime, end: datetime, granularity: str) -> datetime | None:
    """A bucket boundary strictly inside (start, end), near the middle; None for a single bucket."""
    step = step_of(granularity)
    first = bucket_start(start, granularity) + step
    if first >= end:
        return None
    n = math.ceil((end - first) / step)
    return first + step * (n // 2)


def aggregate_costs(
    query: CostQuery,
    fetch: MetricsFetch,
    dimensions: Mapping[str, str],
    stats: SourceStats,
    sum_rows: Callable[[CostQuery], list[CostBucket]],
    row_limit: int = ROW_LIMIT,
) -> list[CostBucket]:
    """Answer `query` with Metrics queries, splitting ranges whose answer may have been cut off.

    `fetch` sends one query object and returns its `data` rows; `sum_rows` answers a (sub)query from
    observation rows, used when a single bucket alone has more groups than one response can hold.
    """
    dimension = dimensions[query.group_by] if query.group_by else None
    sums = BucketSums(query.granularity, {})
    pending = list(chunks(query.start, query.end, query.granularity, row_limit))
    while pending:
        start, end = pending.pop(0)
        try:
            rows = fetch(build_query(query, start, end, dimension, row_limit))
        except QueryTimedOut as exc:
            mid = split_point(start, end, query.granularity)
            if mid is None:
                raise SourceError(f"{exc}; even one {query.granularity} bucket is too much for the server") from None
            pending[:0] = [(start, mid), (mid, end)]
            continue
        # Ungrouped, a chunk has at most one row per bucket, and chunks hold <= row_limit buckets:
        # a full answer is complete. Grouped, a full answer may have been cut off.
        if len(rows) < row_limit or dimension is None:
            sums.add_rows(rows, dimension, stats)
            continue
        mid = split_point(start, end, query.granularity)
        if mid is not None:
            pending[:0] = [(start, mid), (mid, end)]
            continue
        sub = CostQuery(start, end, query.granularity, query.group_by, query.filters)
        for bucket in sum_rows(sub):
            acc = sums.sums.setdefault((bucket.start, bucket.group), [0.0, 0.0])
            acc[0] += bucket.cost
            acc[1] += bucket.count
    return sums.buckets()

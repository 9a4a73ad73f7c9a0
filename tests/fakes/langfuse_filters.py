"""Filter and aggregation rules of the fake Langfuse, written from the API notes and the server source
(not from our client).

Rows here are *full* Observations v2 rows as the fake stores them (every field group present). Time
works as on the server: a bound in a request is parsed by `z.coerce.date()` (a JS Date: milliseconds)
and compared with `DateTime64(3)` columns, so both sides are whole milliseconds
(packages/shared/src/interfaces/filters.ts; packages/shared/src/server/queries/clickhouse-sql/
clickhouse-filter.ts). Metrics v2 treats `toTimestamp` as inclusive
(packages/shared/src/features/query/server/queryBuilder.ts).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any


class BadRequest(Exception):
    """The request would get a 400 from Langfuse."""


def to_ms(dt: datetime) -> datetime:
    """`dt` cut to whole milliseconds, as a JS Date and a DateTime64(3) column hold it."""
    return dt.replace(microsecond=dt.microsecond // 1000 * 1000)


def parse_ts(value: Any) -> datetime:
    """A stored row's timestamp (naive ones are UTC), cut to the millisecond."""
    if not isinstance(value, str):
        raise BadRequest(f"not a timestamp: {value!r}")
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest(f"not a timestamp: {value!r}") from None
    return to_ms(dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC))


def parse_bound(value: Any) -> datetime:
    """A time bound sent in a request. The server's zod schemas want an ISO string with an offset
    (`z.string().datetime({ offset: true })`): a naive one is a 400. Then it is cut to milliseconds."""
    if isinstance(value, str) and not (value.endswith(("Z", "z")) or "+" in value[10:] or "-" in value[10:]):
        raise BadRequest(f"timestamp without a UTC offset: {value!r}")
    return parse_ts(value)


# Filter column -> key in the stored row.
COLUMNS = {
    "id": "id",
    "type": "type",
    "name": "name",
    "traceId": "traceId",
    "startTime": "startTime",
    "endTime": "endTime",
    "environment": "environment",
    "level": "level",
    "userId": "userId",
    "sessionId": "sessionId",
    "isRootObservation": "isRootObservation",
    "traceName": "traceName",
    "tags": "tags",
    "traceTags": "tags",
    "totalCost": "totalCost",
    "model": "model",
    "providedModelName": "model",
    "metadata": "metadata",
}


def _compare(op: str, left: Any, right: Any) -> bool:
    if left is None:
        return False
    ops = {
        "=": lambda: left == right,
        ">": lambda: left > right,
        "<": lambda: left < right,
        ">=": lambda: left >= right,
        "<=": lambda: left <= right,
        "<>": lambda: left != right,
    }
    if op not in ops:
        raise BadRequest(f"operator {op!r} not valid here")
    return bool(ops[op]())


def condition_holds(row: Mapping[str, Any], cond: Any) -> bool:
    """One element of the JSON `filter` (or a Metrics `filters` entry) evaluated on a stored row."""
    if not isinstance(cond, Mapping) or cond.get("column") not in COLUMNS:
        raise BadRequest(f"invalid filter: {cond!r}")
    kind, op, value = cond.get("type"), cond.get("operator"), cond.get("value")
    actual = row.get(COLUMNS[cond["column"]])
    if kind == "datetime":
        return _compare(op, parse_ts(actual) if actual else None, parse_bound(value))
    if kind in ("string", "number", "boolean"):
        return _compare(op, actual, value)
    if kind in ("stringOptions", "categoryOptions"):
        if op not in ("any of", "none of") or not isinstance(value, list):
            raise BadRequest(f"invalid options filter: {cond!r}")
        return (actual in value) == (op == "any of")
    if kind == "arrayOptions":
        have = set(actual or [])
        if op == "any of":
            return bool(have & set(value))
        if op == "all of":
            return set(value) <= have
        if op == "none of":
            return not have & set(value)
        raise BadRequest(f"invalid array filter: {cond!r}")
    if kind == "stringObject":
        if not cond.get("key"):
            raise BadRequest("stringObject filters need a key")
        inner = (actual or {}).get(cond["key"])
        return _compare(op, None if inner is None else str(inner), value)
    if kind == "null":
        if op not in ("is null", "is not null"):
            raise BadRequest(f"invalid null filter: {cond!r}")
        return (actual is None) == (op == "is null")
    raise BadRequest(f"unknown filter type {kind!r}")


def parse_filter(text: str) -> list[Any]:
    try:
        conditions = json.loads(text)
    except ValueError:
        raise BadRequest("filter is not JSON") from None
    if not isinstance(conditions, list):
        raise BadRequest("filter must be a JSON array")
    return conditions


# Metrics (observations view): dimension field -> stored key. userId etc. are rejected by v2.
METRIC_DIMENSIONS = {
    "traceName": "traceName",
    "providedModelName": "model",
    "environment": "environment",
    "tags": "tags",
    "type": "type",
    "name": "name",
}
HIGH_CARDINALITY = {"id", "traceId", "userId", "sessionId", "parentObservationId"}


def _floor(ts: datetime, granularity: str) -> datetime:
    if granularity == "day":
        return ts.replace(hour=0, minute=0, second=0, microsecond=0)
    if granularity == "hour":
        return ts.replace(minute=0, second=0, microsecond=0)
    raise BadRequest(f"granularity {granularity!r} not supported by the fake")


def _iso(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _checked(query: Any, *, legacy: bool) -> tuple[list[str], dict[str, str], datetime, datetime, str | None, int]:
    """Validate a Metrics query object the way the server's zod schema would (the parts we use)."""
    if not isinstance(query, Mapping) or query.get("view") != "observations":
        raise BadRequest("the fake serves view=observations only")
    dims = [d.get("field") for d in query.get("dimensions") or [] if isinstance(d, Mapping)]
    allowed = {**METRIC_DIMENSIONS, **({"userId": "userId"} if legacy else {})}
    for dim in dims:
        if dim not in allowed:
            hint = " (high cardinality)" if dim in HIGH_CARDINALITY else ""
            raise BadRequest(f"dimension {dim!r} is not allowed{hint}")
    start, end = parse_bound(query.get("fromTimestamp")), parse_bound(query.get("toTimestamp"))
    if end <= start:
        raise BadRequest("toTimestamp must be after fromTimestamp")
    granularity = (query.get("timeDimension") or {}).get("granularity")
    row_limit = int((query.get("config") or {}).get("row_limit", 100))
    if not 1 <= row_limit <= 1000:
        raise BadRequest("row_limit must be within 1..1000")
    return dims, allowed, start, end, granularity, row_limit


def metrics_range(query: Any) -> tuple[datetime, datetime]:
    """The [from, to] a Metrics query reads: both ends inclusive, as the server's query builder has it."""
    return parse_bound(query.get("fromTimestamp")), parse_bound(query.get("toTimestamp"))


def run_metrics(rows: list[Mapping[str, Any]], query: Any, *, legacy: bool) -> list[dict[str, Any]]:
    """Evaluate a Metrics query object (sum totalCost / count count) over stored rows.

    `count_count` comes back as a string (ClickHouse UInt64 is serialised as a JSON string), the cost
    as a number."""
    dims, allowed, start, end, granularity, row_limit = _checked(query, legacy=legacy)
    groups: dict[tuple[Any, ...], list[float]] = {}
    for row in rows:
        ts = parse_ts(row["startTime"])
        if not (start <= ts <= end) or not all(condition_holds(row, f) for f in query.get("filters") or []):
            continue
        key = (
            _floor(ts, granularity) if granularity else None,
            *(json.dumps(row.get(allowed[d])) for d in dims),
        )
        acc = groups.setdefault(key, [0.0, 0])
        acc[0] += float(row.get("totalCost") or 0)
        acc[1] += 1
    if granularity and not dims:
        # ClickHouse WITH FILL: empty buckets come back as zero rows (up to the inclusive end).
        step = timedelta(days=1) if granularity == "day" else timedelta(hours=1)
        cursor = _floor(start, granularity)
        while cursor <= end:
            groups.setdefault((cursor,), [0.0, 0])
            cursor += step
    out = []
    for key in sorted(groups, key=lambda k: (k[0] or datetime.min.replace(tzinfo=UTC), *k[1:])):
        cost, count = groups[key]
        item: dict[str, Any] = {d: json.loads(v) for d, v in zip(dims, key[1:], strict=True)}
        if granularity:
            item["time_dimension"] = _iso(key[0])
        item["sum_totalCost"] = cost
        item["count_count"] = str(int(count))
        out.append(item)
    return out[:row_limit]

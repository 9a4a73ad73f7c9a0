"""How the fake Langfuse evaluates filters and Metrics queries, written from the API notes and the server
source (not from our client). Which filters it accepts at all is langfuse_filter_rules.py's job.

Rows here are *full* Observations v2 rows as the fake stores them (every field group present). Time
works as on the server: a bound in a request is parsed by `z.coerce.date()` (a JS Date: milliseconds)
and compared with `DateTime64(3)` columns, so both sides are whole milliseconds
(packages/shared/src/interfaces/filters.ts; packages/shared/src/server/queries/clickhouse-sql/
clickhouse-filter.ts). Metrics v2 treats `toTimestamp` as inclusive
(packages/shared/src/features/query/server/queryBuilder.ts).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.fakes.langfuse_filter_rules import (
    BadRequest,
    InvalidRequest,
    MetricsView,
    NotServedByFake,
    check_dimensions,
    check_filter_list,
    metrics_column,
    metrics_view,
    observation_column,
)


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


# Observations v2 filter column -> key in the stored row: the columns the fake can evaluate. Each is a
# column the server filters on (tests/sources/test_filter_fidelity.py checks that).
ROW_KEYS = {
    **{c: c for c in ("id", "type", "name", "traceId", "startTime", "endTime", "environment", "level")},
    **{c: c for c in ("statusMessage", "version", "userId", "sessionId", "parentObservationId", "traceName")},
    **{c: c for c in ("isRootObservation", "tags", "totalCost", "model", "metadata")},
    "traceTags": "tags",
    "providedModelName": "model",
}
# Metrics observations-view dimension (or time dimension) -> key in the stored row.
METRIC_ROW_KEYS = {
    **{d: d for d in ("id", "traceId", "environment", "parentObservationId", "isRootObservation", "type")},
    **{d: d for d in ("name", "level", "version", "userId", "sessionId", "tags", "release", "traceName")},
    "providedModelName": "model",
    "start_time": "startTime",
    "metadata": "metadata",
}

Row = Mapping[str, Any]
Predicate = Callable[[Row], bool]

_STRING_OPS: dict[str, Callable[[str, str], bool]] = {
    "=": lambda a, v: a == v,
    "contains": lambda a, v: v in a,
    "does not contain": lambda a, v: v not in a,
    "starts with": lambda a, v: a.startswith(v),
    "ends with": lambda a, v: a.endswith(v),
}
_ORDER_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "=": lambda a, v: a == v,
    "<>": lambda a, v: a != v,
    ">": lambda a, v: a > v,
    "<": lambda a, v: a < v,
    ">=": lambda a, v: a >= v,
    "<=": lambda a, v: a <= v,
}


def _holds(cond: Mapping[str, Any], actual: Any) -> bool:
    """A checked filter (check_single_filter) evaluated on the stored value it reads."""
    kind, op, value = cond["type"], cond["operator"], cond["value"]
    if kind == "null":
        return (actual in (None, "")) == (op == "is null")
    if kind == "stringObject":
        inner = actual.get(cond["key"]) if isinstance(actual, Mapping) else None
        return inner is not None and _STRING_OPS[op](str(inner), value)
    if actual is None:
        return kind == "stringOptions" and op == "none of"
    if kind == "string":
        return _STRING_OPS[op](str(actual), value)
    if kind in ("number", "boolean"):
        return bool(_ORDER_OPS[op](actual, value))
    if kind == "datetime":
        return bool(_ORDER_OPS[op](parse_ts(actual), parse_ts(value)))
    if kind == "stringOptions":
        return (actual in value) == (op == "any of")
    if kind == "arrayOptions":
        have, wanted = set(actual or []), set(value)
        return {"any of": bool(have & wanted), "all of": wanted <= have, "none of": not have & wanted}[op]
    raise NotServedByFake(f"the fake does not evaluate {kind} filters")


def _reading(cond: Mapping[str, Any], key: str | None, column: str) -> Predicate:
    if key is None:
        raise NotServedByFake(f"the fake does not evaluate filters on {column!r}")
    if cond["type"] in ("numberObject", "categoryOptions", "positionInTrace"):
        raise NotServedByFake(f"the fake does not evaluate {cond['type']} filters")
    return lambda row: _holds(cond, row.get(key))


def parse_filter(text: str) -> list[Mapping[str, Any]]:
    """The Observations v2 JSON `filter`, every condition checked as the server checks it (schema,
    then column): one refused condition fails the whole request, before any row is read."""
    try:
        conditions = json.loads(text)
    except ValueError:
        raise InvalidRequest("Invalid JSON in filter parameter") from None
    checked = check_filter_list(conditions)
    for cond in checked:
        column = observation_column(cond)
        _reading(cond, ROW_KEYS.get(column), column)
    return checked


def condition_holds(row: Row, cond: Mapping[str, Any]) -> bool:
    """One condition of a list parse_filter accepted, evaluated on a stored row."""
    return _holds(cond, row.get(ROW_KEYS[observation_column(cond)]))


def metrics_predicate(filters: Any, view: MetricsView, row_keys: Mapping[str, str]) -> Predicate:
    """A Metrics query's `filters` as one test on a stored row (`row_keys`: what each dimension reads)."""
    checked = check_filter_list([] if filters is None else filters)
    targets = [metrics_column(c, view) for c in checked]
    tests = [_reading(c, row_keys.get(t), t) for c, t in zip(checked, targets, strict=True)]
    return lambda row: all(test(row) for test in tests)


def _floor(ts: datetime, granularity: str) -> datetime:
    if granularity == "day":
        return ts.replace(hour=0, minute=0, second=0, microsecond=0)
    if granularity == "hour":
        return ts.replace(minute=0, second=0, microsecond=0)
    raise BadRequest(f"granularity {granularity!r} not supported by the fake")


def _iso(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _checked(query: Any, *, legacy: bool) -> tuple[list[str], Predicate, datetime, datetime, str | None, int]:
    """Validate a Metrics query object the way the server would (the parts we use): its dimensions
    and filters against the observations view of the API version asked."""
    if not isinstance(query, Mapping) or query.get("view") != "observations":
        raise BadRequest("the fake serves view=observations only")
    view = metrics_view("observations", view_version(legacy))
    dims = [d.get("field") for d in query.get("dimensions") or [] if isinstance(d, Mapping)]
    check_dimensions(dims, view, query, view_version(legacy))
    for dim in dims:
        if dim not in METRIC_ROW_KEYS:
            raise NotServedByFake(f"the fake does not group by {dim!r}")
    keep = metrics_predicate(query.get("filters"), view, METRIC_ROW_KEYS)
    start, end = parse_bound(query.get("fromTimestamp")), parse_bound(query.get("toTimestamp"))
    if end <= start:
        raise BadRequest("toTimestamp must be after fromTimestamp")
    granularity = (query.get("timeDimension") or {}).get("granularity")
    row_limit = int((query.get("config") or {}).get("row_limit", 100))
    if not 1 <= row_limit <= 1000:
        raise BadRequest("row_limit must be within 1..1000")
    return dims, keep, start, end, granularity, row_limit


def view_version(legacy: bool) -> str:
    return "v1" if legacy else "v2"


def metrics_range(query: Any) -> tuple[datetime, datetime]:
    """The [from, to] a Metrics query reads: both ends inclusive, as the server's query builder has it."""
    return parse_bound(query.get("fromTimestamp")), parse_bound(query.get("toTimestamp"))


def run_metrics(rows: list[Mapping[str, Any]], query: Any, *, legacy: bool) -> list[dict[str, Any]]:
    """Evaluate a Metrics query object (sum totalCost / count count) over stored rows.

    `count_count` comes back as a string (ClickHouse UInt64 is serialised as a JSON string), the cost
    as a number."""
    dims, keep, start, end, granularity, row_limit = _checked(query, legacy=legacy)
    groups: dict[tuple[Any, ...], list[float]] = {}
    for row in rows:
        ts = parse_ts(row["startTime"])
        if not (start <= ts <= end) or not keep(row):
            continue
        key = (
            _floor(ts, granularity) if granularity else None,
            *(json.dumps(row.get(METRIC_ROW_KEYS[d])) for d in dims),
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

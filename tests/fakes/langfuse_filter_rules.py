"""Which filters the fake Langfuse accepts, refusing what the server refuses with the server's 400.

The lists (operators per filter type, the columns Observations v2 filters on, each Metrics view's
dimensions) live in langfuse_filter_rules.json, copied from the server source; that file names the
server file and commit of each list, and tests/sources/test_filter_fidelity.py pins them.

Two kinds of 400, as on the server (web/src/features/public-api/server/withMiddlewares.ts):
- `BadRequest`: the request failed its zod schema (`singleFilter` for every filter): body
  `{"message": "Invalid request data", "error": [issues]}`.
- `InvalidRequest`: it parsed, but the query builder refused it (an unknown column, a filter type the
  column does not take): the server's InvalidRequestError, body `{"message": ..., "error": "InvalidRequestError"}`.
A filter the server would accept but the fake cannot evaluate raises `NotServedByFake` (a 501), so a test
never passes on a filter the fake silently ignored.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

RULES: dict[str, Any] = json.loads((Path(__file__).with_name("langfuse_filter_rules.json")).read_text())


def _lists(section: Mapping[str, Any]) -> dict[str, tuple[str, ...]]:
    return {k: tuple(v) for k, v in section.items() if not k.startswith("_")}


OPERATORS = _lists(RULES["filter_operators"])
COMPATIBLE = _lists(RULES["compatible_filter_types"])
OBSERVATION_COLUMNS: dict[str, dict[str, str | None]] = {
    k: v for k, v in RULES["observations_v2_columns"].items() if not k.startswith("_")
}
# findUiColumnMapping matches a column by its id or by its name.
_COLUMN_IDS = {
    **{c["name"]: cid for cid, c in OBSERVATION_COLUMNS.items()},
    **{cid: cid for cid in OBSERVATION_COLUMNS},
}
KEYED_TYPES = ("stringObject", "numberObject", "categoryOptions")  # their zod schema requires a `key`


class BadRequest(Exception):
    """The request would fail the server's zod schema: a 400 "Invalid request data"."""


class InvalidRequest(BadRequest):
    """The server's query builder would refuse it: a 400 whose `error` is "InvalidRequestError"."""


class NotServedByFake(Exception):
    """The server would accept this, but the fake cannot evaluate it (a 501 from the fake)."""


@dataclass(frozen=True)
class MetricsView:
    """One Metrics view of one API version, as the server's dataModel.ts declares it."""

    name: str
    time_dimension: str
    dimensions: Mapping[str, str]  # dimension -> its declared type
    high_cardinality: frozenset[str]
    trace_joined: frozenset[str]  # score views: dimensions read through a join with the trace


def metrics_view(view: Any, version: str) -> MetricsView:
    declared = RULES["metrics_views"][version]
    if view not in declared:
        raise BadRequest(f"view must be one of {sorted(declared)}")
    spec = declared[view]
    return MetricsView(
        view,
        spec["time_dimension"],
        spec["dimensions"],
        frozenset(spec.get("high_cardinality", ())),
        frozenset(spec.get("trace_joined", ())),
    )


def _is_time(value: Any) -> bool:
    # z.coerce.date(): anything `new Date(...)` reads. The fake takes ISO strings (a naive one is UTC).
    if not isinstance(value, str):
        return False
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return False
    return True


def _value_fits(kind: str, operator: str, value: Any) -> bool:
    strings = isinstance(value, list) and all(isinstance(v, str) for v in value)
    if kind in ("string", "stringObject"):
        return isinstance(value, str)
    if kind in ("number", "numberObject"):
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "datetime":
        return _is_time(value)
    if kind == "stringOptions":
        return strings and len(value) > 0  # the schema refines away an empty list
    if kind == "arrayOptions":
        return strings and (len(value) > 0 or operator == "all of")
    if kind == "categoryOptions":
        return strings
    if kind == "null":
        return value == ""
    return kind == "positionInTrace"


def check_single_filter(cond: Any) -> Mapping[str, Any]:
    """`cond` checked against the server's `singleFilter` (packages/shared/src/interfaces/filters.ts)."""
    if not isinstance(cond, Mapping) or not isinstance(cond.get("column"), str):
        raise BadRequest(f"a filter needs a string column: {cond!r}")
    kind, operator = cond.get("type"), cond.get("operator")
    if kind not in OPERATORS:
        raise BadRequest(f"filter type must be one of {sorted(OPERATORS)}, not {kind!r}")
    if operator not in OPERATORS[kind]:
        raise BadRequest(f"operator of a {kind} filter must be one of {list(OPERATORS[kind])}, not {operator!r}")
    if kind in KEYED_TYPES and not isinstance(cond.get("key"), str):
        raise BadRequest(f"a {kind} filter needs a string key")
    if not _value_fits(kind, operator, cond.get("value")):
        raise BadRequest(f"invalid value for a {kind} filter with {operator!r}: {cond.get('value')!r}")
    return cond


def check_filter_list(conditions: Any) -> list[Mapping[str, Any]]:
    if not isinstance(conditions, list):
        raise BadRequest("filter must be a JSON array")
    return [check_single_filter(c) for c in conditions]


def observation_column(cond: Mapping[str, Any]) -> str:
    """The Observations v2 column id a (checked) filter reads, matched by id or by name like the server's
    findUiColumnMapping; an unknown column or a filter type the column does not take is refused."""
    column = cond["column"]
    found = _COLUMN_IDS.get(column)
    if found is None:
        raise InvalidRequest(f"Column {column} does not match a UI / CH table mapping.")
    declared = OBSERVATION_COLUMNS[found]["type"]
    allowed = COMPATIBLE.get(declared or "")
    if allowed is not None and cond["type"] != "null" and cond["type"] not in allowed:
        raise InvalidRequest(
            f"Invalid filter type '{cond['type']}' for column '{column}'. Expected filter type '{declared}'."
        )
    return found


def metrics_column(cond: Mapping[str, Any], view: MetricsView) -> str:
    """What a (checked) Metrics filter reads: a dimension, the view's time dimension or "metadata",
    as the server's queryBuilder.mapFilters resolves it. A column ending in "Name" that the view does
    not declare reads the `name` dimension: the server's silent fallback."""
    column, kind = cond["column"], cond["type"]
    if column in view.dimensions:
        if view.dimensions[column] == "string[]" and kind == "string":
            raise InvalidRequest(f"Invalid filter for field '{column}': Array fields require type 'arrayOptions'")
        return column
    if column == view.time_dimension:
        return column
    if column == "metadata":
        if kind != "stringObject":
            raise InvalidRequest("Invalid filter for field 'metadata': Metadata filters require type 'stringObject'")
        return column
    if column.endswith("Name"):
        return "name"
    raise InvalidRequest(
        f"Invalid filter column {column}. Must be one of {','.join(view.dimensions)} or {view.time_dimension}"
    )


def check_dimensions(dims: list[Any], view: MetricsView, query: Mapping[str, Any], version: str) -> None:
    """Grouping fields: declared dimensions only; on v2 a high-cardinality one needs no time dimension,
    a row_limit and a descending orderBy (packages/shared/src/features/query/validateQuery.ts)."""
    for dim in dims:
        if dim not in view.dimensions:
            raise InvalidRequest(f"Invalid dimension {dim}. Must be one of {','.join(view.dimensions)}")
    high = [d for d in dims if d in view.high_cardinality] if version == "v2" else []
    if not high:
        return
    if query.get("timeDimension"):
        raise InvalidRequest(f"High cardinality dimension(s) '{', '.join(high)}' cannot be used with timeDimension.")
    descending = [o for o in query.get("orderBy") or [] if isinstance(o, Mapping) and o.get("direction") == "desc"]
    if (query.get("config") or {}).get("row_limit") is None or not descending:
        raise InvalidRequest(
            f"High cardinality dimension(s) '{', '.join(high)}' require both 'config.row_limit' and 'orderBy' "
            "with direction 'desc' on a measure field."
        )

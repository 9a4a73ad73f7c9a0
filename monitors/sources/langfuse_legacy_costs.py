"""Cost aggregates on legacy Langfuse servers: Metrics v1, then /metrics/daily, then summed rows.

Metrics v1 (`GET /api/public/metrics?query=`) takes the same query object as v2 and may also group by
user. Where it is missing (404) a day-granular query on whole UTC days can use `/metrics/daily`
(total and per-model cost per day). Anything else is summed from observation rows.

Spec: GET /api/public/metrics (legacyMetricsResponse). /metrics/daily left the spec in May 2025 but is
still served: {data: [{date, countObservations, totalCost, usage: [{model, totalCost, ...}]}], meta}.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from monitors.contracts.errors import SourceError
from monitors.contracts.findings import utc
from monitors.contracts.records import CostBucket, MalformedRecord, parse_time
from monitors.contracts.source import CostQuery, SourceStats
from monitors.sources.http import EndpointMissing, HttpSession
from monitors.sources.langfuse_metrics import V1_DIMENSIONS, BucketSums, _number, aggregate_costs, can_aggregate
from monitors.sources.replay import bucket_start

log = logging.getLogger(__name__)

METRICS_V1_PATH = "/api/public/metrics"
DAILY_PATH = "/api/public/metrics/daily"
DAILY_FILTERS = {"traceName": "traceName", "user": "userId", "tags": "tags", "environment": "environment"}
DAILY_PAGE_LIMIT = 100


def daily_can_answer(query: CostQuery) -> bool:
    """/metrics/daily answers whole UTC days, in total or per model, with a few simple filters."""
    if query.granularity != "day" or query.group_by not in (None, "model"):
        return False
    if any(bucket_start(t, "day") != utc(t) for t in (query.start, query.end)):
        return False
    dims = [f.dimension for f in query.filters]
    scalar = [d for d in dims if d != "tags"]
    return all(d in DAILY_FILTERS for d in dims) and len(scalar) == len(set(scalar))


class LegacyCosts:
    """Remembers which legacy metrics routes the server lacks, so a run asks each at most once."""

    def __init__(self, session: HttpSession) -> None:
        self.session = session
        self.stats: SourceStats = session.stats
        self.v1_missing = False
        self.daily_missing = False

    def costs(self, query: CostQuery, sum_rows: Callable[[CostQuery], list[CostBucket]]) -> list[CostBucket]:
        if not self.v1_missing and can_aggregate(query, V1_DIMENSIONS):
            try:
                return aggregate_costs(query, self._fetch_v1, V1_DIMENSIONS, self.stats, sum_rows)
            except EndpointMissing:
                self.v1_missing = True
                log.info("Langfuse has no Metrics v1 route; using daily metrics or summing observations")
        if not self.daily_missing and daily_can_answer(query):
            try:
                return self._daily(query)
            except EndpointMissing:
                self.daily_missing = True
        return sum_rows(query)

    def _fetch_v1(self, query_object: dict[str, Any]) -> list[Any]:
        body = self.session.get_json(METRICS_V1_PATH, {"query": query_object})
        if not isinstance(body, Mapping) or not isinstance(body.get("data"), list):
            raise SourceError(f"Langfuse GET {METRICS_V1_PATH}: response has no data list")
        return body["data"]

    def _daily(self, query: CostQuery) -> list[CostBucket]:
        params: dict[str, Any] = {
            "fromTimestamp": utc(query.start).isoformat().replace("+00:00", "Z"),
            "toTimestamp": utc(query.end).isoformat().replace("+00:00", "Z"),
            "limit": DAILY_PAGE_LIMIT,
        }
        tags = [f.value for f in query.filters if f.dimension == "tags"]
        for flt in query.filters:
            if flt.dimension != "tags":
                params[DAILY_FILTERS[flt.dimension]] = flt.value
        if tags:
            params["tags"] = tags
        sums = BucketSums("day", {})
        page = 1
        while True:
            body = self.session.get_json(DAILY_PATH, {**params, "page": page})
            if not isinstance(body, Mapping) or not isinstance(body.get("data"), list):
                raise SourceError(f"Langfuse GET {DAILY_PATH}: response has no data list")
            for day in body["data"]:
                self._add_day(sums, day, query)
            meta = body.get("meta") if isinstance(body.get("meta"), Mapping) else {}
            total_pages = meta.get("totalPages") if isinstance(meta, Mapping) else None
            if not body["data"] or not isinstance(total_pages, int) or page >= total_pages:
                return sums.buckets()
            page += 1

    def _add_day(self, sums: BucketSums, day: Any, query: CostQuery) -> None:
        try:
            if not isinstance(day, Mapping):
                raise MalformedRecord("daily row is not an object")
            start: datetime = bucket_start(parse_time(f"{day.get('date')}T00:00:00Z", field_name="date"), "day")
            if not (utc(query.start) <= start < utc(query.end)):
                return
            entries: list[tuple[str | None, Any, Any]]
            if query.group_by == "model":
                usage = day.get("usage") if isinstance(day.get("usage"), list) else []
                entries = [
                    (str(u.get("model") or ""), u.get("totalCost"), u.get("countObservations"))
                    for u in usage
                    if isinstance(u, Mapping)
                ]
            else:
                entries = [(None, day.get("totalCost"), day.get("countObservations"))]
            for group, cost, count in entries:
                cost_f, count_f = _number(cost, "totalCost"), _number(count, "countObservations")
                if cost_f == 0 and count_f <= 0:
                    continue  # an empty day: buckets with no spend are absent, as elsewhere
                acc = sums.sums.setdefault((start, group), [0.0, 0.0])
                acc[0] += cost_f
                acc[1] += count_f
        except MalformedRecord as exc:
            self.stats.count_malformed(f"daily metrics row: {exc}")

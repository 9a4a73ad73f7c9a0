"""Cost aggregates on legacy Langfuse servers: Metrics v1, else summed observation rows.

Metrics v1 (`GET /api/public/metrics?query=`) takes the same query object as v2 and may also group by
user. Where it is missing (404) the costs are summed from observation rows.

`/metrics/daily` is not used, though older servers still serve it: it selects and dates rows by their
TRACE's timestamp (web/src/pages/api/public/metrics/daily.ts), so an observation of a trace that began
the day before lands on the wrong day, and its budget is 10 requests a day on Cloud Hobby.

Spec: GET /api/public/metrics (legacyMetricsResponse).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from monitors.contracts.errors import SourceError
from monitors.contracts.records import CostBucket
from monitors.contracts.source import CostQuery, SourceStats
from monitors.sources.http import EndpointMissing, HttpSession
from monitors.sources.langfuse_metrics import V1_DIMENSIONS, aggregate_costs, can_aggregate

log = logging.getLogger(__name__)

METRICS_V1_PATH = "/api/public/metrics"


class LegacyCosts:
    """Remembers that the server lacks Metrics v1, so a run asks for it at most once."""

    def __init__(self, session: HttpSession) -> None:
        self.session = session
        self.stats: SourceStats = session.stats
        self.v1_missing = False

    def costs(self, query: CostQuery, sum_rows: Callable[[CostQuery], list[CostBucket]]) -> list[CostBucket]:
        if not self.v1_missing and can_aggregate(query, V1_DIMENSIONS):
            try:
                return aggregate_costs(query, self._fetch_v1, V1_DIMENSIONS, self.stats, sum_rows)
            except EndpointMissing:
                self.v1_missing = True
                log.info("Langfuse has no Metrics v1 route; summing observation rows")
        return sum_rows(query)

    def _fetch_v1(self, query_object: dict[str, Any]) -> list[Any]:
        body = self.session.get_json(METRICS_V1_PATH, {"query": query_object})
        if not isinstance(body, Mapping) or not isinstance(body.get("data"), list):
            raise SourceError(f"Langfuse GET {METRICS_V1_PATH}: response has no data list")
        return body["data"]

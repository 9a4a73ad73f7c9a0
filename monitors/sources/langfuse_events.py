"""Evaluation scores from Langfuse: Scores v3 rows, per-agent counts from the Metrics score views.

Setup: the same project key pair as every other read (Project settings > API keys).

- `read_scores` asks `GET /api/public/v3/scores` for one evaluator (score name), with the failing
  condition pushed to the server (`valueMax` for "numeric below", `value` for boolean false or a set of
  categories), so a run reads the failures, not every score. v3 rows name their trace but not the
  trace's name (the agent); the names of those traces come from one Observations v2 read of their root
  observations (`traceId any of`), 100 traces per request.
- `score_counts` is one Metrics v2 query per score view (`scores-numeric` holds numeric and boolean
  scores, `scores-categorical` the rest), grouped by score name and trace name: the denominators of
  the failure shares, at a cost that does not grow with trace volume. Its range reaches a day back,
  for the trace-name join, and a filter on the score's own time keeps the window (`_count_query`).
- On a server without these routes (404) the legacy reads are used: `GET /api/public/v2/scores`
  (paged, `operator`/`value` for numeric), Metrics v1 for the counts, `GET /api/public/traces/{id}` for
  trace names.

Spec: reference/langfuse-openapi.yml (`scoresV3_getManyV3`, `GetScoresV3Response`, `metricsV2_metrics`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import replace
from datetime import timedelta
from typing import Any
from urllib.parse import quote

from monitors.contracts.errors import SourceError
from monitors.contracts.findings import RunWindow
from monitors.contracts.records import MalformedRecord, Observation
from monitors.contracts.scores import ScoreCount, ScoreRecord, parse_score
from monitors.contracts.source import ObservationQuery, ScoreCountQuery, ScoreQuery
from monitors.sources.http import EndpointMissing, HttpSession
from monitors.sources.langfuse_metrics import _number
from monitors.sources.langfuse_v2 import _iso
from monitors.sources.replay import score_matches

log = logging.getLogger(__name__)

V3_SCORES_PATH = "/api/public/v3/scores"
LEGACY_SCORES_PATH = "/api/public/v2/scores"
METRICS_V2_PATH = "/api/public/v2/metrics"
METRICS_V1_PATH = "/api/public/metrics"
TRACES_PATH = "/api/public/traces"
PAGE_LIMIT = 100  # both score routes reject limit > 100
TRACE_BATCH = 100  # trace ids per Observations v2 lookup (keeps the filter in a URL's length)
TRACE_LOOKBACK = timedelta(days=1)  # a scored trace starts before its score
LEGACY_TRACE_LOOKUPS = 50  # per run; beyond this, failing scores of older servers show "unknown agent"

ObservationReader = Callable[[ObservationQuery], Iterable[Observation]]


class ScoreReads:
    """Score reads for LangfuseSource; `legacy` says whether the v2/v3 routes are known to be missing."""

    def __init__(self, session: HttpSession, observations: ObservationReader) -> None:
        self.session = session
        self.stats = session.stats
        self.observations = observations
        self.legacy = False
        self.trace_names: dict[str, str | None] = {}
        self._legacy_lookups = 0

    def __repr__(self) -> str:
        return f"ScoreReads(host={self.session.host!r}, legacy={self.legacy})"

    # -- failing scores ----------------------------------------------------------------------------
    def read_scores(self, query: ScoreQuery) -> Iterator[ScoreRecord]:
        rows: list[Any] = []
        if not self.legacy:
            try:
                rows = list(self._v3_rows(query))
            except EndpointMissing:
                self.legacy = True
                log.info("Langfuse has no Scores v3 route (404); reading scores from the legacy route")
        if self.legacy:
            rows = list(self._legacy_rows(query))
        scores = [s for s in (self._parse(r) for r in rows) if s is not None and score_matches(s, query)]
        self._name_traces({s.trace_id for s in scores if s.trace_id and not s.trace_name}, query.window)
        for score in scores:
            if score.trace_name is None and score.trace_id:
                score = replace(score, trace_name=self.trace_names.get(score.trace_id))
            yield score

    def _v3_rows(self, query: ScoreQuery) -> Iterator[Any]:
        params: dict[str, Any] = {
            "limit": PAGE_LIMIT,
            "fields": "details,subject",
            "name": query.name,
            "dataType": query.data_type,
            "fromTimestamp": _iso(query.window.start),
            "toTimestamp": _iso(query.window.end),
        }
        if query.value_below is not None:
            params["valueMax"] = query.value_below  # inclusive: "strictly below" is re-checked here
        elif query.values and not any("," in v for v in query.values):
            params["value"] = ",".join(query.values)  # a category with a comma is filtered here only
        seen: set[str] = set()
        cursor: str | None = None
        while True:
            body = self.session.get_json(V3_SCORES_PATH, {**params, "cursor": cursor})
            if not isinstance(body, Mapping) or not isinstance(body.get("data"), list):
                raise SourceError(f"Langfuse GET {V3_SCORES_PATH}: response is not a page of scores")
            yield from body["data"]
            meta = body.get("meta")
            cursor = meta.get("cursor") if isinstance(meta, Mapping) else None
            if not isinstance(cursor, str) or not cursor:
                return
            if cursor in seen:
                raise SourceError(f"Langfuse GET {V3_SCORES_PATH}: the server repeated a cursor; stopping")
            seen.add(cursor)

    def _legacy_rows(self, query: ScoreQuery) -> Iterator[Any]:
        params: dict[str, Any] = {
            "limit": PAGE_LIMIT,
            "name": query.name,
            "dataType": query.data_type,
            "fromTimestamp": _iso(query.window.start),
            "toTimestamp": _iso(query.window.end),
        }
        if query.value_below is not None:
            params.update(operator="<", value=query.value_below)
        elif query.data_type == "BOOLEAN" and query.values == ("false",):
            params.update(operator="=", value=0)
        page = 1
        while True:
            body = self.session.get_json(LEGACY_SCORES_PATH, {**params, "page": page})
            if not isinstance(body, Mapping) or not isinstance(body.get("data"), list):
                raise SourceError(f"Langfuse GET {LEGACY_SCORES_PATH}: response is not a page of scores")
            yield from body["data"]
            meta = body.get("meta")
            total = meta.get("totalPages") if isinstance(meta, Mapping) else None
            done = page >= total if isinstance(total, int) else len(body["data"]) < PAGE_LIMIT
            if done or not body["data"]:
                return
            page += 1

    def _parse(self, row: Any) -> ScoreRecord | None:
        try:
            return parse_score(row)
        except MalformedRecord as exc:
            self.stats.count_malformed(f"score: {exc}")
            return None

    # -- which agent a trace belongs to ------------------------------------------------------------
    def _name_traces(self, trace_ids: set[str], window: RunWindow) -> None:
        missing = sorted(trace_ids - self.trace_names.keys())
        if not missing:
            return
        if not self.legacy:
            lookup = RunWindow(window.start - TRACE_LOOKBACK, window.end)
            for i in range(0, len(missing), TRACE_BATCH):
                batch = tuple(missing[i : i + TRACE_BATCH])
                query = ObservationQuery(
                    lookup, fields=frozenset({"core", "trace_context"}), root_only=True, trace_ids=batch
                )
                for obs in self.observations(query):
                    self.trace_names[obs.trace_id] = obs.trace_name
        for trace_id in missing:
            if trace_id in self.trace_names:
                continue
            self.trace_names[trace_id] = self._legacy_trace_name(trace_id) if self.legacy else None

    def _legacy_trace_name(self, trace_id: str) -> str | None:
        if self._legacy_lookups >= LEGACY_TRACE_LOOKUPS:
            return None
        self._legacy_lookups += 1
        try:
            trace = self.session.get_json(f"{TRACES_PATH}/{quote(trace_id, safe='')}", {"fields": "core"})
        except EndpointMissing:
            return None  # deleted, or not ingested yet
        name = trace.get("name") if isinstance(trace, Mapping) else None
        return str(name) if name else None

    # -- denominators ------------------------------------------------------------------------------
    def score_counts(self, query: ScoreCountQuery) -> list[ScoreCount]:
        if not query.names:
            return []  # nothing to count, and the server refuses an empty `any of` list (400)
        views = ["scores-numeric", *(["scores-categorical"] if query.categorical else [])]
        counts: dict[tuple[str, str], int] = {}
        for view in views:
            for row in self._metrics(_count_query(view, query)):
                try:
                    name = row.get("name") if isinstance(row, Mapping) else None
                    if not isinstance(name, str) or name not in query.names:
                        raise MalformedRecord(f"name: not one of the evaluators asked for: {name!r}")
                    agent = row.get("traceName") or ""
                    key = (name, str(agent))
                    counts[key] = counts.get(key, 0) + int(_number(row.get("count_count"), "count_count"))
                except MalformedRecord as exc:
                    self.stats.count_malformed(f"score metrics row: {exc}")
        return [ScoreCount(name, agent, n) for (name, agent), n in sorted(counts.items()) if n > 0]

    def _metrics(self, query_object: dict[str, Any]) -> list[Any]:
        path = METRICS_V1_PATH if self.legacy else METRICS_V2_PATH
        try:
            body = self.session.get_json(path, {"query": json.dumps(query_object)})
        except EndpointMissing:
            if self.legacy:
                raise
            self.legacy = True
            log.info("Langfuse has no Metrics v2 route (404); counting scores with Metrics v1")
            body = self.session.get_json(METRICS_V1_PATH, {"query": json.dumps(query_object)})
        if not isinstance(body, Mapping) or not isinstance(body.get("data"), list):
            raise SourceError(f"Langfuse GET {path}: response is not a metrics result")
        return body["data"]


def _count_query(view: str, query: ScoreCountQuery) -> dict[str, Any]:
    """Scores per (name, trace name) whose own timestamp is in [start, end).

    The server reads `traceName` through a join with the trace, and that join keeps only traces that
    also started within [fromTimestamp, toTimestamp] (queryBuilder.ts, buildJoins). With the window as
    the range, a score of a trace started before the window (the hour before, on an hourly run) would
    not be counted, and the failure share would look higher than it is. So the range reaches back
    TRACE_LOOKBACK for the trace, and the score's own time (the view's `timestamp`) keeps the window,
    end excluded: `toTimestamp` is inclusive, and a score at the edge would count in two windows.
    """
    window = query.window
    return {
        "view": view,
        "dimensions": [{"field": "name"}, {"field": "traceName"}],
        "metrics": [{"measure": "count", "aggregation": "count"}],
        "filters": [
            {"column": "name", "operator": "any of", "value": sorted(query.names), "type": "stringOptions"},
            {"column": "timestamp", "operator": ">=", "value": _iso(window.start), "type": "datetime"},
            {"column": "timestamp", "operator": "<", "value": _iso(window.end), "type": "datetime"},
        ],
        "fromTimestamp": _iso(window.start - TRACE_LOOKBACK),
        "toTimestamp": _iso(window.end),
        "config": {"row_limit": 1000},
    }

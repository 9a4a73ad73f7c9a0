"""The Langfuse trace source: observations, cost aggregates, deep links and score write-back.

Setup:
  1. In Langfuse, open Project settings > API keys and create a key pair (pk-lf-..., sk-lf-...).
  2. Put them in the environment (LANGFUSE_PUBLIC_KEY, LANGFUSE_SECRET_KEY) and the host
     (e.g. https://cloud.langfuse.com) in monitors.yaml; the config layer passes them here as str.

It speaks Observations v2 and Metrics v2 (langfuse_v2.py) and falls back, once per source instance,
to the legacy reads of older self-hosted servers (langfuse_legacy.py) when a v2 route answers 404.
Every request is counted in `stats`; retries honour Retry-After (http.py). The keys never appear in
logs, errors or this object's repr. docs/langfuse-api.md lists what we rely on in the server.

When the Metrics v2 budget is spent (429 with a Retry-After longer than the retry policy waits),
`costs` raises BudgetSpent at once and keeps raising it, without a request, until that time: callers
fall back to observation rows or what they already know.

Docs: https://langfuse.com/docs/api-and-data-platform/features/public-api
Spec: https://cloud.langfuse.com/generated/api/openapi.yml (copy in reference/langfuse-openapi.yml)
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from typing import Literal
from urllib.parse import quote

import httpx

from monitors.contracts.errors import BudgetSpent, SourceError
from monitors.contracts.findings import RunWindow
from monitors.contracts.records import CostBucket, Observation
from monitors.contracts.scores import ScoreCount, ScoreRecord
from monitors.contracts.source import (
    CostQuery,
    ObservationQuery,
    Score,
    ScoreCountQuery,
    ScoreQuery,
    ScoresWritten,
    SourceStats,
)
from monitors.sources.http import EndpointMissing, HttpSession
from monitors.sources.langfuse_events import ScoreReads
from monitors.sources.langfuse_legacy import LegacyReader
from monitors.sources.langfuse_score_writes import SCORES_PATH, ScoreWriter
from monitors.sources.langfuse_v2 import MAX_PAGES, V2Reader
from monitors.sources.replay import CostAccumulator
from monitors.support.links import langfuse_trace_url
from monitors.support.ratelimit import MinuteLimiter
from monitors.support.retry import RetryPolicy

log = logging.getLogger(__name__)

ApiMode = Literal["auto", "v2", "legacy"]
ROW_FIELDS = frozenset({"core", "basic", "usage", "model", "trace_context"})


class LangfuseSource:
    """A TraceSource reading one Langfuse project."""

    def __init__(
        self,
        host: str,
        public_key: str,
        secret_key: str,
        *,
        timeout: float = 30,
        retry: RetryPolicy | None = None,
        api: ApiMode = "auto",
        page_size: int = 1000,
        transport: httpx.BaseTransport | None = None,
        requests_per_minute: int | None = None,
        max_pages: int = MAX_PAGES,
    ) -> None:
        self.host = host.rstrip("/")
        self.stats = SourceStats()
        self.api_mode: ApiMode = api
        self.session = HttpSession(
            self.host,
            public_key,
            secret_key,
            timeout=timeout,
            retry=retry or RetryPolicy(),
            stats=self.stats,
            transport=transport,
            limiter=MinuteLimiter(requests_per_minute) if requests_per_minute else None,
        )
        self._v2 = V2Reader(self.session, public_key, secret_key, page_size=page_size, max_pages=max_pages)
        self._legacy = LegacyReader(self.session)
        self.using_legacy = api == "legacy"
        self._project_id: str | None = None
        self._project_looked_up = False
        self._metrics_spent: BudgetSpent | None = None
        self._metrics_back_at = 0.0  # time.monotonic() when the Metrics budget is expected back
        self._score_reads = ScoreReads(self.session, self.observations)
        self._score_writer = ScoreWriter(self.session)

    def __repr__(self) -> str:
        return f"LangfuseSource(host={self.host!r}, api={self.api_mode!r})"

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> LangfuseSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _switch_to_legacy(self, error: EndpointMissing) -> None:
        if self.api_mode != "auto":
            raise error
        self.using_legacy = True
        log.info("Langfuse at %s has no v2 read API (404); using the legacy endpoints for this run", self.host)

    def observations(self, query: ObservationQuery) -> Iterator[Observation]:
        """Stream matching observations page by page (v2 newest first; legacy page order)."""
        if not self.using_legacy:
            yielded = False
            try:
                for obs in self._v2.observations(query):
                    yielded = True
                    yield obs
                return
            except EndpointMissing as exc:
                if yielded:
                    raise
                self._switch_to_legacy(exc)
        yield from self._legacy.observations(query)

    def costs(self, query: CostQuery) -> list[CostBucket]:
        if self._metrics_spent is not None and time.monotonic() < self._metrics_back_at:
            raise self._metrics_spent  # known spent: do not spend a request to hear it again
        try:
            if not self.using_legacy:
                try:
                    return self._v2.costs(query, self._sum_rows)
                except EndpointMissing as exc:
                    self._switch_to_legacy(exc)
            return self._legacy.costs(query, self._sum_rows)
        except BudgetSpent as exc:
            self._metrics_spent, self._metrics_back_at = exc, time.monotonic() + exc.retry_after
            log.warning("%s", exc)
            raise

    def _sum_rows(self, query: CostQuery) -> list[CostBucket]:
        """Cost buckets summed from observation rows: per user, per metadata key, or as a fallback."""
        dims = [query.group_by or "", *(f.dimension for f in query.filters)]
        fields = ROW_FIELDS | ({"metadata"} if any(d.startswith("metadata.") for d in dims) else set())
        users = {f.value for f in query.filters if f.dimension == "user"}
        rows = ObservationQuery(
            window=RunWindow(query.start, query.end),
            fields=frozenset(fields),
            user_id=next(iter(users)) if len(users) == 1 else None,
        )
        acc = CostAccumulator(query)
        for obs in self.observations(rows):
            acc.add(obs)
        return acc.buckets()

    def read_scores(self, query: ScoreQuery) -> Iterator[ScoreRecord]:
        """One evaluator's (failing) scores via Scores v3, each with its trace's name (langfuse_events.py)."""
        self._score_reads.legacy |= self.using_legacy
        return self._score_reads.read_scores(query)

    def score_counts(self, query: ScoreCountQuery) -> list[ScoreCount]:
        self._score_reads.legacy |= self.using_legacy
        return self._score_reads.score_counts(query)

    @property
    def project_id(self) -> str | None:
        seen = self._project_id or self._v2.project_id or self._legacy.project_id
        if seen is None and not self._project_looked_up:
            self._project_looked_up = True  # one GET /projects per source instance, even if it fails
            try:
                seen = self._v2.fetch_project_id()
            except SourceError as exc:
                log.warning("Langfuse: could not look up the project id for trace links: %s", exc)
        self._project_id = seen
        return seen

    def trace_url(self, trace_id: str) -> str | None:
        project = self.project_id
        if not project:
            return None
        return langfuse_trace_url(self.host, project, trace_id)

    @property
    def score_lists(self) -> bool | None:
        return self._score_writer.lists

    def write_scores(self, scores: Sequence[Score]) -> ScoresWritten:
        """POST the scores as one list where the server takes it, else one object each (the 2026-08
        server). The caller decides what is worth sending (langfuse_score_writes.py says why)."""
        return self._score_writer.write(scores)

    def delete_scores(self, ids: Sequence[str]) -> None:
        """DELETE every score with these ids, whatever day they were written (404: already gone)."""
        for score_id in ids:
            path = f"{SCORES_PATH}/{quote(score_id, safe='')}"

            def attempt(path: str = path) -> None:
                response = self.session.client.delete(path)
                self.session.check_status(f"DELETE {SCORES_PATH}/{{id}}", response.status_code, response.headers, None)

            try:
                self.session.call(f"DELETE {SCORES_PATH}/{{id}}", attempt)
            except EndpointMissing:
                continue


__all__ = ["LangfuseSource"]

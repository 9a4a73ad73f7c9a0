"""Langfuse's current read API through the SDK's generated client: Observations v2 and Metrics v2.

Setup: a project API key pair (Langfuse UI > Project settings > API keys). We build the SDK's raw
`LangfuseAPI` client (not `Langfuse()`, which would start OpenTelemetry tracing) on our own httpx
client, with the SDK's retries off so monitors/retry.py decides (one policy, every wait counted).

Docs: https://langfuse.com/docs/api-and-data-platform/features/public-api
      https://api.reference.langfuse.com/#tag/observationsv2 and #tag/metricsv2
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from functools import partial
from typing import Any, TypeVar

import pydantic

from monitors.contracts.errors import BudgetSpent, SourceError
from monitors.contracts.findings import RunWindow, to_ms
from monitors.contracts.records import CostBucket, MalformedRecord, Observation, parse_observation
from monitors.contracts.source import CostQuery, ObservationQuery, SourceStats
from monitors.sources.http import HttpSession, QueryTimedOut
from monitors.sources.langfuse_metrics import V2_DIMENSIONS, aggregate_costs, can_aggregate
from monitors.sources.langfuse_sdk import ApiError, LangfuseAPI
from monitors.support.retry import parse_retry_after

log = logging.getLogger(__name__)

T = TypeVar("T")

OBSERVATIONS_PATH = "/api/public/v2/observations"
METRICS_PATH = "/api/public/v2/metrics"
PROJECTS_PATH = "/api/public/projects"
MAX_PAGE_SIZE = 1000  # the server rejects limit > 1000
MAX_PAGES = 10_000  # per query: ten million rows at full pages, far beyond any run; stops a cursor that never ends
MILLISECOND = timedelta(milliseconds=1)
MIN_SPLIT = timedelta(seconds=1)  # a 422 on less than this is not a range problem; stop with an error


def effective_fields(query: ObservationQuery) -> list[str]:
    """Field groups to request: what the query asks for, plus metadata when we must check keys."""
    fields = set(query.fields) | {"core"}
    if query.metadata_present:
        fields.add("metadata")
    return sorted(fields)


def _iso(dt: datetime) -> str:
    """ISO 8601 with a Z, in whole milliseconds: what the server compares at (a naive time is a 400)."""
    return to_ms(dt).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def observation_filter(query: ObservationQuery) -> list[dict[str, Any]]:
    """The JSON `filter` for a query. It takes precedence over the fixed params, so it carries all."""
    conditions: list[dict[str, Any]] = [
        {"type": "datetime", "column": "startTime", "operator": ">=", "value": _iso(query.window.start)},
        {"type": "datetime", "column": "startTime", "operator": "<", "value": _iso(query.window.end)},
    ]
    types = sorted({t.upper() for t in query.types})
    if len(types) == 1:
        conditions.append({"type": "string", "column": "type", "operator": "=", "value": types[0]})
    elif types:
        conditions.append({"type": "stringOptions", "column": "type", "operator": "any of", "value": types})
    if query.trace_ids:
        conditions.append(
            {"type": "stringOptions", "column": "traceId", "operator": "any of", "value": sorted(query.trace_ids)}
        )
    if query.levels:
        levels = sorted(set(query.levels))
        conditions.append({"type": "stringOptions", "column": "level", "operator": "any of", "value": levels})
    if query.root_only:
        conditions.append({"type": "boolean", "column": "isRootObservation", "operator": "=", "value": True})
    for column, value in (("userId", query.user_id), ("sessionId", query.session_id), ("traceId", query.trace_id)):
        if value is not None:
            conditions.append({"type": "string", "column": column, "operator": "=", "value": value})
    if query.min_total_cost is not None:
        conditions.append({"type": "number", "column": "totalCost", "operator": ">=", "value": query.min_total_cost})
    # metadata_present is checked client-side: "is not null" on a metadata key is not in the
    # 2026-08 spec (SDK 5 documents "is set", which older servers reject).
    return conditions


def locally_ok(obs: Observation, query: ObservationQuery) -> bool:
    """The conditions we always re-check on our side (cheap, and safe against a lax server)."""
    if not (query.window.start <= obs.start_time < query.window.end):
        return False
    if query.types and obs.type not in {t.upper() for t in query.types}:
        return False
    if query.levels and obs.level not in query.levels:
        return False
    if query.trace_ids and obs.trace_id not in query.trace_ids:
        return False
    return all(obs.metadata.get(key) not in (None, "") for key in query.metadata_present)


class V2Reader:
    """Reads Observations v2 pages and Metrics v2 aggregates; raises EndpointMissing on an old server."""

    def __init__(
        self, session: HttpSession, public_key: str, secret_key: str, *, page_size: int, max_pages: int = MAX_PAGES
    ) -> None:
        self.session = session
        self.stats: SourceStats = session.stats
        self.page_size = max(1, min(page_size, MAX_PAGE_SIZE))
        self.max_pages = max(1, max_pages)
        self.project_id: str | None = None
        self.api = LangfuseAPI(
            base_url=session.host,
            username=public_key,
            password=secret_key,
            httpx_client=session.client,
        )
        # Our retry layer owns retries; the SDK's own (2 by default) would hide waits and requests.
        self.options: Any = {"max_retries": 0, "timeout_in_seconds": session.client.timeout.read}

    def __repr__(self) -> str:
        return f"V2Reader(host={self.session.host!r})"

    def sdk_call(self, what: str, fn: Callable[[], T]) -> T:
        def attempt() -> T:
            try:
                return fn()
            except pydantic.ValidationError as exc:
                raise SourceError(
                    f"Langfuse {what}: response does not match the API's schema ({exc.error_count()} error(s))"
                ) from None
            except ApiError as exc:
                status = exc.status_code or 0
                if 200 <= status < 300:  # the SDK wraps an undecodable 2xx body in ApiError
                    raise self.session.undecodable(what, exc.headers) from None
                self.session.check_status(what, status, exc.headers or {}, exc.body)
                raise SourceError(f"Langfuse {what}: HTTP {status}") from None

        return self.session.call(what, attempt)

    def observations(self, query: ObservationQuery) -> Iterator[Observation]:
        """Every matching row once, newest first; a range the server times out on (422) is read again
        in halves. Rows come in `startTime DESC` order, so after a 422 everything newer than the last
        row read is done and only [start, last row's millisecond] is left to read."""
        yield from self._read_range(query, query.window.start, query.window.end, SeenRows())

    def _read_range(
        self, query: ObservationQuery, start: datetime, end: datetime, seen: SeenRows
    ) -> Iterator[Observation]:
        try:
            for obs in self._pages(query, start, end):
                if seen.first_time(obs):
                    yield obs
        except QueryTimedOut as exc:
            # The last row's millisecond may hold rows not read yet: read it again (`seen` drops repeats).
            upper = min(end, seen.last_time + MILLISECOND) if seen.last_time is not None else end
            if upper - start <= MIN_SPLIT:
                raise SourceError(
                    f"{exc}; even {(upper - start).total_seconds():g} s of observations is too much "
                    "for the server, so the run stops here"
                ) from None
            log.info("Langfuse %s; reading %s..%s in two halves", exc, _iso(start), _iso(upper))
            mid = to_ms(start + (upper - start) / 2)
            yield from self._read_range(query, mid, upper, seen)
            yield from self._read_range(query, start, mid, seen)

    def _pages(self, query: ObservationQuery, start: datetime, end: datetime) -> Iterator[Observation]:
        bounded = replace(query, window=RunWindow(start, end))
        params = {
            "fields": ",".join(effective_fields(query)),
            "expandMetadata": ",".join(query.expand_metadata) or None,
            "limit": self.page_size,
            "fromStartTime": _iso(start),
            "toStartTime": _iso(end),
            "filter": json.dumps(observation_filter(bounded)),
        }
        seen_cursors: set[str] = set()
        cursor: str | None = None
        for page in range(1, self.max_pages + 1):
            rows, next_cursor = self.session.call(f"GET {OBSERVATIONS_PATH}", partial(self._page, params, cursor))
            for row in rows:
                obs = self._parse(row)
                if obs is not None and locally_ok(obs, bounded):
                    yield obs
            if not next_cursor:
                return
            if next_cursor in seen_cursors:
                raise SourceError(
                    f"Langfuse GET {OBSERVATIONS_PATH}: the server returned a cursor it had already "
                    f"returned (after {page} pages); stopping instead of looping"
                )
            seen_cursors.add(next_cursor)
            cursor = next_cursor
        raise SourceError(
            f"Langfuse GET {OBSERVATIONS_PATH}: still not at the end after {self.max_pages} pages of "
            f"{self.page_size} rows for {_iso(start)}..{_iso(end)}; stopping (a server whose cursor never "
            "ends, or a window far larger than a run should read)"
        )

    def _page(self, params: Mapping[str, Any], cursor: str | None) -> tuple[list[Any], str | None]:
        """One page, through the SDK's HTTP client (auth, base URL, headers) but not its typed parse.

        The SDK builds a pydantic model per row, which we would dump straight back to a dict: about 2 ms a
        row, more than the rest of a run. We parse each row defensively ourselves (parse_observation), so
        one bad row is counted and skipped instead of rejecting the whole page.
        """
        response = self.api._client_wrapper.httpx_client.request(
            OBSERVATIONS_PATH.lstrip("/"),
            method="GET",
            params={**params, "cursor": cursor},
            request_options=self.options,
        )
        what = f"GET {OBSERVATIONS_PATH}"
        if not 200 <= response.status_code < 300:
            body = _json_or_text(response)
            self.session.check_status(what, response.status_code, response.headers, body)
            raise SourceError(f"Langfuse {what}: HTTP {response.status_code}")
        try:
            body = response.json()
        except ValueError:
            raise self.session.undecodable(what, response.headers) from None
        if not isinstance(body, Mapping) or not isinstance(body.get("data"), list):
            raise SourceError(f"Langfuse {what}: response is not an observations page")
        meta = body.get("meta")
        cursor = meta.get("cursor") if isinstance(meta, Mapping) else None
        return body["data"], cursor if isinstance(cursor, str) else None

    def _parse(self, row: Any) -> Observation | None:
        if isinstance(row, Mapping) and ("" in (row.get("userId"), row.get("sessionId"))):
            # The events table stores a missing user or session id as "", not null.
            row = {**row, **{k: None for k in ("userId", "sessionId") if row.get(k) == ""}}
        try:
            obs = parse_observation(row)
        except MalformedRecord as exc:
            self.stats.count_malformed(f"observation: {exc}")
            return None
        if self.project_id is None and obs.project_id:
            self.project_id = obs.project_id
        return obs

    def costs(self, query: CostQuery, sum_rows: Callable[[CostQuery], list[CostBucket]]) -> list[CostBucket]:
        if not can_aggregate(query, V2_DIMENSIONS):
            return sum_rows(query)
        return aggregate_costs(query, self._metrics, V2_DIMENSIONS, self.stats, sum_rows)

    def _metrics(self, query_object: dict[str, Any]) -> list[Any]:
        text = json.dumps(query_object)
        what = f"GET {METRICS_PATH}"

        def fetch() -> Any:
            try:
                return self.api.metrics.metrics(query=text, request_options=self.options)
            except ApiError as exc:
                budget_spent(what, exc, self.session.retry.max_delay)
                raise

        return list(self.sdk_call(what, fetch).data)

    def fetch_project_id(self) -> str | None:
        response = self.sdk_call(f"GET {PROJECTS_PATH}", lambda: self.api.projects.get(request_options=self.options))
        return response.data[0].id if response.data else None


def budget_spent(what: str, exc: ApiError, longest_wait: float) -> None:
    """Raise BudgetSpent for a 429 whose Retry-After is longer than a run may wait: the Metrics v2
    budget is per organisation and per hour or day on Langfuse Cloud, so waiting is pointless."""
    if exc.status_code != 429:
        return
    headers = {str(k).lower(): str(v) for k, v in (exc.headers or {}).items()}
    wait = parse_retry_after(headers.get("retry-after"))
    if wait is not None and wait > longest_wait:
        raise BudgetSpent(f"Langfuse {what}: the rate-limit budget is spent; Langfuse says retry in {wait:.0f} s", wait)


class SeenRows:
    """Drops a row already yielded. Copies of one row share its sort key, so they arrive together:
    only the ids of the current millisecond are kept, not every id of the query."""

    def __init__(self) -> None:
        self.last_time: datetime | None = None
        self._ids: set[str] = set()

    def first_time(self, obs: Observation) -> bool:
        if self.last_time is None or obs.start_time < self.last_time:
            self._ids = set()
            self.last_time = obs.start_time
        if obs.id in self._ids:
            return False
        self._ids.add(obs.id)
        return True


def _json_or_text(response: Any) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text[:512]

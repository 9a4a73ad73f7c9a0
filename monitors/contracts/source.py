"""The seam between monitors and the systems they read.

A monitor asks a `TraceSource` for observations or cost aggregates and gets typed records back. The
Langfuse source (v2 or legacy API) and the replay source (an export file) implement the same protocol,
so every monitor runs unchanged on live data, on a replay and on the bundled demo week.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol

from monitors.contracts.findings import RunWindow
from monitors.contracts.records import CostBucket, Observation
from monitors.contracts.scores import ScoreCount, ScoreRecord

# Observations v2 field groups (see the API notes); `core` is always returned.
FieldGroup = Literal["core", "basic", "time", "io", "metadata", "model", "usage", "prompt", "metrics", "trace_context"]

# What cost can be grouped by. Metrics v2 groups by the first four; "user" and "metadata.<key>"
# are summed from observation rows because Metrics v2 rejects high-cardinality dimensions.
CostDimension = str  # "traceName" | "model" | "environment" | "tags" | "user" | "metadata.<key>"


@dataclass
class SourceStats:
    """What a source did during one run; reported in the run summary."""

    requests: int = 0
    retries: int = 0
    malformed: int = 0
    malformed_examples: list[str] = field(default_factory=list)
    last_malformed: str = ""  # why the latest malformed record was skipped (a source may serve many runs)
    by_endpoint: Counter[str] = field(default_factory=Counter)

    def count_request(self, endpoint: str) -> None:
        self.requests += 1
        self.by_endpoint[endpoint] += 1

    def count_malformed(self, reason: str) -> None:
        self.malformed += 1
        self.last_malformed = reason[:200]
        if len(self.malformed_examples) < 5:
            self.malformed_examples.append(reason[:200])


@dataclass(frozen=True)
class ObservationQuery:
    """Which observations to stream. Every query is bounded by a window (start time)."""

    window: RunWindow
    types: tuple[str, ...] = ()  # e.g. ("TOOL",); empty means every type
    fields: frozenset[str] = frozenset({"core", "basic"})
    root_only: bool = False
    user_id: str | None = None
    session_id: str | None = None
    trace_id: str | None = None
    metadata_present: tuple[str, ...] = ()  # only rows whose metadata has all these keys
    expand_metadata: tuple[str, ...] = ()  # metadata keys to return untruncated
    min_total_cost: float | None = None
    levels: tuple[str, ...] = ()  # e.g. ("ERROR", "WARNING"); empty means every level
    trace_ids: tuple[str, ...] = ()  # only these traces (empty: any)


@dataclass(frozen=True)
class CostFilter:
    """Restrict a cost query to one value of a dimension (tags match when the list contains it)."""

    dimension: CostDimension
    value: str


@dataclass(frozen=True)
class CostQuery:
    """Sum of totalCost in [start, end) per time bucket and optionally per group value."""

    start: datetime
    end: datetime
    granularity: Literal["hour", "day"] = "hour"
    group_by: CostDimension | None = None
    filters: tuple[CostFilter, ...] = ()


@dataclass(frozen=True)
class Score:
    """A numeric score to write back to Langfuse. `id` is deterministic so reruns overwrite."""

    id: str
    trace_id: str
    name: str
    value: float
    timestamp: datetime
    comment: str | None = None


@dataclass
class ScoresWritten:
    """What a source did with one batch of scores: how many the server refused as invalid (they are not
    worth sending again), which of them it named, its messages, and which it did not write at all."""

    rejected: int = 0
    rejected_ids: set[str] = field(default_factory=set)  # empty when the server only counts them
    errors: list[str] = field(default_factory=list)
    # Taken by a source with no Langfuse behind it (a replay keeps them in memory): written nowhere.
    not_written_ids: set[str] = field(default_factory=set)


ScoreDataType = Literal["NUMERIC", "BOOLEAN", "CATEGORICAL"]


@dataclass(frozen=True)
class ScoreQuery:
    """Scores of one evaluator (score name) with a timestamp in the window, optionally only failing ones.

    `value_below` keeps numeric scores strictly below it; `values` keeps boolean ("false") or categorical
    scores whose value is in the set. Sources push these to the server where it can filter.
    """

    window: RunWindow
    name: str
    data_type: ScoreDataType
    value_below: float | None = None
    values: tuple[str, ...] = ()


@dataclass(frozen=True)
class ScoreCountQuery:
    """How many scores each (score name, agent) got in the window: the denominator of a failure share."""

    window: RunWindow
    names: tuple[str, ...]
    categorical: bool = False  # also count categorical scores (a second aggregate)


class TraceSource(Protocol):
    """What every trace source offers. Implementations handle paging, retries and rate limits."""

    stats: SourceStats

    def observations(self, query: ObservationQuery) -> Iterator[Observation]:
        """Stream matching observations (any order); malformed rows are counted and skipped."""
        ...

    def costs(self, query: CostQuery) -> list[CostBucket]:
        """Aggregated cost buckets; buckets with no spend may be absent."""
        ...

    def trace_url(self, trace_id: str) -> str | None:
        """Deep link to a trace in the Langfuse UI, when the host and project are known."""
        ...

    # Whether the server takes a list of scores in one request and keeps the timestamp each is sent with,
    # so a changed score replaces the one of the same id and timestamp; None until the first write says.
    score_lists: bool | None

    def write_scores(self, scores: Sequence[Score]) -> ScoresWritten:
        """Write scores back, with their `timestamp` where the server keeps it (no-op for sources that
        cannot). A server that refuses a score as invalid is reported, not raised."""
        ...

    def delete_scores(self, ids: Sequence[str]) -> None:
        """Delete written scores by id, on every day they were written (no-op for sources that cannot)."""
        ...

    def read_scores(self, query: ScoreQuery) -> Iterator[ScoreRecord]:
        """Stream one evaluator's scores, each with its trace's name (the agent) when known."""
        ...

    def score_counts(self, query: ScoreCountQuery) -> list[ScoreCount]:
        """Scores per (name, agent) in the window, aggregated (one request, whatever the volume)."""
        ...

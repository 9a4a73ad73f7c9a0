"""A trace source that replays an export file (or a list of observations) instead of calling Langfuse.

Setup: write a file with `run-monitor export --since 7d -o traces.jsonl` (JSON lines of Observations v2
rows, optionally gzipped when the name ends in `.gz`), then run any monitor with `--source traces.jsonl`.
Tests build one directly with `ReplaySource.from_observations([...])`.

The query semantics are the ones the Langfuse source applies server-side (window on startTime
[start, end), types, root-only, user/session/trace, metadata keys present, minimum cost), and `costs()`
computes the same buckets Metrics v2 returns: UTC hour/day buckets of summed totalCost, grouped by
traceName, model, environment, tags (one bucket per tag), user or `metadata.<key>`. An observation with
no value for the grouping dimension (no tags, no user...) lands in the group "" so no spend is lost.

API reference for the row format: https://api.reference.langfuse.com/#tag/observationsv2
"""

from __future__ import annotations

import dataclasses
import json
import logging
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from monitors.contracts.errors import SourceError
from monitors.contracts.findings import RunWindow, utc
from monitors.contracts.records import CostBucket, MalformedRecord, Observation, parse_observation
from monitors.contracts.scores import ScoreCount, ScoreRecord, parse_score
from monitors.contracts.source import (
    CostFilter,
    CostQuery,
    ObservationQuery,
    Score,
    ScoreCountQuery,
    ScoreQuery,
    ScoresWritten,
    SourceStats,
)
from monitors.sources.replay_files import damaged, open_text, require_utf8
from monitors.support.links import langfuse_trace_url

log = logging.getLogger(__name__)

# Windows are half-open [start, end) in whole milliseconds: the span ends one millisecond past its last
# observation, so the last row stays inside once both bounds are cut to the millisecond.
SPAN_END_PAST_LAST = timedelta(milliseconds=1)


def observation_matches(obs: Observation, query: ObservationQuery) -> bool:
    """True when `obs` satisfies every condition of `query` (the in-memory twin of the API filters)."""
    if not (query.window.start <= obs.start_time < query.window.end):
        return False
    if query.types and obs.type not in {t.upper() for t in query.types}:
        return False
    if query.levels and obs.level not in query.levels:
        return False
    if query.trace_ids and obs.trace_id not in query.trace_ids:
        return False
    if query.root_only and not is_root(obs):
        return False
    if query.user_id is not None and obs.user_id != query.user_id:
        return False
    if query.session_id is not None and obs.session_id != query.session_id:
        return False
    if query.trace_id is not None and obs.trace_id != query.trace_id:
        return False
    if any(obs.metadata.get(key) in (None, "") for key in query.metadata_present):
        return False
    return query.min_total_cost is None or obs.total_cost >= query.min_total_cost


# Observation attributes per Observations v2 field group, with the value a row without it parses to.
FIELD_GROUP_DEFAULTS: dict[str, dict[str, Any]] = {
    "basic": {
        "name": None,
        "level": "DEFAULT",
        "status_message": None,
        "environment": None,
        "user_id": None,
        "session_id": None,
        "is_root": None,
    },
    "io": {"input": None, "output": None},
    "metadata": {"metadata": {}},
    "model": {"model": None},
    "usage": {"usage": {}, "total_cost": 0.0},
    "trace_context": {"tags": (), "trace_name": None},
}


def project_observation(obs: Observation, fields: Iterable[str]) -> Observation:
    """`obs` as a v2 read asking only for `fields` would return it (other groups emptied)."""
    wanted = set(fields)
    blank: dict[str, Any] = {}
    for group, defaults in FIELD_GROUP_DEFAULTS.items():
        if group not in wanted:
            blank.update(defaults)
    return dataclasses.replace(obs, **blank) if blank else obs


def score_matches(score: ScoreRecord, query: ScoreQuery) -> bool:
    """True when `score` is one `query` asks for (the in-memory twin of the Scores v3 filters)."""
    if score.name != query.name or score.data_type != query.data_type:
        return False
    if not (query.window.start <= score.timestamp < query.window.end):
        return False
    if query.value_below is not None:
        return isinstance(score.value, float) and score.value < query.value_below
    if query.values:
        shown = str(score.value).lower() if isinstance(score.value, bool) else str(score.value)
        return shown in query.values
    return True


def count_scores(scores: Iterable[ScoreRecord], query: ScoreCountQuery) -> list[ScoreCount]:
    """Scores per (name, agent) in the window, as the Metrics score views aggregate them."""
    counts: dict[tuple[str, str], int] = {}
    for score in scores:
        if score.data_type == "CATEGORICAL" and not query.categorical:
            continue
        if score.name in query.names and query.window.start <= score.timestamp < query.window.end:
            key = (score.name, score.trace_name or "")
            counts[key] = counts.get(key, 0) + 1
    return [ScoreCount(name, agent, n) for (name, agent), n in sorted(counts.items())]


def is_root(obs: Observation) -> bool:
    # Langfuse's isRootObservation also covers SDK "app roots" that keep a parent; fall back to the
    # physical parent only when the row did not say.
    return obs.is_root if obs.is_root is not None else obs.parent_id is None


def dimension_values(obs: Observation, dimension: str) -> tuple[str, ...]:
    """The group values `obs` contributes to for a cost dimension ("" when it has none)."""
    if dimension == "tags":
        return obs.tags or ("",)
    if dimension.startswith("metadata."):
        value: Any = obs.metadata.get(dimension.removeprefix("metadata."))
    else:
        attr = {"traceName": "trace_name", "model": "model", "environment": "environment", "user": "user_id"}
        if dimension not in attr:
            raise SourceError(f"cannot group or filter cost by {dimension!r}")
        value = getattr(obs, attr[dimension])
    if value is None:
        return ("",)
    return (value if isinstance(value, str) else json.dumps(value, sort_keys=True),)


def cost_filter_matches(obs: Observation, flt: CostFilter) -> bool:
    return flt.value in dimension_values(obs, flt.dimension)


def bucket_start(when: datetime, granularity: str) -> datetime:
    when = utc(when)
    if granularity == "day":
        return when.replace(hour=0, minute=0, second=0, microsecond=0)
    return when.replace(minute=0, second=0, microsecond=0)


@dataclass
class CostAccumulator:
    """Sums observations into cost buckets; shared by the replay and the row-summing Langfuse path."""

    query: CostQuery
    sums: dict[tuple[datetime, str | None], list[float]] = field(default_factory=dict)

    def add(self, obs: Observation) -> None:
        if not (utc(self.query.start) <= obs.start_time < utc(self.query.end)):
            return
        if not all(cost_filter_matches(obs, f) for f in self.query.filters):
            return
        start = bucket_start(obs.start_time, self.query.granularity)
        groups: Iterable[str | None] = dimension_values(obs, self.query.group_by) if self.query.group_by else (None,)
        for group in groups:
            acc = self.sums.setdefault((start, group), [0.0, 0])
            acc[0] += obs.total_cost
            acc[1] += 1

    def buckets(self) -> list[CostBucket]:
        return [
            CostBucket(start=start, cost=cost, group=group, count=int(count))
            for (start, group), (cost, count) in sorted(self.sums.items(), key=lambda kv: (kv[0][0], kv[0][1] or ""))
        ]


class ReplaySource:
    """A TraceSource over an export file or an in-memory list of observations."""

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        host: str | None = None,
        project_id: str | None = None,
        observations: Sequence[Observation] | None = None,
        strict_fields: bool = False,
        scores: Sequence[ScoreRecord] | None = None,
        scores_path: str | Path | None = None,
    ) -> None:
        if (path is None) == (observations is None):
            raise ValueError("give exactly one of path or observations")
        self.path = Path(path) if path is not None else None
        self._observations = list(observations) if observations is not None else None
        self.host = host.rstrip("/") if host else None
        self.project_id = project_id
        # strict_fields: empty the field groups a query did not ask for, as Langfuse does. Off by
        # default so tests can build records freely; on, it catches a monitor that forgets a group.
        self.strict_fields = strict_fields
        self.stats = SourceStats()
        self.scores: list[Score] = []  # written back by monitors (kept, not sent)
        # Evaluation scores to read (JSON lines of Scores v3 rows plus traceName, like the demo's file).
        self.score_records = list(scores or ())
        self.scores_path = Path(scores_path) if scores_path is not None else None
        # Monitors read the file in several passes; a bad line is one bad line however often it is read.
        self._malformed_lines: set[int] = set()
        self._last_line = 0  # the line number read last, to say where a cut-short file ends
        self._cut_counted = False

    @classmethod
    def from_observations(
        cls,
        observations: Iterable[Observation],
        host: str | None = None,
        project_id: str | None = None,
        *,
        strict_fields: bool = False,
        scores: Sequence[ScoreRecord] | None = None,
    ) -> ReplaySource:
        return cls(
            host=host,
            project_id=project_id,
            observations=list(observations),
            strict_fields=strict_fields,
            scores=scores,
        )

    def __repr__(self) -> str:
        what = str(self.path) if self.path else f"{len(self._observations or [])} observations"
        return f"ReplaySource({what})"

    def _all(self, *, count: bool = True) -> Iterator[Observation]:
        if self._observations is not None:
            yield from self._observations
            return
        assert self.path is not None
        try:
            with open_text(self.path) as fh:
                yield from self._parse_lines(fh, count=count)
        except EOFError:
            # A gzip stream with no end (copied while written, a download that stopped): the rows
            # before the cut are good; the cut is one malformed entry, as a broken last line would be.
            if count and not self._cut_counted:
                self._cut_counted = True
                self.stats.count_malformed(f"file cut short after line {self._last_line}")
                log.warning("replay file %s is cut short after line %d; read what it holds", self.path, self._last_line)
        except zlib.error as exc:
            raise damaged("replay file", self.path, exc) from None
        except OSError as exc:
            raise SourceError(f"cannot read replay file {self.path}: {exc.__class__.__name__}: {exc}") from exc

    def _parse_lines(self, lines: Iterable[str], *, count: bool = True) -> Iterator[Observation]:
        for number, line in enumerate(lines, start=1):
            self._last_line = number
            if not line.strip():
                continue
            try:
                require_utf8(line)
                obs = parse_observation(json.loads(line))
            # JSONDecodeError is a ValueError; RecursionError: a line nested past Python's limit
            except (ValueError, RecursionError, MalformedRecord) as exc:
                if count and number not in self._malformed_lines:
                    self._malformed_lines.add(number)
                    self.stats.count_malformed(f"line {number}: {exc}")
                continue
            if self.project_id is None and obs.project_id:
                self.project_id = obs.project_id
            yield obs

    def span(self) -> RunWindow | None:
        """The half-open window holding every observation in the file (None when it holds none).

        A replay checks this window unless told otherwise: an export is a record of a past period, so
        "the last 24 hours" (a live run's default) would usually miss all of it.
        """
        first = last = None
        # Not counted here: span() is read before a run starts, and the run counts what it reads.
        for obs in self._all(count=False):
            first = obs.start_time if first is None or obs.start_time < first else first
            last = obs.start_time if last is None or obs.start_time > last else last
        if first is None or last is None:
            return None
        return RunWindow(first, last + SPAN_END_PAST_LAST)

    def observations(self, query: ObservationQuery) -> Iterator[Observation]:
        fields = set(query.fields) | ({"metadata"} if query.metadata_present else set())
        for obs in self._all():
            if observation_matches(obs, query):
                yield project_observation(obs, fields) if self.strict_fields else obs

    def costs(self, query: CostQuery) -> list[CostBucket]:
        acc = CostAccumulator(query)
        for obs in self._all():
            acc.add(obs)
        return acc.buckets()

    def read_scores(self, query: ScoreQuery) -> Iterator[ScoreRecord]:
        return (s for s in self._all_scores() if score_matches(s, query))

    def score_counts(self, query: ScoreCountQuery) -> list[ScoreCount]:
        return count_scores(self._all_scores(), query)

    def _all_scores(self) -> list[ScoreRecord]:
        if self.scores_path is not None:
            self.score_records, self.scores_path = self.score_records + self._read_score_file(self.scores_path), None
        return self.score_records

    def _read_score_file(self, path: Path) -> list[ScoreRecord]:
        found: list[ScoreRecord] = []
        try:
            with open_text(path) as fh:
                for number, line in enumerate(fh, start=1):
                    if not line.strip():
                        continue
                    try:
                        require_utf8(line)
                        found.append(parse_score(json.loads(line)))
                    except (ValueError, RecursionError, MalformedRecord) as exc:
                        self.stats.count_malformed(f"{path.name} line {number}: {exc}")
        except zlib.error as exc:
            raise damaged("scores file", path, exc) from None
        except (OSError, EOFError) as exc:
            raise SourceError(f"cannot read scores file {path}: {exc.__class__.__name__}: {exc}") from exc
        return found

    def trace_url(self, trace_id: str) -> str | None:
        if self.project_id is None and self._observations:
            self.project_id = next((o.project_id for o in self._observations if o.project_id), None)
        if not self.host or not self.project_id:
            return None
        return langfuse_trace_url(self.host, self.project_id, trace_id)

    # A replay has no server: it keeps what it is given, timestamps and all, as a newer server would.
    score_lists = True

    def write_scores(self, scores: Sequence[Score]) -> ScoresWritten:
        # Kept so tests and dry runs can inspect them; said to be written nowhere, so a run's summary does
        # not count them as written to Langfuse (scores_not_written).
        self.scores.extend(scores)
        if scores:
            log.info("replay source: skipped writing %d score(s) back to Langfuse", len(scores))
        return ScoresWritten(not_written_ids={s.id for s in scores})

    def delete_scores(self, ids: Sequence[str]) -> None:
        doomed = set(ids)
        self.scores[:] = [s for s in self.scores if s.id not in doomed]


__all__ = [
    "CostAccumulator",
    "ReplaySource",
    "bucket_start",
    "dimension_values",
    "observation_matches",
    "project_observation",
    "score_matches",
]

"""Per-day tallies kept in the run state, so each rule judges a whole UTC day however often runs come.

A run adds what its window read (errors per agent and signature, observations per agent, failing and
total scores per evaluator and agent) to the tallies of the days the window touches. Windows never
overlap (the watermark), so adding is exact; a failed or dry run commits nothing. Everything here is
JSON-able and bounded: days older than the baseline are dropped, signatures per agent and day capped.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from monitors.contracts.findings import RunWindow, utc

MAX_SIGNATURES = 50  # per agent and day; more distinct ones are counted under OVERFLOW
OVERFLOW = "(other signatures)"
EXAMPLE_CHARS = 300
KEEP_TRACES = 3


@dataclass
class Group:
    """Occurrences of one thing (a signature, an evaluator's failures) for one agent on one day."""

    count: int = 0
    first: str = ""  # ISO timestamps, so the state stays JSON
    last: str = ""
    earliest: list[tuple[str, str]] = field(default_factory=list)  # (time, trace id): the first few
    example: str = ""  # the earliest occurrence's message or comment
    # The signature this group's alerts are keyed on when a re-key (rekey.py) gave it a new one: an
    # alert sent before the upgrade keeps its fingerprint, so dedupe and silences still hold.
    alert_signature: str = ""

    @property
    def traces(self) -> list[str]:
        return [trace_id for _, trace_id in self.earliest]

    def add(self, when: datetime, trace_id: str | None, example: str | None) -> None:
        # Sources stream in any order (v2 reads newest first): keep what happened first, whatever the order.
        stamp = utc(when).isoformat()
        self.count += 1
        if example and (not self.example or stamp < self.first):
            self.example = example[:EXAMPLE_CHARS]
        self.first = min(self.first, stamp) if self.first else stamp
        self.last = max(self.last, stamp)
        if trace_id and trace_id not in self.traces:
            self.earliest = sorted([*self.earliest, (stamp, trace_id)])[:KEEP_TRACES]

    def merge(self, other: Group) -> None:
        """Add another group's occurrences: counts add up, the earliest example and traces win."""
        if other.first and (not self.first or other.first < self.first):
            self.example = other.example or self.example
        elif not self.example:
            self.example = other.example
        self.count += other.count
        self.first = min(filter(None, (self.first, other.first)), default="")
        self.last = max(self.last, other.last)
        pairs = {trace_id: stamp for stamp, trace_id in sorted(self.earliest + other.earliest, reverse=True)}
        self.earliest = sorted((stamp, trace_id) for trace_id, stamp in pairs.items())[:KEEP_TRACES]

    def to_json(self) -> dict[str, Any]:
        traces = [list(pair) for pair in self.earliest]
        raw = {"n": self.count, "first": self.first, "last": self.last, "traces": traces, "example": self.example}
        return raw | ({"alert_signature": self.alert_signature} if self.alert_signature else {})

    @classmethod
    def from_json(cls, raw: Any) -> Group:
        if not isinstance(raw, Mapping):
            return cls()
        pairs = [(str(p[0]), str(p[1])) for p in raw.get("traces") or [] if isinstance(p, list | tuple) and len(p) == 2]
        return cls(
            int(raw.get("n") or 0),
            str(raw.get("first") or ""),
            str(raw.get("last") or ""),
            sorted(pairs)[:KEEP_TRACES],
            str(raw.get("example") or ""),
            str(raw.get("alert_signature") or ""),
        )


# day -> agent (or "evaluator\x1fagent") -> signature (or "") -> Group
Groups = dict[str, dict[str, dict[str, Group]]]
# day -> agent (or "evaluator\x1fagent") -> count
Counts = dict[str, dict[str, int]]


def load_groups(raw: Any) -> Groups:
    out: Groups = {}
    for day, agents in (raw or {}).items() if isinstance(raw, Mapping) else ():
        if isinstance(agents, Mapping):
            out[str(day)] = {
                str(a): {str(s): Group.from_json(g) for s, g in sigs.items()}
                for a, sigs in agents.items()
                if isinstance(sigs, Mapping)
            }
    return out


def dump_groups(groups: Groups) -> dict[str, Any]:
    return {
        d: {a: {s: g.to_json() for s, g in sigs.items()} for a, sigs in agents.items()} for d, agents in groups.items()
    }


def load_counts(raw: Any) -> Counts:
    out: Counts = {}
    for day, agents in (raw or {}).items() if isinstance(raw, Mapping) else ():
        if isinstance(agents, Mapping):
            out[str(day)] = {str(a): int(n) for a, n in agents.items() if isinstance(n, int | float)}
    return out


def group_for(groups: Groups, day: date, key: str, signature: str) -> Group:
    sigs = groups.setdefault(day.isoformat(), {}).setdefault(key, {})
    if signature not in sigs and len(sigs) >= MAX_SIGNATURES:
        signature = OVERFLOW
    return sigs.setdefault(signature, Group())


def add_count(counts: Counts, day: date, key: str, n: int) -> None:
    agents = counts.setdefault(day.isoformat(), {})
    agents[key] = agents.get(key, 0) + n


def prune(tallies: Iterable[dict[str, Any]], oldest: date) -> None:
    """Forget the days before `oldest`."""
    for tally in tallies:
        for day in [d for d in tally if d < oldest.isoformat()]:
            del tally[day]


def days_of(window: RunWindow) -> list[date]:
    """The UTC days a window touches (its end is exclusive)."""
    first = window.start.date()
    last = (window.end - timedelta(microseconds=1)).date() if window.end > window.start else first
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def day_windows(window: RunWindow) -> list[RunWindow]:
    """The window cut at UTC midnights, one piece per day."""
    pieces = []
    for day in days_of(window):
        start = datetime(day.year, day.month, day.day, tzinfo=window.start.tzinfo)
        pieces.append(RunWindow(max(start, window.start), min(start + timedelta(days=1), window.end)))
    return [p for p in pieces if p.end > p.start]


def score_key(evaluator: str, agent: str) -> str:
    return f"{evaluator}\x1f{agent}"


def split_score_key(key: str) -> tuple[str, str]:
    evaluator, _, agent = key.partition("\x1f")
    return evaluator, agent


def untallied(window: RunWindow, covered: Any) -> list[RunWindow]:
    """The parts of `window` not yet in the tallies (`covered` is the [start, end) ISO pair already read).

    Runs from the watermark never overlap, but `--since` reruns and backfills do: without this they
    would count the same errors twice.
    """
    span = _span(covered)
    if span is None:
        return [window]
    start, end = span
    pieces = []
    if window.start < start:
        pieces.append(RunWindow(window.start, min(window.end, start)))
    if window.end > end:
        pieces.append(RunWindow(max(window.start, end), window.end))
    return [p for p in pieces if p.end > p.start]


def cover(window: RunWindow, covered: Any) -> list[str]:
    """The covered span after reading `window`. A gap between them (a catch-up capped by the pipeline)
    is claimed too: those hours are simply never counted, as they were never read."""
    span = _span(covered)
    start, end = (window.start, window.end) if span is None else (min(span[0], window.start), max(span[1], window.end))
    return [start.isoformat(), end.isoformat()]


def span_end(covered: Any) -> datetime | None:
    """The end of a covered span, None when there is none."""
    span = _span(covered)
    return None if span is None else span[1]


def _span(covered: Any) -> tuple[datetime, datetime] | None:
    if not isinstance(covered, list | tuple) or len(covered) != 2:
        return None
    try:
        return utc(datetime.fromisoformat(str(covered[0]))), utc(datetime.fromisoformat(str(covered[1])))
    except ValueError:
        return None

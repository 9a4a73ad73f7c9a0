"""Findings, run windows, severities and links: what a monitor produces and what every part reads."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any


class Status(enum.StrEnum):
    """Whether a finding still holds. A resolved notice goes only where a route asks for it."""

    FIRING = "firing"
    RESOLVED = "resolved"


class Severity(enum.IntEnum):
    """How loud a finding is. Routing compares severities; higher is louder."""

    INFO = 10  # recorded for the weekly report, not sent by default
    WARNING = 20  # e.g. a budget at 80%, drift below threshold
    CRITICAL = 30  # e.g. a budget at 100%, a runaway loop

    @classmethod
    def parse(cls, value: str | int | Severity) -> Severity:
        if isinstance(value, Severity):
            return value
        if isinstance(value, int):
            return cls(value)
        try:
            return cls[str(value).strip().upper()]
        except KeyError:
            names = ", ".join(s.name.lower() for s in cls)
            raise ValueError(f"unknown severity {value!r}; expected one of {names}") from None

    @property
    def label(self) -> str:
        return self.name.lower()


def utc(dt: datetime) -> datetime:
    """Return `dt` as an aware UTC datetime (naive values are taken to be UTC)."""
    if dt.tzinfo is None:
        return dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


def to_ms(dt: datetime) -> datetime:
    """`dt` in UTC, cut to whole milliseconds: the precision Langfuse compares times at."""
    dt = utc(dt)
    return dt.replace(microsecond=dt.microsecond // 1000 * 1000)


@dataclass(frozen=True, slots=True)
class RunWindow:
    """The half-open time range [start, end) a run reads, in whole milliseconds.

    Langfuse truncates every time bound to the millisecond (a JS Date, then DateTime64(3)), so a
    bound with microseconds would make the server and our local re-check disagree about a row in the
    bound's millisecond, and both neighbouring runs would drop it. Cutting the bounds here, where
    every window is made, keeps consecutive windows exact neighbours at the server's precision.
    """

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", to_ms(self.start))
        object.__setattr__(self, "end", to_ms(self.end))
        if self.end < self.start:
            raise ValueError(f"window ends ({self.end}) before it starts ({self.start})")

    @property
    def duration(self) -> timedelta:
        return self.end - self.start

    def __str__(self) -> str:
        return f"{_iso(self.start)}..{_iso(self.end)}"


def _iso(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True, slots=True)
class Link:
    """A link we built ourselves (Langfuse trace, merge request). Never from agent text."""

    label: str
    url: str


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing a monitor wants a human to know about.

    All text fields are plain text and may contain untrusted agent text: renderers escape them.

    Attributes:
        monitor: the monitor's registry name ("cost", "drift", "audit").
        dedupe_key: what makes this finding the same one on the next run
            (budget+day, trace+commit, session+check).
        rank: escalation level within one fingerprint; a finding is sent again when its rank rises
            (a budget at 80% has rank 80, at 100% rank 100).
        kind: the check that produced it ("budget", "spike", "loop", "unverifiable", ...).
        fields: (label, value) pairs shown in the alert.
        evidence: small JSON-able dict of numbers kept for the weekly report.
        status: firing, or resolved when the monitor says the finding no longer holds.
        labels: what the finding is about, e.g. {"agent": "llm-fix", "day": "2026-11-21"}; a route's
            `group_by` names the labels that make findings of one run one incident (one message).
    """

    monitor: str
    dedupe_key: str
    severity: Severity
    title: str
    summary: str
    observed_at: datetime
    kind: str = ""
    rank: int = 0
    window: RunWindow | None = None
    fields: tuple[tuple[str, str], ...] = ()
    evidence: Mapping[str, Any] = field(default_factory=dict)
    links: tuple[Link, ...] = ()
    status: Status = Status.FIRING
    labels: Mapping[str, str] = field(default_factory=dict)

    @property
    def fingerprint(self) -> str:
        return f"{self.monitor}:{self.dedupe_key}"

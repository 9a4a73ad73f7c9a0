"""Shared vocabulary of the suite: findings, windows, severities and the error tree.

Error tree (every error the suite raises on purpose derives from MonitorsError):

    MonitorsError
    ├── ConfigError          bad monitors.yaml / schedules.yaml; the CLI exits 2
    ├── UnknownMonitorError  a name that is not in a registry (also a ConfigError)
    ├── SourceError          Langfuse or GitLab could not be read after retries; exit 1
    ├── DeliveryError        a notifier could not deliver; the outbox keeps the message
    └── StoreError           the state store is unreachable or locked
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any


class MonitorsError(Exception):
    """Base class of every error the suite raises deliberately."""


class ConfigError(MonitorsError):
    """Configuration is invalid. `problems` holds one 'file: dotted.path: reason' line each."""

    def __init__(self, message: str, problems: Iterable[str] = ()) -> None:
        self.problems = list(problems) or [message]
        super().__init__(message if not self.problems else "\n".join(self.problems))


class UnknownMonitorError(ConfigError):
    """A monitor, source or notifier name that no registry knows."""


class SourceError(MonitorsError):
    """A source (Langfuse, GitLab, a replay file) failed after its retries."""


class DeliveryError(MonitorsError):
    """A notifier failed to deliver a message."""


class StoreError(MonitorsError):
    """The state store could not be used."""


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


@dataclass(frozen=True, slots=True)
class RunWindow:
    """The half-open time range [start, end) a run reads."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", utc(self.start))
        object.__setattr__(self, "end", utc(self.end))
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

    @property
    def fingerprint(self) -> str:
        return f"{self.monitor}:{self.dedupe_key}"

"""What the series are made of, read from the state store: runs, the last run's findings, the outbox.

Every query is indexed or grouped, so a scrape costs a few small queries whatever the history's size:
the last run and last success per monitor go through `ix_runs_monitor`, the last run's findings through
`ix_finding_events_time`. Read-only; driver errors become StoreError like the store's own methods.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from monitors.contracts.errors import StoreError
from monitors.contracts.findings import utc
from monitors.store import schema as t
from monitors.store.rows import RESOLUTION_DECISION
from monitors.store.store import Store


@dataclass(frozen=True)
class LastRun:
    status: str
    started_at: datetime
    finished_at: datetime
    summary: dict[str, Any]

    @property
    def duration_seconds(self) -> float:
        return max((self.finished_at - self.started_at).total_seconds(), 0.0)


@dataclass
class MonitorReading:
    """One monitor's health as the store records it."""

    monitor: str
    last: LastRun | None = None
    last_success: datetime | None = None
    runs_by_status: Counter[str] = field(default_factory=Counter)
    findings: Counter[tuple[str, str]] = field(default_factory=Counter)  # (kind, severity) in the last run


@contextmanager
def _reading(store: Store, what: str) -> Iterator[sa.Connection]:
    try:
        with store.engine.connect() as conn:
            yield conn
    except sa.exc.SQLAlchemyError as exc:
        raise StoreError(f"state store: reading {what} for metrics failed: {type(exc).__name__}") from None


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def monitor_readings(store: Store, monitors: list[str] | None = None) -> dict[str, MonitorReading]:
    """Health of every monitor that ever ran (or of `monitors` only), keyed by name."""
    runs = t.runs
    out: dict[str, MonitorReading] = {}
    with _reading(store, "runs") as conn:
        query = sa.select(runs.c.monitor, runs.c.status, sa.func.count()).group_by(runs.c.monitor, runs.c.status)
        if monitors is not None:
            query = query.where(runs.c.monitor.in_(monitors))
        for monitor, status, count in conn.execute(query):
            out.setdefault(monitor, MonitorReading(monitor)).runs_by_status[status] = count
        for name, reading in out.items():
            row = conn.execute(
                sa.select(runs).where(runs.c.monitor == name).order_by(runs.c.finished_at.desc()).limit(1)
            ).first()
            if row is not None:
                reading.last = LastRun(row.status, utc(row.started_at), utc(row.finished_at), _json(row.summary) or {})
            reading.last_success = conn.execute(
                sa.select(sa.func.max(runs.c.finished_at)).where(runs.c.monitor == name, runs.c.status == "ok")
            ).scalar()
            if reading.last_success is not None:
                reading.last_success = utc(reading.last_success)
            if reading.last is not None:
                reading.findings = _findings_of(conn, name, reading.last)
    return out


def _findings_of(conn: sa.Connection, monitor: str, run: LastRun) -> Counter[tuple[str, str]]:
    """Findings the run produced: its events carry the run's clock (`observed_at` = the run's now)."""
    events = t.finding_events
    rows = conn.execute(
        sa.select(events.c.kind, events.c.severity, sa.func.count())
        .where(
            events.c.monitor == monitor,
            events.c.observed_at >= run.started_at,
            events.c.observed_at <= run.finished_at,
            ~events.c.decision.startswith(RESOLUTION_DECISION),  # what it ended is not what it found
        )
        .group_by(events.c.kind, events.c.severity)
    )
    return Counter({(kind, severity): count for kind, severity, count in rows})


def outbox_by_channel(store: Store, settled_since: datetime) -> dict[tuple[str, str], int]:
    """(channel, status) -> messages: every pending one, and the others settled since `settled_since`
    (the outbox retention: older ones are pruned, or kept only for a resolve, and not counted)."""
    outbox = t.outbox
    recent = sa.or_(outbox.c.status == "pending", outbox.c.settled_at >= settled_since)
    with _reading(store, "the outbox") as conn:
        rows = conn.execute(
            sa.select(outbox.c.channel, outbox.c.status, sa.func.count())
            .where(recent)
            .group_by(outbox.c.channel, outbox.c.status)
        )
        return {(channel, status): count for channel, status, count in rows}


def last_given_up_by_channel(store: Store) -> dict[str, datetime]:
    """channel -> when its most recent message was given up (status failed), among the rows kept.

    A rule on this time sees every new failure; the count of failed rows can stand still when one is
    given up in the same hour an old one is pruned."""
    outbox = t.outbox
    with _reading(store, "the outbox") as conn:
        rows = conn.execute(
            sa.select(outbox.c.channel, sa.func.max(outbox.c.settled_at))
            .where(outbox.c.status == "failed", outbox.c.settled_at.is_not(None))
            .group_by(outbox.c.channel)
        )
        return {channel: when for channel, when in rows if when is not None}


def open_finding_events(store: Store, since: datetime, until: datetime) -> list[dict[str, Any]]:
    """The newest event of every fingerprint observed in [since, until], oldest first, with when each
    fingerprint was first seen in that span and its dedupe decision (a resolution is an event too)."""
    newest: dict[str, dict[str, Any]] = {}
    first: dict[str, datetime] = {}
    events = t.finding_events
    with _reading(store, "open findings") as conn:
        rows = conn.execute(
            sa.select(events.c.fingerprint, events.c.observed_at, events.c.decision, events.c.finding)
            .where(events.c.observed_at >= since, events.c.observed_at <= until)
            .order_by(events.c.observed_at, events.c.id)
        )
        for fingerprint, observed_at, decision, finding in rows:
            seen = utc(observed_at)
            first.setdefault(fingerprint, seen)
            newest[fingerprint] = {"finding": _json(finding), "last_seen": seen, "decision": decision}
    return [{**v, "first_seen": first[fp], "fingerprint": fp} for fp, v in newest.items()]

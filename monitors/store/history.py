"""The store's run history: one row per run and the finding log, read by `status`, metrics and reports."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from monitors.contracts.findings import utc
from monitors.store import schema as t
from monitors.store.rows import RESOLUTION_DECISION


class RunHistory:
    """Mixed into Store: needs `self.engine`."""

    engine: sa.Engine

    def created_at(self) -> datetime | None:
        """When this store was set up (its first schema migration), or None before it was."""
        with self.engine.connect() as conn:
            if not sa.inspect(conn).has_table(t.migrations.name):
                return None
            first = conn.execute(sa.select(sa.func.min(t.migrations.c.applied_at))).scalar()
        return utc(first) if first is not None else None

    def record_run(self, monitor: str, *, started: datetime, finished: datetime, status: str, summary: dict) -> None:
        window = summary.get("window") or {}
        with self.engine.begin() as conn:
            conn.execute(
                t.runs.insert().values(
                    monitor=monitor,
                    started_at=started,
                    finished_at=finished,
                    window_start=_parse(window.get("start")),
                    window_end=_parse(window.get("end")),
                    status=status,
                    summary=summary,
                )
            )

    def last_runs(self) -> dict[str, dict[str, Any]]:
        """Per monitor: the last run, the last successful run (heartbeat), failures, and `held_back`
        ({since, skipped, reason}) while its latest runs were all skipped because another run held the lock."""
        out: dict[str, dict[str, Any]] = {}
        with self.engine.connect() as conn:
            for row in conn.execute(sa.select(t.runs).order_by(t.runs.c.finished_at, t.runs.c.id)):
                entry = out.setdefault(row.monitor, {"last_ok": None, "failures": 0, "held_back": None})
                finished = utc(row.finished_at)
                entry["last"] = {"status": row.status, "finished_at": finished}
                if row.status == "skipped":
                    held = entry["held_back"] or {"since": finished, "skipped": 0}
                    reason = (_json(row.summary) or {}).get("error")
                    entry["held_back"] = held | {"skipped": held["skipped"] + 1, "reason": reason}
                    continue
                entry["held_back"] = None
                if row.status == "ok":
                    entry["last_ok"] = finished
                else:
                    entry["failures"] += 1
        return out

    def runs_between(self, start: datetime, end: datetime) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(t.runs)
                .where(t.runs.c.finished_at >= start, t.runs.c.finished_at < end)
                .order_by(t.runs.c.finished_at)
            )
            return [{"monitor": r.monitor, "status": r.status, "summary": _json(r.summary)} for r in rows]

    def events_between(self, start: datetime, end: datetime) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(t.finding_events)
                .where(t.finding_events.c.observed_at >= start, t.finding_events.c.observed_at < end)
                .order_by(t.finding_events.c.id)
            )
            return [_event_row(r) for r in rows]

    def events_about(
        self, start: datetime, end: datetime, *, unplaced_observed: tuple[datetime, datetime]
    ) -> list[dict[str, Any]]:
        """Finding events that may be about [start, end): those whose data window meets it, and those
        stored without a window (before m008) observed in `unplaced_observed` [from, to); resolutions are
        left out. Each row has its window (None in older rows) and `observed_at`; the caller places it in
        exactly one period."""
        events = t.finding_events
        unplaced = sa.or_(events.c.window_start.is_(None), events.c.window_end.is_(None))
        query = (
            sa.select(events)
            .where(~events.c.decision.startswith(RESOLUTION_DECISION))  # an ending, not a sighting
            .where(
                sa.or_(
                    sa.and_(events.c.window_end >= start, events.c.window_start < end),
                    sa.and_(
                        unplaced,
                        events.c.observed_at >= unplaced_observed[0],
                        events.c.observed_at < unplaced_observed[1],
                    ),
                )
            )
            .order_by(events.c.id)
        )
        with self.engine.connect() as conn:
            return [
                _event_row(r)
                | {
                    "observed_at": utc(r.observed_at),
                    "window_start": utc(r.window_start) if r.window_start is not None else None,
                    "window_end": utc(r.window_end) if r.window_end is not None else None,
                }
                for r in conn.execute(query)
            ]


def _event_row(r: Any) -> dict[str, Any]:
    """A finding event as the readers take it: who, what, how it was decided, the finding itself."""
    return {
        "monitor": r.monitor,
        "fingerprint": r.fingerprint,
        "kind": r.kind,
        "severity": r.severity,
        "decision": r.decision,
        "finding": _json(r.finding),
    }


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _parse(value: Any) -> datetime | None:
    return utc(datetime.fromisoformat(value)) if isinstance(value, str) else None

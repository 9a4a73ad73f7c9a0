"""The store's record of scores written back to Langfuse, and of those still waiting to be written."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from monitors.contracts.findings import utc
from monitors.store import schema as t

_CHUNK = 500  # ids per IN (...) query


class ScoreLedger:
    """Mixed into Store: needs `self.engine`."""

    engine: sa.Engine

    def written_scores(self, ids: Iterable[str]) -> dict[str, tuple[str, datetime]]:
        """{score id: (digest, written_at)} for the ids written before."""
        keys, found = sorted(set(ids)), {}
        table = t.written_scores
        with self.engine.connect() as conn:
            for start in range(0, len(keys), _CHUNK):
                rows = conn.execute(sa.select(table).where(table.c.id.in_(keys[start : start + _CHUNK])))
                found.update({row.id: (row.digest, utc(row.written_at)) for row in rows})
        return found

    def remember_scores(
        self, written: Mapping[str, str], *, now: datetime, at: Mapping[str, datetime] | None = None
    ) -> None:
        """Record {score id: digest} as written at `now` (or at `at[id]`, the timestamp the server keeps
        for it), and drop them from the pending scores."""
        stamps = at or {}
        with self.engine.begin() as conn:
            for score_id, digest in written.items():
                values = {"digest": digest, "written_at": stamps.get(score_id, now)}
                _upsert(conn, t.written_scores, {"id": score_id}, values)
            _delete_pending(conn, list(written))

    def drop_pending_scores(self, ids: Iterable[str]) -> None:
        """Forget pending scores without marking them written (found written by an earlier run)."""
        with self.engine.begin() as conn:
            _delete_pending(conn, list(ids))

    def queue_scores(self, monitor: str, bodies: Mapping[str, dict[str, Any]], *, now: datetime) -> None:
        """Keep {score id: score as JSON} of `monitor` as pending until remember_scores says it was written
        (a newer body for the same id replaces the older one, and keeps its `sent_at`: it may still be on
        the server)."""
        with self.engine.begin() as conn:
            for score_id, body in bodies.items():
                values = {"monitor": monitor, "body": json.dumps(body, sort_keys=True), "queued_at": now}
                _upsert(conn, t.pending_scores, {"id": score_id}, values)

    def mark_scores_sending(self, ids: Iterable[str], *, now: datetime) -> None:
        """Say that a POST of these pending scores begins at `now`: from then on they may be on the server,
        even if the process dies before remember_scores."""
        table, keys = t.pending_scores, list(ids)
        with self.engine.begin() as conn:
            for start in range(0, len(keys), _CHUNK):
                conn.execute(table.update().where(table.c.id.in_(keys[start : start + _CHUNK])).values(sent_at=now))

    def scores_maybe_sent(self, monitor: str) -> dict[str, datetime]:
        """{score id: when its last POST began} for the pending scores of `monitor` that a run sent but did
        not see written (it failed, or was killed before remembering them)."""
        table = t.pending_scores
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(table.c.id, table.c.sent_at).where(table.c.monitor == monitor, table.c.sent_at.is_not(None))
            )
            return {row.id: utc(row.sent_at) for row in rows}

    def pending_score_counts(self) -> dict[str, int]:
        """{monitor: scores waiting to be written back} for monitors that have any."""
        with self.engine.connect() as conn:
            return _pending_counts(conn)

    def pending_scores(self, monitor: str) -> list[dict[str, Any]]:
        """The scores of `monitor` still waiting to be written, oldest first."""
        table = t.pending_scores
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(table.c.body).where(table.c.monitor == monitor).order_by(table.c.queued_at, table.c.id)
            )
            return [json.loads(row.body) for row in rows]


def _pending_counts(conn: sa.Connection) -> dict[str, int]:
    table = t.pending_scores
    rows = conn.execute(sa.select(table.c.monitor, sa.func.count()).group_by(table.c.monitor))
    return {monitor: int(n) for monitor, n in rows}


def _delete_pending(conn: sa.Connection, ids: list[str]) -> None:
    for start in range(0, len(ids), _CHUNK):
        conn.execute(t.pending_scores.delete().where(t.pending_scores.c.id.in_(ids[start : start + _CHUNK])))


def _upsert(conn: sa.Connection, table: sa.Table, key: dict[str, Any], values: dict[str, Any]) -> None:
    where = [table.c[k] == v for k, v in key.items()]
    if conn.execute(table.update().where(*where).values(**values)).rowcount == 0:
        conn.execute(table.insert().values(**key, **values))

"""The state store: watermarks, dedupe records, silences, outbox, monitor state, embedding cache, runs.

One code path over SQLAlchemy Core for a SQLite file (default) and PostgreSQL (clusters). The pipeline
commits a run's outbox rows, dedupe records, monitor state and watermark in ONE transaction
(`commit_run`), so a run killed at any point either queued everything or nothing.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from monitors.contracts.errors import StoreError
from monitors.contracts.findings import utc
from monitors.store import schema as t
from monitors.store.history import RunHistory
from monitors.store.locks import RunLocks, holder_id
from monitors.store.migrations import migrate
from monitors.store.outbox import OutboxLedger
from monitors.store.rows import FindingRecord, RunCommit, Silence
from monitors.store.scores import ScoreLedger
from monitors.store.urls import engine_url, redact_url

# A change request nobody mentioned for this long is forgotten (and read afresh if it comes back).
CHANGES_RETENTION = timedelta(days=90)


class Store(RunHistory, ScoreLedger, OutboxLedger):
    """State store over one SQLAlchemy engine. Create with `Store.open(url)`."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.locks = RunLocks(engine, holder_id())

    @classmethod
    def open(cls, url: str, *, migrate_schema: bool = True) -> Store:
        try:
            # Wait up to 30 s for a locked SQLite file (or 10 s to connect to PostgreSQL) unless the URL
            # says otherwise (`?timeout=2`, `?connect_timeout=3`).
            key, wait = ("timeout", 30) if url.startswith("sqlite") else ("connect_timeout", 10)
            connect_args = {} if f"{key}=" in url else {key: wait}
            engine = sa.create_engine(engine_url(url), connect_args=connect_args, pool_pre_ping=True)
            if migrate_schema:
                migrate(engine)
        except sa.exc.SQLAlchemyError as exc:
            raise StoreError(f"cannot open state store {redact_url(url)}: {_reason(exc)}") from None
        except OSError as exc:
            raise StoreError(f"cannot open state store {redact_url(url)}: {exc.strerror}") from None
        return cls(engine)

    def close(self) -> None:
        self.locks.abandon_all()
        self.engine.dispose()

    # --- locks (monitors.store.locks) -------------------------------------------------------------

    @property
    def holder(self) -> str:
        return self.locks.holder

    @holder.setter
    def holder(self, value: str) -> None:
        self.locks.holder = value

    def acquire_lock(self, monitor: str, *, now: datetime, lease: timedelta) -> bool:
        """Take the run lock of `monitor`; False when a live run holds it (see monitors.store.locks)."""
        return self.locks.acquire(monitor, now=now, lease=lease)

    def release_lock(self, monitor: str) -> None:
        self.locks.release(monitor)

    def lock_still_held(self, monitor: str) -> bool:
        return self.locks.still_held(monitor)

    def lock_holders(self) -> dict[str, dict[str, Any]]:
        return self.locks.holders()

    # --- watermarks, state, dedupe records ----------------------------------------------------------

    def watermark(self, monitor: str) -> datetime | None:
        with self.engine.connect() as conn:
            value = conn.execute(sa.select(t.watermarks.c.until).where(t.watermarks.c.monitor == monitor)).scalar()
        return utc(value) if value else None

    def load_state(self, monitor: str) -> dict[str, Any]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(t.monitor_state.c.key, t.monitor_state.c.value).where(t.monitor_state.c.monitor == monitor)
            )
            return {row.key: row.value for row in rows}

    def finding_records(self, fingerprints: Iterable[str]) -> dict[str, FindingRecord]:
        keys = list(set(fingerprints))
        found: dict[str, FindingRecord] = {}
        with self.engine.connect() as conn:
            for start in range(0, len(keys), 500):
                chunk = keys[start : start + 500]
                for row in conn.execute(sa.select(t.findings).where(t.findings.c.fingerprint.in_(chunk))):
                    found[row.fingerprint] = FindingRecord(
                        row.fingerprint,
                        utc(row.first_seen),
                        utc(row.last_sent) if row.last_sent else None,
                        row.sent_rank,
                        utc(row.resolved_at) if row.resolved_at else None,
                    )
        return found

    def commit_run(self, commit: RunCommit, *, fenced: bool = False) -> bool:
        """Queue messages, record dedupe state and events, save state and advance the watermark: atomically.

        `fenced`: only while this process holds the monitor's run lock; False (nothing written) when
        another run took it over, which then owns the window."""
        with self.engine.begin() as conn:
            if fenced and not self.locks.fence(conn, commit.monitor):
                return False
            for fingerprint, sent_rank in commit.seen:
                self._upsert_finding(conn, commit.monitor, fingerprint, sent_rank, commit.now)
            if commit.outbox:
                conn.execute(
                    t.outbox.insert(),
                    [
                        {
                            "fingerprint": fp,
                            "channel": channel,
                            "payload": payload,
                            "created_at": commit.now,
                            "attempts": 0,
                            "next_attempt": (rest[0] if rest and rest[0] else commit.now),
                            "status": "pending",
                        }
                        for fp, channel, payload, *rest in commit.outbox
                    ],
                )
            if commit.resolved:
                conn.execute(
                    t.findings.update()
                    .where(t.findings.c.fingerprint.in_(commit.resolved))
                    .values(last_sent=None, sent_rank=None, last_seen=commit.now, resolved_at=commit.now)
                )
            if commit.events:
                conn.execute(t.finding_events.insert(), commit.events)
            for key, value in commit.state.items():
                self._upsert(conn, t.monitor_state, {"monitor": commit.monitor, "key": key}, {"value": value})
            if commit.watermark is not None:
                self._upsert(conn, t.watermarks, {"monitor": commit.monitor}, {"until": commit.watermark})
        return True

    def _upsert_finding(
        self, conn: sa.Connection, monitor: str, fingerprint: str, sent_rank: int | None, now: datetime
    ) -> None:
        values: dict[str, Any] = {"last_seen": now, "resolved_at": None}
        if sent_rank is not None:
            values |= {"last_sent": now, "sent_rank": sent_rank}
        updated = conn.execute(
            t.findings.update()
            .where(t.findings.c.fingerprint == fingerprint)
            .values(**values, times_seen=t.findings.c.times_seen + 1)
        )
        if updated.rowcount == 0:
            conn.execute(
                t.findings.insert().values(
                    fingerprint=fingerprint, monitor=monitor, first_seen=now, times_seen=1, **values
                )
            )

    @staticmethod
    def _upsert(conn: sa.Connection, table: sa.Table, key: dict[str, Any], values: dict[str, Any]) -> None:
        where = [table.c[k] == v for k, v in key.items()]
        if conn.execute(table.update().where(*where).values(**values)).rowcount == 0:
            conn.execute(table.insert().values(**key, **values))

    # --- silences ----------------------------------------------------------------------------------

    def add_silence(self, monitor: str, key: str | None, until: datetime, *, now: datetime, reason: str = "") -> int:
        with self.engine.begin() as conn:
            result = conn.execute(
                t.silences.insert().values(monitor=monitor, key=key, until=until, created_at=now, reason=reason)
            )
            return int(result.inserted_primary_key[0])

    def silences(self, *, now: datetime) -> list[Silence]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(t.silences).where(t.silences.c.until > now).order_by(t.silences.c.id))
            return [Silence(r.id, r.monitor, r.key, utc(r.until), r.reason) for r in rows]

    def remove_silence(self, silence_id: int) -> bool:
        with self.engine.begin() as conn:
            return conn.execute(t.silences.delete().where(t.silences.c.id == silence_id)).rowcount == 1

    # --- embedding cache (implements monitors.contracts.monitor.EmbeddingCache) --------------------------------

    def get_many(self, model: str, hashes: Iterable[str]) -> dict[str, list[float]]:
        keys = list(set(hashes))
        found: dict[str, list[float]] = {}
        with self.engine.connect() as conn:
            for start in range(0, len(keys), 500):
                rows = conn.execute(
                    sa.select(t.embedding_cache.c.content_hash, t.embedding_cache.c.vector).where(
                        t.embedding_cache.c.model == model,
                        t.embedding_cache.c.content_hash.in_(keys[start : start + 500]),
                    )
                )
                found.update({r.content_hash: _json(r.vector) for r in rows})
        return found

    def put_many(self, model: str, vectors: Mapping[str, list[float]]) -> None:
        if not vectors:
            return
        known = self.get_many(model, vectors)
        fresh = [
            {"model": model, "content_hash": h, "vector": [float(x) for x in v]}
            for h, v in vectors.items()
            if h not in known
        ]
        if fresh:
            with self.engine.begin() as conn:
                conn.execute(t.embedding_cache.insert(), fresh)

    # --- goal-drift change requests (implements monitors.contracts.forge.ChangeCache) -------------------

    def get_changes(self, keys: Iterable[str]) -> dict[str, dict[str, Any]]:
        wanted = list(set(keys))
        found: dict[str, dict[str, Any]] = {}
        with self.engine.connect() as conn:
            for start in range(0, len(wanted), 500):
                rows = conn.execute(
                    sa.select(t.drift_changes.c.key, t.drift_changes.c.entry).where(
                        t.drift_changes.c.key.in_(wanted[start : start + 500])
                    )
                )
                found.update({r.key: _json(r.entry) for r in rows})
        return found

    def put_changes(self, entries: Mapping[str, dict[str, Any]], *, now: datetime) -> None:
        """Insert or replace entries; entries untouched for CHANGES_RETENTION are dropped on the way."""
        if not entries:
            return
        with self.engine.begin() as conn:
            for key, entry in entries.items():
                values = {"head_sha": str(entry.get("head", ""))[:80], "entry": entry, "updated_at": now}
                self._upsert(conn, t.drift_changes, {"key": key[:400]}, values)
            conn.execute(t.drift_changes.delete().where(t.drift_changes.c.updated_at < now - CHANGES_RETENTION))


def _reason(exc: sa.exc.SQLAlchemyError) -> str:
    """The driver's one-line reason ('database is locked'), never the SQL, its parameters or the URL."""
    orig = getattr(exc, "orig", None)
    first = str(orig).strip().splitlines()[0] if orig is not None and str(orig).strip() else ""
    return f"{type(exc).__name__}: {first[:200]}" if first else type(exc).__name__


def _store_errors(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def wrapper(self: Store, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except sa.exc.SQLAlchemyError as exc:
            raise StoreError(f"state store: {method.__name__} failed: {_reason(exc)}") from None

    return wrapper


# A locked, read-only or restarted database surfaces as StoreError from every operation (the CLI then
# exits 1 with one line), not as a driver exception and traceback.
for _klass in (RunHistory, ScoreLedger, OutboxLedger, Store):
    for _name, _method in list(vars(_klass).items()):
        if not _name.startswith("_") and _name not in ("open", "close") and callable(_method):
            setattr(Store, _name, _store_errors(_method))


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value

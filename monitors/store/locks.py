"""Run locks that die with their holder, so a killed run never holds its monitor back for long.

PostgreSQL: a session advisory lock (`pg_try_advisory_lock`) on a connection kept open for the run.
The server drops it the moment that session ends, whatever ended it: `kill -9`, an OOM kill, a pod
deleted at its deadline. A `run_locks` row is written beside it only so `status` can say who holds it.

SQLite: a short lease in the `run_locks` table, renewed by a heartbeat thread every third of the lease.
A holder that dies stops renewing, and the lease runs out within `lease` (30 s by default), whichever
host it ran on; a dead process on this host is noticed at once (its pid is gone).

Keys are namespaced by the PostgreSQL schema, so deployments sharing a database never block each other.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa

from monitors.contracts.findings import utc
from monitors.store import schema as t

log = logging.getLogger("monitors.store.locks")

_PG_KEY = sa.text("hashtextextended('langfuse-monitors:run:' || current_schema() || ':' || :monitor, 0)")
_PG_TRY = sa.text(f"SELECT pg_try_advisory_lock({_PG_KEY.text})")
_PG_UNLOCK = sa.text(f"SELECT pg_advisory_unlock({_PG_KEY.text})")


def holder_id() -> str:
    """Who holds a lock: `host:pid` (in Kubernetes the host is the pod's name)."""
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass
class HeldLock:
    """One lock this process holds: its PostgreSQL session, or its SQLite heartbeat."""

    monitor: str
    connection: sa.Connection | None = None  # PostgreSQL: the session that owns the advisory lock
    heartbeat: threading.Thread | None = None
    stop: threading.Event = field(default_factory=threading.Event)
    lost: bool = False  # SQLite: the lease was taken over (this process stalled for longer than it)


class RunLocks:
    """Acquire and release per-monitor run locks on one engine, as `holder`."""

    def __init__(self, engine: sa.Engine, holder: str) -> None:
        self.engine = engine
        self.holder = holder
        self.held: dict[str, HeldLock] = {}

    @property
    def _postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    def acquire(self, monitor: str, *, now: datetime, lease: timedelta) -> bool:
        if monitor in self.held:
            return False  # one run per monitor per process as well
        lock = self._acquire_advisory(monitor) if self._postgres else self._acquire_lease(monitor, now, lease)
        if lock is None:
            return False
        self.held[monitor] = lock
        try:
            self._write_row(monitor, now, lease)
        except BaseException:
            self.release(monitor)  # never keep a lock nobody will release
            raise
        return True

    def release(self, monitor: str) -> None:
        lock = self.held.pop(monitor, None)
        try:
            if lock is not None:
                lock.stop.set()
                if lock.heartbeat is not None:
                    lock.heartbeat.join(timeout=5)
            with self.engine.begin() as conn:
                conn.execute(
                    t.run_locks.delete().where(t.run_locks.c.monitor == monitor, t.run_locks.c.holder == self.holder)
                )
        finally:
            # Even when the row could not be deleted: an advisory lock left on a pooled session would
            # outlive this run and hold the monitor back in every other pod.
            if lock is not None and lock.connection is not None:
                _close_session(lock.connection, monitor)

    def abandon_all(self) -> None:
        """Stop renewing and drop every lock without touching its row (the store is closing): SQLite
        leases run out, PostgreSQL sessions end."""
        for lock in self.held.values():
            lock.stop.set()
            if lock.connection is not None:
                with contextlib.suppress(sa.exc.SQLAlchemyError):
                    lock.connection.invalidate()
                    lock.connection.close()
        for lock in self.held.values():
            if lock.heartbeat is not None:
                lock.heartbeat.join(timeout=5)
        self.held.clear()

    def still_held(self, monitor: str) -> bool:
        """False when this process no longer holds `monitor` (lease taken over, or session gone).

        Asks the store, not only the heartbeat: a process that was frozen past its lease (a GC pause, a
        stopped container, a suspended VM) runs on when it thaws, before its heartbeat beats again."""
        if not self._session_alive(monitor):
            return False
        with self.engine.connect() as conn:
            return self._row_is_ours(conn, monitor)

    def fence(self, conn: sa.Connection, monitor: str) -> bool:
        """Inside the transaction that commits a run: True when this process still holds `monitor`.

        The check is a write to the lock's row, so on SQLite the transaction takes the write lock before
        anything else and no takeover can slip in between this check and the commit."""
        if not self._session_alive(monitor):
            return False
        claimed = conn.execute(
            t.run_locks.update()
            .where(t.run_locks.c.monitor == monitor, t.run_locks.c.holder == self.holder)
            .values(holder=self.holder)
        )
        return claimed.rowcount == 1

    def _session_alive(self, monitor: str) -> bool:
        lock = self.held.get(monitor)
        if lock is None or lock.lost:
            return False
        if lock.connection is not None:
            try:
                lock.connection.execute(sa.text("SELECT 1"))
            except sa.exc.SQLAlchemyError:
                return False  # the session ended, and the advisory lock with it
        return True

    def _row_is_ours(self, conn: sa.Connection, monitor: str) -> bool:
        # SQLite: the row is the lease. PostgreSQL: whoever took the advisory lock after this session
        # ended wrote its name here.
        holder = conn.execute(sa.select(t.run_locks.c.holder).where(t.run_locks.c.monitor == monitor)).scalar()
        return holder == self.holder

    def holders(self) -> dict[str, dict[str, object]]:
        """monitor -> {holder, acquired_at, expires_at}: who holds (or last held) each lock, for `status`."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(t.run_locks)).all()
        return {
            r.monitor: {"holder": r.holder, "acquired_at": utc(r.acquired_at), "expires_at": utc(r.expires_at)}
            for r in rows
        }

    # --- PostgreSQL ----------------------------------------------------------------------------------

    def _acquire_advisory(self, monitor: str) -> HeldLock | None:
        connection = self.engine.connect()
        try:
            # Autocommit: a session lock outlives transactions, and an idle-in-transaction session
            # would be cut by idle_in_transaction_session_timeout.
            connection = connection.execution_options(isolation_level="AUTOCOMMIT")
            if connection.execute(_PG_TRY, {"monitor": monitor}).scalar():
                return HeldLock(monitor, connection=connection)
        except BaseException:
            connection.close()
            raise
        connection.close()
        return None

    # --- SQLite --------------------------------------------------------------------------------------

    def _acquire_lease(self, monitor: str, now: datetime, lease: timedelta) -> HeldLock | None:
        with self.engine.begin() as conn:
            row = conn.execute(sa.select(t.run_locks).where(t.run_locks.c.monitor == monitor)).first()
            if row is not None and utc(row.expires_at) > now and _holder_alive(row.holder):
                return None
            if row is None:
                try:
                    conn.execute(
                        t.run_locks.insert().values(
                            monitor=monitor, holder=self.holder, acquired_at=now, expires_at=now + lease
                        )
                    )
                except sa.exc.IntegrityError:
                    return None
            else:
                # Expired, or its process on this host is gone (kill -9): take it over atomically.
                taken = conn.execute(
                    t.run_locks.update()
                    .where(t.run_locks.c.monitor == monitor, t.run_locks.c.holder == row.holder)
                    .values(holder=self.holder, acquired_at=now, expires_at=now + lease)
                )
                if taken.rowcount != 1:
                    return None
        lock = HeldLock(monitor)
        if self.engine.url.database not in (None, "", ":memory:"):
            # An in-memory store is private to this process (and to each thread's connection): no other
            # run can see it, so there is nothing to renew against.
            lock.heartbeat = threading.Thread(
                target=self._renew, args=(lock, now, lease), name=f"lock-heartbeat-{monitor}", daemon=True
            )
            lock.heartbeat.start()
        return lock

    def _renew(self, lock: HeldLock, acquired: datetime, lease: timedelta) -> None:
        """Push the lease forward every third of it until released. Times follow the clock the lock was
        taken with (tests run on fixed clocks), advanced by the real time elapsed since."""
        started = time.monotonic()
        interval = max(lease.total_seconds() / 3, 0.05)
        while not lock.stop.wait(interval):
            expires = acquired + timedelta(seconds=time.monotonic() - started) + lease
            try:
                with self.engine.begin() as conn:
                    renewed = conn.execute(
                        t.run_locks.update()
                        .where(t.run_locks.c.monitor == lock.monitor, t.run_locks.c.holder == self.holder)
                        .values(expires_at=expires)
                    ).rowcount
            except sa.exc.SQLAlchemyError as exc:
                # A busy or briefly unavailable store: try again at the next beat; the lease has slack.
                log.warning("run lock of %s: heartbeat failed (%s)", lock.monitor, type(exc).__name__)
                continue
            if renewed == 0:
                lock.lost = True
                log.error("run lock of %s was taken over by another run; this run will not deliver", lock.monitor)
                return

    # --- both ----------------------------------------------------------------------------------------

    def _write_row(self, monitor: str, now: datetime, lease: timedelta) -> None:
        if not self._postgres:
            return  # the lease row is the lock itself
        values = {"holder": self.holder, "acquired_at": now, "expires_at": now + lease}
        with self.engine.begin() as conn:
            updated = conn.execute(t.run_locks.update().where(t.run_locks.c.monitor == monitor).values(**values))
            if updated.rowcount == 0:
                conn.execute(t.run_locks.insert().values(monitor=monitor, **values))


def _close_session(connection: sa.Connection, monitor: str) -> None:
    try:
        connection.execute(_PG_UNLOCK, {"monitor": monitor})
    except sa.exc.SQLAlchemyError:
        pass  # the session is already gone, and its lock with it
    finally:
        connection.invalidate()  # never hand a session that held a lock back to the pool
        connection.close()


def _holder_alive(holder: str) -> bool:
    host, _, pid = holder.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return True  # another host's process: its lease decides
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True

"""Group an unordered observation stream by session without holding it in memory.

Observations v2 returns rows newest first across all sessions, so one session's calls are scattered
over the whole stream. The spool writes each row to a temporary SQLite file keyed by session, then
hands sessions back one at a time (oldest first). Memory holds one session, even at a million rows;
the file is unlinked as soon as it is open, so nothing is left behind even by a killed run. Rows are
pickled: the file is private scratch space this process writes and reads back, and re-parsing JSON
rows cost more than the checks themselves.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import pickle
import sqlite3
import tempfile
from collections.abc import Iterator
from datetime import datetime
from types import TracebackType
from typing import Any

from monitors.audit.nesting import bounded, shallow
from monitors.contracts.records import Observation

BATCH = 1000  # rows per executemany; one Observations v2 page
# A plain tuple of field values pickles several times faster than a slotted dataclass, whose generic
# __getstate__/__setstate__ look the fields up on every row.
FIELDS = tuple(f.name for f in dataclasses.fields(Observation))


def _bounded(name: str, value: Any) -> Any:
    """Input and output, and each metadata value (metadata stays a mapping), within MAX_NESTING."""
    if name in ("input", "output"):
        return bounded(value)
    if name == "metadata" and not shallow(value):
        return {key: bounded(item) for key, item in value.items()}
    return value


class SessionSpool:
    """Temporary on-disk store of observations, grouped by session on read."""

    def __init__(self, directory: str | None = None) -> None:
        fd, self.path = tempfile.mkstemp(prefix="audit-spool-", suffix=".sqlite", dir=directory)
        os.close(fd)
        self._db = sqlite3.connect(self.path)
        # The file is scratch space: durability buys nothing and costs fsyncs.
        self._db.execute("PRAGMA journal_mode=OFF")
        self._db.execute("PRAGMA synchronous=OFF")
        self._db.execute("CREATE TABLE obs (session TEXT NOT NULL, start TEXT NOT NULL, row BLOB NOT NULL)")
        # Unlink now: the open connection keeps the file, and a run killed with SIGKILL (OOM, a pod's
        # deadline) leaves nothing behind. Without a journal SQLite never reopens it by name.
        os.unlink(self.path)
        self._pending: list[tuple[str, str, bytes]] = []
        self.rows = 0

    def add(self, obs: Observation) -> None:
        # Pickling recurses: an answer nested hundreds of levels deep is spooled as its text.
        values = [_bounded(name, getattr(obs, name)) for name in FIELDS]
        row = pickle.dumps(tuple(values), protocol=pickle.HIGHEST_PROTOCOL)
        # UTC ISO text sorts like the times it holds, so SQLite can order and compare it.
        self._pending.append((obs.group_key, obs.start_time.isoformat(), row))
        self.rows += 1
        if len(self._pending) >= BATCH:
            self._flush()

    def _flush(self) -> None:
        if self._pending:
            self._db.executemany("INSERT INTO obs VALUES (?, ?, ?)", self._pending)
            self._pending.clear()

    def session_keys(self, *, active_since: datetime | None = None) -> list[str]:
        """Session keys, oldest first (by their first observation).

        With `active_since`, only sessions with an observation at or after it: a session that ended
        before it was audited whole by an earlier run.
        """
        self._flush()
        self._db.execute("CREATE INDEX IF NOT EXISTS obs_session ON obs (session, start)")
        having = "HAVING MAX(start) >= ?" if active_since else ""
        query = f"SELECT session FROM obs GROUP BY session {having} ORDER BY MIN(start), session"
        args = (active_since.isoformat(),) if active_since else ()
        return [key for (key,) in self._db.execute(query, args)]

    def observations(self, key: str) -> list[Observation]:
        """Every observation of one session, in start order."""
        rows = self._db.execute("SELECT row FROM obs WHERE session = ? ORDER BY start", (key,))
        return [Observation(*pickle.loads(row)) for (row,) in rows]

    def sessions(self) -> Iterator[tuple[str, list[Observation]]]:
        """(session key, observations) one session at a time, oldest session first."""
        for key in self.session_keys():
            yield key, self.observations(key)

    def close(self) -> None:
        self._pending.clear()
        self._db.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)

    def __enter__(self) -> SessionSpool:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

"""Numbered schema migrations. Never edit one after it has shipped; add the next number instead.

`migrate` serialises itself, so several runs opening a new store at once (CronJobs firing in the same
minute at first deploy) apply each migration exactly once and all proceed: on PostgreSQL a transaction
advisory lock, on SQLite `BEGIN IMMEDIATE` (one writer; the others wait up to the busy timeout). The
check of what is applied happens after the lock is taken, inside the same transaction as the changes.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import sqlalchemy as sa

from monitors.store import schema

_PG_MIGRATION_LOCK = sa.text(
    "SELECT pg_advisory_xact_lock(hashtextextended('langfuse-monitors:migrate:' || current_schema(), 0))"
)


def m001_initial(conn: sa.Connection) -> None:
    tables = [t for t in schema.metadata.sorted_tables if t is not schema.migrations]
    schema.metadata.create_all(conn, tables=tables)


def m002_written_scores(conn: sa.Connection) -> None:
    # A database created after this table joined the schema already has it (m001 creates every table).
    schema.written_scores.create(conn, checkfirst=True)


def m003_outbox_unconfirmed(conn: sa.Connection) -> None:
    """Count POSTs whose answer never came (they may have reached the chat), to bound duplicates."""
    names = {c["name"] for c in sa.inspect(conn).get_columns("outbox")}
    if "unconfirmed" not in names:  # a store created by m001 of this version already has it
        conn.execute(sa.text("ALTER TABLE outbox ADD COLUMN unconfirmed INTEGER NOT NULL DEFAULT 0"))


def m004_drift_changes(conn: sa.Connection) -> None:
    # A database created by m001 before this table existed lacks it; a fresh one already has it.
    schema.drift_changes.create(conn, checkfirst=True)


def m005_pending_scores(conn: sa.Connection) -> None:
    # Scores left unwritten by a cut-short run wait here for the next one; a fresh store has the table.
    schema.pending_scores.create(conn, checkfirst=True)


def m006_pending_score_sent_at(conn: sa.Connection) -> None:
    """When a pending score's POST began, so a run killed before remembering it is not a duplicate."""
    names = {c["name"] for c in sa.inspect(conn).get_columns("pending_scores")}
    if "sent_at" not in names:  # a store created by m001 or m005 of this version already has it
        kind = schema.pending_scores.c.sent_at.type.compile(dialect=conn.dialect)
        conn.execute(sa.text(f"ALTER TABLE pending_scores ADD COLUMN sent_at {kind}"))


def m007_outbox_fingerprint_index(conn: sa.Connection) -> None:
    """Resolved notices read a finding's outbox rows by fingerprint; without an index each is a full scan
    of an outbox that keeps every message ever sent. A store created by m001 of this version has it."""
    conn.execute(sa.text("CREATE INDEX IF NOT EXISTS ix_outbox_fingerprint ON outbox (fingerprint)"))


def m008_finding_event_windows(conn: sa.Connection) -> None:
    """The data window each finding event is about, so the weekly report places a finding in the week of
    its data rather than the week its run happened. Rows written before stay NULL (placed by observed_at).
    A store created by m001 of this version already has the columns and the index."""
    if not sa.inspect(conn).has_table(schema.finding_events.name):
        schema.finding_events.create(conn)  # a store that never had the log (hand-made, partial) gets it whole
        return
    names = {c["name"] for c in sa.inspect(conn).get_columns(schema.finding_events.name)}
    kind = schema.finding_events.c.window_start.type.compile(dialect=conn.dialect)
    for column in ("window_start", "window_end"):
        if column not in names:
            conn.execute(sa.text(f"ALTER TABLE finding_events ADD COLUMN {column} {kind}"))
    conn.execute(sa.text("CREATE INDEX IF NOT EXISTS ix_finding_events_window ON finding_events (window_end)"))


def m009_finding_resolved_at(conn: sa.Connection) -> None:
    """When a run said a finding no longer holds, so runs that say it again (drift, for every earlier commit
    of a merge request it judges again) log its end once. Rows written before stay NULL: such a finding's
    end is logged once more, then kept. A store created by m001 of this version already has the column."""
    if not sa.inspect(conn).has_table(schema.findings.name):
        schema.findings.create(conn)  # a store that never had the table (hand-made, partial) gets it whole
        return
    names = {c["name"] for c in sa.inspect(conn).get_columns(schema.findings.name)}
    if "resolved_at" not in names:
        kind = schema.findings.c.resolved_at.type.compile(dialect=conn.dialect)
        conn.execute(sa.text(f"ALTER TABLE findings ADD COLUMN resolved_at {kind}"))


def m010_outbox_settled_at(conn: sa.Connection) -> None:
    """When each outbox row was settled (sent or given up), indexed, so a run prunes rows older than the
    retention with one indexed DELETE. Rows settled before get their best known time: when they were
    sent, else their last scheduled attempt (else now: a hand-made table without those columns). A store
    created by m001 of this version has the column."""
    names = {c["name"] for c in sa.inspect(conn).get_columns(schema.outbox.name)}
    if "settled_at" not in names:
        kind = schema.outbox.c.settled_at.type.compile(dialect=conn.dialect)
        conn.execute(sa.text(f"ALTER TABLE outbox ADD COLUMN settled_at {kind}"))
        known = [schema.outbox.c[name] for name in ("sent_at", "next_attempt") if name in names]
        settled = sa.func.coalesce(*known, datetime.now(UTC)) if known else datetime.now(UTC)
        conn.execute(sa.update(schema.outbox).where(schema.outbox.c.status != "pending").values(settled_at=settled))
    conn.execute(sa.text("CREATE INDEX IF NOT EXISTS ix_outbox_settled ON outbox (settled_at)"))


MIGRATIONS: list[tuple[str, Callable[[sa.Connection], None]]] = [
    ("m001_initial", m001_initial),
    ("m002_written_scores", m002_written_scores),
    ("m003_outbox_unconfirmed", m003_outbox_unconfirmed),
    ("m004_drift_changes", m004_drift_changes),
    ("m005_pending_scores", m005_pending_scores),
    ("m006_pending_score_sent_at", m006_pending_score_sent_at),
    ("m007_outbox_fingerprint_index", m007_outbox_fingerprint_index),
    ("m008_finding_event_windows", m008_finding_event_windows),
    ("m009_finding_resolved_at", m009_finding_resolved_at),
    ("m010_outbox_settled_at", m010_outbox_settled_at),
]


def migrate(engine: sa.Engine) -> list[str]:
    """Apply pending migrations in order, in one transaction under a lock; return the names applied."""
    if not _pending(engine):
        return []  # the usual case: a read, no write lock, so opening never waits for a busy writer
    applied: list[str] = []
    with engine.begin() as conn:
        _serialise(conn)
        schema.metadata.create_all(conn, tables=[schema.migrations])
        done = set(conn.execute(sa.select(schema.migrations.c.name)).scalars())
        for name, step in MIGRATIONS:
            if name in done:
                continue
            step(conn)
            conn.execute(schema.migrations.insert().values(name=name, applied_at=datetime.now(UTC)))
            applied.append(name)
    return applied


def _pending(engine: sa.Engine) -> list[str]:
    with engine.connect() as conn:
        if not sa.inspect(conn).has_table(schema.migrations.name):
            return [name for name, _ in MIGRATIONS]
        done = set(conn.execute(sa.select(schema.migrations.c.name)).scalars())
    return [name for name, _ in MIGRATIONS if name not in done]


def _serialise(conn: sa.Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(_PG_MIGRATION_LOCK)
    elif conn.dialect.name == "sqlite":
        # pysqlite opens transactions lazily (and only before DML); take the write lock now instead.
        conn.exec_driver_sql("BEGIN IMMEDIATE")

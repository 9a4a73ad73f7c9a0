"""Numbered schema migrations. Never edit one after it has shipped; add the next number instead."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import sqlalchemy as sa

from monitors.store import schema


def m001_initial(conn: sa.Connection) -> None:
    tables = [t for t in schema.metadata.sorted_tables if t is not schema.migrations]
    schema.metadata.create_all(conn, tables=tables)


def m002_drift_changes(conn: sa.Connection) -> None:
    # A database created by m001 before this table existed lacks it; a fresh one already has it.
    schema.drift_changes.create(conn, checkfirst=True)


MIGRATIONS: list[tuple[str, Callable[[sa.Connection], None]]] = [
    ("m001_initial", m001_initial),
    ("m002_drift_changes", m002_drift_changes),
]


def migrate(engine: sa.Engine) -> list[str]:
    """Apply pending migrations in order; return the names applied. Safe to run concurrently."""
    schema.metadata.create_all(engine, tables=[schema.migrations])
    applied: list[str] = []
    for name, step in MIGRATIONS:
        with engine.begin() as conn:
            done = conn.execute(sa.select(schema.migrations.c.name).where(schema.migrations.c.name == name)).first()
            if done:
                continue
            step(conn)
            conn.execute(schema.migrations.insert().values(name=name, applied_at=datetime.now(UTC)))
            applied.append(name)
    return applied

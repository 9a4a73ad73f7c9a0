"""The store remembers the scores written back to Langfuse (migration m002), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from monitors.store import migrations, schema
from monitors.store.store import Store

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)


def test_written_scores_round_trip_and_update(store: Store) -> None:
    assert store.written_scores(["a", "b"]) == {}
    store.remember_scores({"a": "d1", "b": "d2"}, now=NOW)
    store.remember_scores({"a": "d3"}, now=NOW + timedelta(days=1))
    assert store.written_scores(["a", "b", "c"]) == {"a": ("d3", NOW + timedelta(days=1)), "b": ("d2", NOW)}


def test_m002_adds_the_table_to_a_database_made_before_it(tmp_path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    schema.metadata.create_all(engine, tables=[schema.migrations])
    with engine.begin() as conn:  # a database from before m002: m001's tables only
        tables = [t for t in schema.metadata.sorted_tables if t not in (schema.migrations, schema.written_scores)]
        schema.metadata.create_all(conn, tables=tables)
        conn.execute(schema.migrations.insert().values(name="m001_initial", applied_at=NOW))
    # The later migrations run too; each finds its change already made by create_all and does nothing.
    assert migrations.migrate(engine) == ["m002_written_scores", "m003_outbox_unconfirmed", "m004_drift_changes"]
    assert "written_scores" in sa.inspect(engine).get_table_names()
    assert migrations.migrate(engine) == []

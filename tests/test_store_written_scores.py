"""The store remembers the scores written back to Langfuse (migration m002), keeps those still to write
(m005) and when a POST of one began (m006), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from monitors.store import migrations, schema
from monitors.store.store import Store
from monitors.store.urls import engine_url

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
        before = (schema.migrations, schema.written_scores, schema.pending_scores)
        tables = [t for t in schema.metadata.sorted_tables if t not in before]
        schema.metadata.create_all(conn, tables=tables)
        conn.execute(schema.migrations.insert().values(name="m001_initial", applied_at=NOW))
    # The later migrations run too; each finds its change already made by create_all and does nothing.
    assert migrations.migrate(engine) == [
        "m002_written_scores",
        "m003_outbox_unconfirmed",
        "m004_drift_changes",
        "m005_pending_scores",
        "m006_pending_score_sent_at",
        "m007_outbox_fingerprint_index",
        "m008_finding_event_windows",
        "m009_finding_resolved_at",
        "m010_outbox_settled_at",
    ]
    assert {"written_scores", "pending_scores"} <= set(sa.inspect(engine).get_table_names())
    assert migrations.migrate(engine) == []


def test_pending_scores_wait_per_monitor_until_remembered_as_written(store: Store) -> None:
    store.queue_scores("drift", {"a": {"id": "a", "v": 1}, "b": {"id": "b", "v": 2}}, now=NOW)
    store.queue_scores("audit", {"c": {"id": "c", "v": 3}}, now=NOW)
    store.queue_scores("drift", {"a": {"id": "a", "v": 4}}, now=NOW + timedelta(hours=1))  # a newer body
    assert store.pending_scores("drift") == [{"id": "b", "v": 2}, {"id": "a", "v": 4}]  # oldest first
    store.remember_scores({"b": "db"}, now=NOW)
    store.drop_pending_scores(["a"])
    assert store.pending_scores("drift") == [] and store.pending_scores("audit") == [{"id": "c", "v": 3}]
    assert store.written_scores(["a", "b"]) == {"b": ("db", NOW)}  # dropped is not written


def test_a_pending_score_keeps_when_its_post_began_until_it_is_written(store: Store) -> None:
    store.queue_scores("drift", {"a": {"id": "a", "v": 1}, "b": {"id": "b", "v": 2}}, now=NOW)
    assert store.scores_maybe_sent("drift") == {}
    store.mark_scores_sending(["a"], now=NOW + timedelta(minutes=1))
    store.queue_scores("drift", {"a": {"id": "a", "v": 3}}, now=NOW + timedelta(days=1))  # a newer body
    assert store.scores_maybe_sent("drift") == {"a": NOW + timedelta(minutes=1)}  # it may still be there
    assert store.scores_maybe_sent("audit") == {}
    store.remember_scores({"a": "da"}, now=NOW + timedelta(days=1))
    assert store.scores_maybe_sent("drift") == {}


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_m006_adds_sent_at_to_the_pending_scores_of_an_m005_store(
    backend: str, tmp_path, request: pytest.FixtureRequest
) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}" if backend == "sqlite" else request.getfixturevalue("postgres_url")
    engine = sa.create_engine(engine_url(url))
    stamp = "TIMESTAMP WITH TIME ZONE" if backend == "postgres" else "DATETIME"
    with engine.begin() as conn:  # the store as m005 left it: pending_scores without sent_at, one score waiting
        others = [t for t in schema.metadata.sorted_tables if t is not schema.pending_scores]
        schema.metadata.create_all(conn, tables=others)
        conn.exec_driver_sql(
            "CREATE TABLE pending_scores (id VARCHAR(400) PRIMARY KEY, monitor VARCHAR(50) NOT NULL, "
            f"body TEXT NOT NULL, queued_at {stamp} NOT NULL)"
        )
        conn.execute(sa.text("INSERT INTO pending_scores VALUES ('a', 'drift', '{\"id\": \"a\"}', :at)"), {"at": NOW})
        for name, _ in migrations.MIGRATIONS[:5]:
            conn.execute(schema.migrations.insert().values(name=name, applied_at=NOW))
    assert migrations.migrate(engine) == [
        "m006_pending_score_sent_at",
        "m007_outbox_fingerprint_index",
        "m008_finding_event_windows",
        "m009_finding_resolved_at",
        "m010_outbox_settled_at",
    ]
    engine.dispose()
    store = Store.open(url)
    try:
        assert store.pending_scores("drift") == [{"id": "a"}] and store.scores_maybe_sent("drift") == {}
        store.mark_scores_sending(["a"], now=NOW)
        assert store.scores_maybe_sent("drift") == {"a": NOW}
    finally:
        store.close()

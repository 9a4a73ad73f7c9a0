"""The store's goal-drift table: one entry per change request, replaced per head, pruned when stale."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from monitors.store import schema
from monitors.store.migrations import migrate
from monitors.store.store import CHANGES_RETENTION, Store

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def test_entries_round_trip_and_are_replaced(store: Store) -> None:
    entry = {"head": "abc", "evidence": {"files": [["a.py", "modified", 1, 0]]}, "scores": {"h": -1.5}}
    store.put_changes({"github:o/r#7": entry, "gitlab:g/a!3": {"head": "d1"}}, now=NOW)
    assert store.get_changes(["github:o/r#7", "gitlab:g/a!3", "gitlab:g/a!4"]) == {
        "github:o/r#7": entry,
        "gitlab:g/a!3": {"head": "d1"},
    }
    store.put_changes({"github:o/r#7": {"head": "def"}}, now=NOW + timedelta(hours=1))
    assert store.get_changes(["github:o/r#7"]) == {"github:o/r#7": {"head": "def"}}


def test_stale_entries_are_pruned_on_write(store: Store) -> None:
    store.put_changes({"old": {"head": "1"}}, now=NOW)
    store.put_changes({"new": {"head": "2"}}, now=NOW + CHANGES_RETENTION + timedelta(days=1))
    assert set(store.get_changes(["old", "new"])) == {"new"}


def test_m004_adds_the_table_to_a_database_created_before_it(tmp_path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    migrate(engine)
    schema.drift_changes.drop(engine)
    with engine.begin() as conn:
        conn.execute(schema.migrations.delete().where(schema.migrations.c.name == "m004_drift_changes"))
    assert migrate(engine) == ["m004_drift_changes"]
    assert "drift_changes" in sa.inspect(engine).get_table_names()
    engine.dispose()

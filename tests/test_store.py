"""The store suite: every test runs against a SQLite file and a real PostgreSQL schema."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from monitors.contracts.errors import StoreError
from monitors.store import schema
from monitors.store.migrations import MIGRATIONS, migrate
from monitors.store.rows import RunCommit
from monitors.store.store import Store

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def _commit(store: Store, **kw) -> None:
    base = dict(monitor="cost", now=NOW, watermark=NOW, seen=[], outbox=[], events=[], state={})
    store.commit_run(RunCommit(**(base | kw)))


def test_migrations_are_recorded_and_idempotent(store: Store) -> None:
    assert migrate(store.engine) == []  # Store.open already applied them
    with store.engine.connect() as conn:
        names = [r.name for r in conn.execute(sa.select(schema.migrations.c.name))]
    assert names == [name for name, _ in MIGRATIONS]
    tables = set(sa.inspect(store.engine).get_table_names())
    assert {"watermarks", "findings", "silences", "outbox", "embedding_cache", "runs"} <= tables


def test_watermark_state_and_outbox_commit_together(store: Store) -> None:
    assert store.watermark("cost") is None
    _commit(
        store,
        seen=[("cost:global:2026-11-21", 100)],
        outbox=[("cost:global:2026-11-21", "ops", {"title": "over budget", "severity": "critical"})],
        state={"ledger": {"2026-11-21": 52.1}},
    )
    assert store.watermark("cost") == NOW
    assert store.load_state("cost") == {"ledger": {"2026-11-21": 52.1}}
    record = store.finding_records(["cost:global:2026-11-21"])["cost:global:2026-11-21"]
    assert record.sent_rank == 100 and record.last_sent == NOW
    [row] = store.pending_outbox(NOW)
    assert row.channel == "ops" and row.payload["title"] == "over budget"


def test_failed_commit_leaves_nothing(store: Store) -> None:
    bad_event = {"monitor": "cost"}  # missing required columns: the transaction must roll back
    with pytest.raises(StoreError):  # the store wraps driver errors (was sa.exc.SQLAlchemyError)
        _commit(store, outbox=[("fp", "ops", {"title": "x", "severity": "warning"})], events=[bad_event])
    assert store.pending_outbox(NOW) == []
    assert store.watermark("cost") is None


def test_outbox_marks_and_order(store: Store) -> None:
    _commit(store, outbox=[(f"fp{i}", "ops", {"title": str(i), "severity": "warning"}) for i in range(3)])
    rows = store.pending_outbox(NOW)
    assert [r.payload["title"] for r in rows] == ["0", "1", "2"]
    store.mark_outbox(rows[0].id, now=NOW, status="sent")
    store.mark_outbox(rows[1].id, now=NOW, status="pending", error="HTTP 503")
    store.mark_outbox(rows[2].id, now=NOW, status="failed", error="HTTP 404")
    [left] = store.pending_outbox(NOW)
    assert left.id == rows[1].id and left.attempts == 1
    assert store.outbox_counts() == {"sent": 1, "pending": 1, "failed": 1}


def test_silences_cover_keys_by_prefix_and_expire(store: Store) -> None:
    sid = store.add_silence("cost", "global", NOW + timedelta(hours=2), now=NOW, reason="known incident")
    [active] = store.silences(now=NOW)
    assert active.covers("cost", "global:2026-11-21") and active.covers("cost", "global")
    assert not active.covers("cost", "global-eu:2026-11-21") and not active.covers("drift", "global")
    assert store.silences(now=NOW + timedelta(hours=3)) == []
    assert store.remove_silence(sid) and not store.remove_silence(sid)


def test_a_silence_on_a_change_request_covers_every_head_of_it(store: Store) -> None:
    store.add_silence("drift", "acme/sdk#58", NOW + timedelta(hours=2), now=NOW)
    [active] = store.silences(now=NOW)
    assert active.covers("drift", "acme/sdk#58@59690c414caabaccfe6f59d90019211b4dcb932c")
    assert not active.covers("drift", "acme/sdk#581@59690c414caabaccfe6f59d90019211b4dcb932c")
    assert not active.covers("drift", "acme/sdk#5")


def test_a_silence_on_one_user_does_not_mute_another_whose_name_extends_it_with_an_at(store: Store) -> None:
    # '@' separates a change request from its head in drift keys only; elsewhere it is part of a name.
    store.add_silence("cost", "per-user:alice", NOW + timedelta(hours=2), now=NOW)
    store.add_silence("audit", "bob", NOW + timedelta(hours=2), now=NOW)
    cost, audit = store.silences(now=NOW)
    assert cost.covers("cost", "per-user:alice:2026-03-12:cap=100")
    assert not cost.covers("cost", "per-user:alice@corp.example:2026-03-12:cap=100")
    assert audit.covers("audit", "bob:loop")
    assert not audit.covers("audit", "bob@corp.example:loop")


def test_embedding_cache_roundtrip(store: Store) -> None:
    store.put_many("minilm", {"h1": [0.1, 0.2], "h2": [0.3, 0.4]})
    store.put_many("minilm", {"h1": [9.9, 9.9]})  # known hashes are not rewritten
    assert store.get_many("minilm", ["h1", "h2", "h3"]) == {"h1": [0.1, 0.2], "h2": [0.3, 0.4]}
    assert store.get_many("other-model", ["h1"]) == {}


def test_lock_excludes_a_second_live_run(store: Store) -> None:
    lease = timedelta(hours=1)
    assert store.acquire_lock("cost", now=NOW, lease=lease)
    other = Store(store.engine)
    other.holder = "another-host:1"
    assert not other.acquire_lock("cost", now=NOW, lease=lease)
    assert other.acquire_lock("drift", now=NOW, lease=lease)  # locks are per monitor
    store.release_lock("cost")
    assert other.acquire_lock("cost", now=NOW, lease=lease)


def test_lock_of_a_dead_holder_is_taken_over(store: Store) -> None:
    """A holder that died without releasing: its pid is gone (SQLite), its session ended (PostgreSQL)."""
    dead = Store(store.engine)
    dead.holder = f"{store.holder.rsplit(':', 1)[0]}:999999999"  # this host, a pid that cannot exist
    assert dead.acquire_lock("cost", now=NOW, lease=timedelta(hours=1))
    lock = dead.locks.held["cost"]
    if lock.connection is not None:
        backend = lock.connection.execute(sa.text("SELECT pg_backend_pid()")).scalar()
        with store.engine.begin() as conn:
            # With a timeout it waits until the session is gone (and its advisory lock with it), so the
            # takeover below does not race the backend's exit on a loaded machine.
            conn.execute(sa.text("SELECT pg_terminate_backend(:pid, 10000)"), {"pid": backend})
    else:
        lock.stop.set()  # its heartbeat dies with it
    assert store.acquire_lock("cost", now=NOW, lease=timedelta(hours=1))
    assert store.lock_holders()["cost"]["holder"] == store.holder


def test_expired_lease_of_another_host_is_taken_over(sqlite_store: Store) -> None:
    remote = Store(sqlite_store.engine)
    remote.holder = "another-pod:1"
    assert remote.acquire_lock("cost", now=NOW, lease=timedelta(minutes=5))
    remote.locks.held["cost"].stop.set()  # the pod was killed: no more heartbeats
    assert not sqlite_store.acquire_lock("cost", now=NOW + timedelta(minutes=1), lease=timedelta(hours=1))
    assert sqlite_store.acquire_lock("cost", now=NOW + timedelta(minutes=6), lease=timedelta(hours=1))


def test_postgres_lock_ignores_the_lease_while_its_session_lives(postgres_url: str) -> None:
    first, second = Store.open(postgres_url), Store.open(postgres_url)
    try:
        second.holder = "another-pod:1"
        assert first.acquire_lock("cost", now=NOW, lease=timedelta(seconds=1))
        assert not second.acquire_lock("cost", now=NOW + timedelta(hours=5), lease=timedelta(seconds=1))
        assert first.lock_still_held("cost")
        first.release_lock("cost")
        assert second.acquire_lock("cost", now=NOW, lease=timedelta(seconds=1))
    finally:
        first.close(), second.close()


def test_postgres_locks_of_two_schemas_are_independent(postgres_url: str) -> None:
    other_schema = f"t_{uuid.uuid4().hex[:12]}"
    base = postgres_url.split("?", 1)[0]
    with sa.create_engine("postgresql+psycopg://" + base.split("://", 1)[1]).begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{other_schema}"'))
    here, there = Store.open(postgres_url), Store.open(f"{base}?options=-csearch_path%3D{other_schema}")
    try:
        assert here.acquire_lock("cost", now=NOW, lease=timedelta(minutes=1))
        assert there.acquire_lock("cost", now=NOW, lease=timedelta(minutes=1))  # another deployment
    finally:
        here.close(), there.close()
        with sa.create_engine("postgresql+psycopg://" + base.split("://", 1)[1]).begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{other_schema}" CASCADE'))


def test_sqlite_heartbeat_keeps_a_short_lease_alive(sqlite_store: Store) -> None:
    lease = timedelta(seconds=0.3)
    assert sqlite_store.acquire_lock("cost", now=NOW, lease=lease)
    other = Store(sqlite_store.engine)
    other.holder = "another-pod:1"
    time.sleep(1.0)  # more than three leases: only the heartbeat keeps it
    assert not other.acquire_lock("cost", now=NOW + timedelta(seconds=1.0), lease=lease)
    assert sqlite_store.lock_still_held("cost")
    sqlite_store.locks.held["cost"].stop.set()  # the holder stops beating, as if killed
    time.sleep(0.5)
    assert other.acquire_lock("cost", now=NOW + timedelta(seconds=2.0), lease=lease)


def test_a_lease_taken_over_is_noticed_by_its_old_holder(sqlite_store: Store) -> None:
    lease = timedelta(seconds=0.3)
    assert sqlite_store.acquire_lock("cost", now=NOW, lease=lease)
    with sqlite_store.engine.begin() as conn:  # as if this process stalled past its lease and lost it
        conn.execute(schema.run_locks.update().values(holder="another-pod:1"))
    time.sleep(0.5)
    assert not sqlite_store.lock_still_held("cost")


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_first_runs_on_a_new_store_migrate_once_and_all_proceed(
    backend: str, tmp_path, request: pytest.FixtureRequest
) -> None:
    url = f"sqlite:///{tmp_path / 'new.db'}" if backend == "sqlite" else request.getfixturevalue("postgres_url")
    start = threading.Barrier(6)
    outcomes: list[str] = []

    def first_run() -> None:
        start.wait()
        try:
            Store.open(url).close()
            outcomes.append("ok")
        except StoreError as exc:
            outcomes.append(str(exc))

    threads = [threading.Thread(target=first_run) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert outcomes == ["ok"] * 6
    store = Store.open(url)
    with store.engine.connect() as conn:
        names = [r.name for r in conn.execute(sa.select(schema.migrations.c.name))]
    store.close()
    assert names == [name for name, _ in MIGRATIONS]


def test_an_m001_store_is_upgraded_with_the_unconfirmed_column(tmp_path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    with engine.begin() as conn:  # the store as the previous version left it
        conn.exec_driver_sql(
            "CREATE TABLE schema_migrations (name VARCHAR(100) PRIMARY KEY, applied_at DATETIME NOT NULL)"
        )
        conn.exec_driver_sql(
            "CREATE TABLE outbox (id INTEGER PRIMARY KEY, fingerprint VARCHAR(400), status VARCHAR(20))"
        )
        conn.exec_driver_sql("INSERT INTO outbox (id, status) VALUES (1, 'pending')")
        conn.exec_driver_sql("INSERT INTO schema_migrations VALUES ('m001_initial', '2026-01-01')")
    assert migrate(engine) == [
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
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT unconfirmed FROM outbox").scalar() == 0
        assert conn.exec_driver_sql("SELECT count(*) FROM pending_scores").scalar() == 0


def test_runs_heartbeat(store: Store) -> None:
    summary = {"window": {"start": NOW.isoformat(), "end": NOW.isoformat()}, "findings": 2}
    store.record_run("cost", started=NOW, finished=NOW, status="ok", summary=summary)
    store.record_run("cost", started=NOW, finished=NOW + timedelta(minutes=15), status="failed", summary=summary)
    entry = store.last_runs()["cost"]
    assert entry["last_ok"] == NOW and entry["failures"] == 1 and entry["last"]["status"] == "failed"


def test_channel_answers_are_the_latest_settled_message_of_each_channel(store: Store) -> None:
    _commit(store, outbox=[(f"fp{i}", ch, {"title": str(i), "severity": "warning"})
                           for i, ch in enumerate(["slow", "slow", "fine", "slow"])])  # fmt: skip
    first, second, third, fourth = store.pending_outbox(NOW)
    store.mark_outbox(first.id, now=NOW, status="sent")
    store.mark_outbox(second.id, now=NOW, status="unconfirmed", error="timed out", unconfirmed=True)
    store.mark_outbox(third.id, now=NOW, status="sent")
    store.mark_outbox(fourth.id, now=NOW, status="pending", error="timed out", unconfirmed=True)  # not settled
    assert store.channel_answers() == {"slow": ("unconfirmed", 1), "fine": ("sent", 0)}
    [left] = store.pending_outbox(NOW)
    assert left.unconfirmed == 1


def test_an_older_store_gains_the_index_resolved_notices_look_up_by(tmp_path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'm006.db'}")
    with engine.begin() as conn:  # every table as m006 left it: the outbox without its fingerprint index
        conn.exec_driver_sql(
            "CREATE TABLE schema_migrations (name VARCHAR(100) PRIMARY KEY, applied_at DATETIME NOT NULL)"
        )
        conn.exec_driver_sql(
            "CREATE TABLE outbox (id INTEGER PRIMARY KEY, fingerprint VARCHAR(400), status VARCHAR(20))"
        )
        for name, _ in MIGRATIONS[:6]:
            conn.exec_driver_sql("INSERT INTO schema_migrations VALUES (?, '2026-01-01')", (name,))
    assert "ix_outbox_fingerprint" not in {i["name"] for i in sa.inspect(engine).get_indexes("outbox")}
    assert migrate(engine) == [
        "m007_outbox_fingerprint_index",
        "m008_finding_event_windows",
        "m009_finding_resolved_at",
        "m010_outbox_settled_at",
    ]
    assert "ix_outbox_fingerprint" in {i["name"] for i in sa.inspect(engine).get_indexes("outbox")}


def test_an_m007_store_keeps_its_finding_events_and_gains_their_windows(store: Store) -> None:
    old_event = {
        "monitor": "audit",
        "fingerprint": "audit:s1:loop",
        "kind": "loop",
        "severity": "critical",
        "observed_at": NOW,
        "decision": "first notification",
        "finding": {"dedupe_key": "s1:loop"},
    }
    with store.engine.begin() as conn:  # finding_events as m007 left it, with a row the previous version wrote
        conn.execute(sa.text("DROP INDEX ix_finding_events_window"))
        conn.execute(sa.text("ALTER TABLE finding_events DROP COLUMN window_start"))
        conn.execute(sa.text("ALTER TABLE finding_events DROP COLUMN window_end"))
        conn.execute(schema.migrations.delete().where(schema.migrations.c.name == "m008_finding_event_windows"))
        columns = [sa.column(c.name, c.type) for c in schema.finding_events.c if not c.name.startswith("window_")]
        conn.execute(sa.table("finding_events", *columns).insert(), [old_event])
    assert migrate(store.engine) == ["m008_finding_event_windows"]
    assert "ix_finding_events_window" in {i["name"] for i in sa.inspect(store.engine).get_indexes("finding_events")}
    week = (NOW - timedelta(days=7), NOW)
    # The old row has no window: it is found by when it was observed, and only then.
    [event] = store.events_about(*week, unplaced_observed=(NOW, NOW + timedelta(minutes=1)))
    assert (event["fingerprint"], event["window_start"], event["window_end"]) == ("audit:s1:loop", None, None)
    assert store.events_about(*week, unplaced_observed=(NOW - timedelta(days=1), NOW)) == []
    # A new row carries its window and is found by it, whenever it was observed.
    new_event = old_event | {"observed_at": NOW + timedelta(days=30), "window_start": week[0], "window_end": NOW}
    _commit(store, events=[new_event])
    [found] = store.events_about(*week, unplaced_observed=(NOW - timedelta(days=1), NOW))
    assert (found["observed_at"], found["window_start"], found["window_end"]) == (new_event["observed_at"], *week)


def test_an_m008_store_keeps_its_findings_and_gains_when_each_was_resolved(store: Store) -> None:
    _commit(store, seen=[("cost:global:*:2026-03-12:spike", 1), ("cost:global:*:2026-03-12:projection", None)])
    with store.engine.begin() as conn:  # findings as m008 left it
        conn.execute(sa.text("ALTER TABLE findings DROP COLUMN resolved_at"))
        conn.execute(schema.migrations.delete().where(schema.migrations.c.name == "m009_finding_resolved_at"))
    assert migrate(store.engine) == ["m009_finding_resolved_at"]
    spike, projection = "cost:global:*:2026-03-12:spike", "cost:global:*:2026-03-12:projection"
    records = store.finding_records([spike, projection])
    assert (records[spike].last_sent, records[spike].sent_rank, records[spike].resolved_at) == (NOW, 1, None)
    assert records[projection].resolved_at is None
    later = NOW + timedelta(hours=1)
    _commit(store, now=later, resolved=[spike])
    assert store.finding_records([spike])[spike].resolved_at == later
    _commit(store, now=later + timedelta(hours=1), seen=[(spike, None)])  # seen again: not over any more
    assert store.finding_records([spike])[spike].resolved_at is None


def test_a_time_given_with_another_offset_is_stored_and_compared_as_the_same_instant(store: Store) -> None:
    berlin_noon = datetime(2026, 11, 23, 12, 0, tzinfo=timezone(timedelta(hours=2)))  # 10:00Z
    store.add_silence("cost", "global", berlin_noon, now=NOW)
    [silence] = store.silences(now=datetime(2026, 11, 23, 9, 30, tzinfo=UTC))
    assert silence.until == datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    assert store.silences(now=datetime(2026, 11, 23, 10, 30, tzinfo=UTC)) == []  # over at 10:00Z, not 12:00Z
    _commit(store, watermark=berlin_noon)
    assert store.watermark("cost") == datetime(2026, 11, 23, 10, 0, tzinfo=UTC)

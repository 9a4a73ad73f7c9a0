"""Outbox retention in the store: which settled rows `prune_outbox` deletes and which it must keep, the
counts `status` and the gauge read, and the m010 upgrade of an older outbox. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from monitors.store import schema
from monitors.store.migrations import migrate
from monitors.store.rows import RunCommit
from monitors.store.store import Store

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)
CUTOFF = NOW - 30 * DAY


def _queue(store: Store, when: datetime, rows: list[tuple[str, str, dict[str, Any]]], *, sent: list[str] = ()) -> None:
    """Queue `rows` (fingerprint, channel, payload) at `when`; `sent`: fingerprints notified (open findings)."""
    seen = [(fp, 1 if fp in sent else None) for fp in {fp for fp, _, _ in rows}]
    store.commit_run(RunCommit("cost", when, None, seen, rows, [], {}))


def _settle(store: Store, when: datetime, status: str = "sent") -> None:
    for row in store.pending_outbox(when):
        store.mark_outbox(row.id, now=when, status=status, error=None if status == "sent" else "refused")


def _left(store: Store) -> list[tuple[str, str, str]]:
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(schema.outbox).order_by(schema.outbox.c.id))
        return [(r.fingerprint, r.channel, r.status) for r in rows]


def test_settled_rows_older_than_the_retention_go_and_pending_and_recent_ones_stay(store: Store) -> None:
    old = NOW - 40 * DAY
    _queue(store, old, [("cost:a", "chat", {"title": "a"}), ("cost:b", "chat", {"title": "b"})])
    _settle(store, old)  # delivered 40 days ago
    _queue(store, old, [("cost:c", "chat", {"title": "c"})])
    _settle(store, old, "failed")  # given up 40 days ago
    _queue(store, NOW - 2 * DAY, [("cost:e", "chat", {"title": "e"})])
    _settle(store, NOW - 2 * DAY)  # delivered 2 days ago
    _queue(store, old, [("cost:d", "down", {"title": "d"})])  # queued at old, never delivered: pending
    assert store.outbox_counts() == {"sent": 3, "failed": 1, "pending": 1}
    assert store.outbox_counts(settled_since=CUTOFF) == {"sent": 1, "pending": 1}

    assert store.prune_outbox(CUTOFF) == 3
    assert _left(store) == [("cost:e", "chat", "sent"), ("cost:d", "down", "pending")]
    assert store.prune_outbox(CUTOFF) == 0  # nothing more: the second run of the day deletes nothing


def test_a_row_queued_long_ago_but_settled_recently_is_kept(store: Store) -> None:
    _queue(store, NOW - 40 * DAY, [("cost:late", "chat", {"title": "late"})])
    _settle(store, NOW - DAY)  # the chat was down for weeks; delivered yesterday
    _queue(store, NOW - DAY, [("cost:other", "chat", {"title": "other"})])  # the channel's latest row
    _settle(store, NOW - DAY)
    assert store.prune_outbox(CUTOFF) == 0
    assert [fp for fp, _, _ in _left(store)] == ["cost:late", "cost:other"]


def test_each_channels_latest_settled_row_is_kept_for_what_it_says_about_the_chat(store: Store) -> None:
    old = NOW - 40 * DAY
    _queue(store, old, [("cost:a", "slow", {"title": "a"}), ("cost:b", "slow", {"title": "b"})])
    rows = store.pending_outbox(old)
    store.mark_outbox(rows[0].id, now=old, status="sent")
    store.mark_outbox(rows[1].id, now=old, status="unconfirmed", error="no answer", unconfirmed=True)
    assert store.prune_outbox(CUTOFF) == 1
    # The next run still POSTs to this chat only once: it gave up unanswered last time.
    assert store.channel_answers() == {"slow": ("unconfirmed", 1)}


def test_rows_of_an_open_alert_that_may_get_a_resolved_notice_are_kept_whatever_their_age(store: Store) -> None:
    old = NOW - 90 * DAY
    asked = {"title": "asked", "send_resolved": True}
    # Its route asked for a notice then; no route sends notices to `chat` today (the routes changed).
    _queue(store, old, [("cost:asked", "chat", asked)], sent=["cost:asked"])
    _queue(store, old, [("cost:pager", "oncall", {"title": "on a resolving channel"})], sent=["cost:pager"])
    _queue(store, old, [("cost:plain", "chat", {"title": "no notice asked"})], sent=["cost:plain"])
    _queue(store, old, [("cost:over", "chat", asked)], sent=["cost:over"])
    _settle(store, old)
    store.commit_run(RunCommit("cost", old + DAY, None, [], [], [], {}, resolved=["cost:over"]))  # no longer open
    _queue(store, NOW, [("cost:new", "chat", {"title": "new"}), ("cost:new", "oncall", {"title": "new"})])
    _settle(store, NOW)  # each channel's latest row is a new one

    assert store.prune_outbox(CUTOFF, resolving_channels={"oncall"}) == 2  # cost:plain, cost:over
    kept = {fp for fp, _, _ in _left(store)}
    assert kept == {"cost:asked", "cost:pager", "cost:new"}
    # Where each open alert went is still known, as the resolve reads it.
    deliveries = store.deliveries(["cost:asked", "cost:pager"])
    assert [d.channel for d in deliveries["cost:asked"]] == ["chat"]
    assert [d.channel for d in deliveries["cost:pager"]] == ["oncall"]
    # Once resolved, its rows age out like any other.
    store.commit_run(RunCommit("cost", NOW, None, [], [], [], {}, resolved=["cost:asked", "cost:pager"]))
    assert store.prune_outbox(CUTOFF, resolving_channels={"oncall"}) == 2
    assert {fp for fp, _, _ in _left(store)} == {"cost:new"}


def test_an_m009_outbox_gains_when_each_row_settled_and_its_index(store: Store) -> None:
    old = NOW - 40 * DAY
    _queue(store, old, [("cost:sent", "chat", {"title": "s"}), ("cost:failed", "chat", {"title": "f"})])
    first, second = store.pending_outbox(old)
    store.mark_outbox(first.id, now=old, status="sent")
    store.mark_outbox(second.id, now=old, status="failed", error="refused")
    _queue(store, NOW, [("cost:pending", "chat", {"title": "p"}), ("cost:recent", "chat", {"title": "r"})])
    store.mark_outbox(store.pending_outbox(NOW)[1].id, now=NOW, status="sent")
    with store.engine.begin() as conn:  # the outbox as m009 left it
        conn.execute(sa.text("DROP INDEX ix_outbox_settled"))
        conn.execute(sa.text("ALTER TABLE outbox DROP COLUMN settled_at"))
        conn.execute(schema.migrations.delete().where(schema.migrations.c.name == "m010_outbox_settled_at"))
    assert migrate(store.engine) == ["m010_outbox_settled_at"]
    assert "ix_outbox_settled" in {i["name"] for i in sa.inspect(store.engine).get_indexes("outbox")}
    # A sent row settled when it was sent; a given-up one at its last scheduled attempt; pending ones not yet.
    assert store.outbox_counts(settled_since=CUTOFF) == {"pending": 1, "sent": 1}
    assert store.prune_outbox(CUTOFF) == 2
    assert [fp for fp, _, _ in _left(store)] == ["cost:pending", "cost:recent"]

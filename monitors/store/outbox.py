"""The store's outbox: messages waiting for delivery, how each went, and how long finished ones are kept.

A row is `pending` until a delivery settles it (`sent`, `failed`: given up, `unconfirmed`: given up
unanswered); `settled_at` records when. Settled rows are pruned after the retention
(`store.outbox_retention`), except the ones later runs still read:

- every row of a finding still open (notified, not resolved) that may yet get a resolved notice: one
  of its alerts asked for a notice, or it went to a channel that a route sends notices to today. The
  resolve reads them (`deliveries`) to find the channels its alert went to, however old they are.
- each channel's latest settled row: it tells later runs whether that chat answers late
  (`channel_answers`), which bounds duplicates.

Pending rows are never pruned. Rows of a group's interval are younger than the retention (config
validation keeps `group_interval` within it).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from monitors.contracts.findings import utc
from monitors.store import schema as t
from monitors.store.rows import Delivery, GroupOutbox, OutboxRow


class OutboxLedger:
    """Mixed into Store: needs `self.engine`."""

    engine: sa.Engine

    def pending_outbox(self, now: datetime, *, limit: int = 500) -> list[OutboxRow]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(t.outbox)
                .where(t.outbox.c.status == "pending", t.outbox.c.next_attempt <= now)
                .order_by(t.outbox.c.id)
                .limit(limit)
            )
            return [
                OutboxRow(r.id, r.fingerprint, r.channel, _json(r.payload), r.attempts, r.unconfirmed) for r in rows
            ]

    def channel_answers(self) -> dict[str, tuple[str, int]]:
        """Per channel, how its latest settled message went: (status, POSTs that got no answer)."""
        with self.engine.connect() as conn:
            columns = (t.outbox.c.channel, t.outbox.c.status, t.outbox.c.unconfirmed)
            rows = conn.execute(sa.select(*columns).where(t.outbox.c.id.in_(_latest_settled_per_channel())))
            return {r.channel: (r.status, r.unconfirmed) for r in rows}

    def group_outbox(self, channel: str, group: str, *, sent_since: datetime | None = None) -> GroupOutbox:
        """One channel's rows of one group: every pending row (due or waiting), oldest first, and what
        was sent since `sent_since` if given (for the group's interval and loudest severity)."""
        table = t.outbox
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(table)
                .where(
                    table.c.channel == channel,
                    sa.or_(
                        table.c.status == "pending",
                        sa.and_(table.c.status == "sent", table.c.sent_at >= sent_since)
                        if sent_since is not None
                        else sa.false(),
                    ),
                )
                .order_by(table.c.id)
            ).all()
        found = GroupOutbox()
        for r in rows:
            payload = _json(r.payload)
            if payload.get("group") != group:
                continue
            if r.status == "pending":
                found.pending.append(OutboxRow(r.id, r.fingerprint, r.channel, payload, r.attempts))
            else:
                found.sent.append((utc(r.sent_at), str(payload.get("severity", ""))))
        return found

    def open_in_group(self, channel: str, group: str) -> set[str]:
        """The fingerprints whose latest alert in `group` on `channel` went out (sent, or maybe: unconfirmed)
        and has had no resolved notice there since: the parts of the group's incident still open."""
        table = t.outbox
        query = (
            sa.select(table.c.fingerprint, table.c.status, table.c.payload)
            .where(table.c.channel == channel, table.c.payload["group"].as_string() == group)
            .order_by(table.c.id)
        )
        still: set[str] = set()
        with self.engine.connect() as conn:
            for r in conn.execute(query):
                if _json(r.payload).get("status") == "resolved":
                    still.discard(r.fingerprint)
                elif r.status in ("sent", "unconfirmed"):
                    still.add(r.fingerprint)
        return still

    def deliveries(self, fingerprints: Iterable[str]) -> dict[str, list[Delivery]]:
        """The outbox rows of each fingerprint, oldest first: which channels got its alerts and notices.
        Pruning keeps every row of a finding that is open and may get a notice (`prune_outbox`)."""
        keys = list(set(fingerprints))
        found: dict[str, list[Delivery]] = {}
        columns = (t.outbox.c.fingerprint, t.outbox.c.channel, t.outbox.c.status, t.outbox.c.payload)
        with self.engine.connect() as conn:
            for start in range(0, len(keys), 500):
                chunk = keys[start : start + 500]
                query = sa.select(*columns).where(t.outbox.c.fingerprint.in_(chunk)).order_by(t.outbox.c.id)
                for r in conn.execute(query):
                    payload = _json(r.payload)
                    resolved = payload.get("status") == "resolved"
                    asked = payload.get("send_resolved") is True
                    group = str(payload["group"]) if payload.get("group") else None
                    delivery = Delivery(r.channel, r.status, resolved, asked, group)
                    found.setdefault(r.fingerprint, []).append(delivery)
        return found

    def alert_deliveries(self, fingerprints: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
        """Each fingerprint's alert rows (resolved notices left out), oldest first, for the weekly report:
        the alert's time as its message gives it (`observed_at`), the channel, how the delivery went
        (`status`) and when the chat took it (`sent_at`, None unless sent)."""
        keys = list(set(fingerprints))
        found: dict[str, list[dict[str, Any]]] = {}
        table = t.outbox
        columns = (table.c.fingerprint, table.c.channel, table.c.status, table.c.sent_at, table.c.payload)
        with self.engine.connect() as conn:
            for start in range(0, len(keys), 500):
                query = sa.select(*columns).where(table.c.fingerprint.in_(keys[start : start + 500]))
                for r in conn.execute(query.order_by(table.c.id)):
                    payload = _json(r.payload)
                    if payload.get("status") == "resolved":
                        continue
                    found.setdefault(r.fingerprint, []).append(
                        {
                            "observed_at": str(payload.get("observed_at") or ""),
                            "channel": r.channel,
                            "status": r.status,
                            "sent_at": utc(r.sent_at) if r.sent_at is not None else None,
                        }
                    )
        return found

    def outbox_counts(self, *, settled_since: datetime | None = None) -> dict[str, int]:
        """Messages by status: every pending one, and those settled since `settled_since` (all if None)."""
        table = t.outbox
        query = sa.select(table.c.status, sa.func.count()).group_by(table.c.status)
        if settled_since is not None:
            query = query.where(sa.or_(table.c.status == "pending", table.c.settled_at >= settled_since))
        with self.engine.connect() as conn:
            return {status: count for status, count in conn.execute(query)}

    def mark_outbox(
        self,
        row_id: int,
        *,
        now: datetime,
        status: str,
        error: str | None = None,
        retry_at: datetime | None = None,
        unconfirmed: bool = False,
    ) -> None:
        """Record one delivery attempt; `unconfirmed`: no answer came within the channel's own timeout
        (none at all, or one that only a longer wait got), so later runs treat the chat as slow."""
        values: dict[str, Any] = {"attempts": t.outbox.c.attempts + 1, "status": status, "last_error": error}
        if unconfirmed:
            values["unconfirmed"] = t.outbox.c.unconfirmed + 1
        if status == "sent":
            values["sent_at"] = now
        if status != "pending":
            values["settled_at"] = now  # from here on the retention counts
        if retry_at is not None:
            values["next_attempt"] = retry_at
        with self.engine.begin() as conn:
            conn.execute(t.outbox.update().where(t.outbox.c.id == row_id).values(**values))

    def prune_outbox(self, settled_before: datetime, *, resolving_channels: Collection[str] = ()) -> int:
        """Delete settled rows settled before `settled_before`, keeping what later runs read (module
        docstring); `resolving_channels`: channels a route sends resolved notices to. Returns rows deleted."""
        table, other = t.outbox, t.outbox.alias("kept")
        open_findings = sa.select(t.findings.c.fingerprint).where(t.findings.c.last_sent.is_not(None))
        may_resolve = sa.or_(
            other.c.payload["send_resolved"].as_boolean(), other.c.channel.in_(list(resolving_channels))
        )
        awaiting_notice = sa.select(other.c.fingerprint).where(other.c.fingerprint.in_(open_findings), may_resolve)
        query = table.delete().where(
            table.c.status != "pending",
            table.c.settled_at < settled_before,
            table.c.fingerprint.not_in(awaiting_notice),
            table.c.id.not_in(_latest_settled_per_channel()),
        )
        with self.engine.begin() as conn:
            return int(conn.execute(query).rowcount or 0)


def _latest_settled_per_channel() -> sa.ScalarSelect[Any]:
    return (
        sa.select(sa.func.max(t.outbox.c.id))
        .where(t.outbox.c.status != "pending")
        .group_by(t.outbox.c.channel)
        .scalar_subquery()
    )


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value

"""Deliver the outbox: oldest first, one channel at a time, keeping what fails for the next run.

Order is kept per channel: once a channel fails with a retryable error, its later messages wait too,
so a chat that was down for three runs receives every alert once, in order, when it comes back.

Rows of one group (a route's `group_by`) go out together as one message, at the place of the group's
oldest due row, with every pending row of the group, including parts still waiting for the group's
interval. Counts are of messages: a group is one.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from monitors.contracts.message import Message
from monitors.engine.render import group_message
from monitors.store.rows import OutboxRow
from monitors.store.store import Store

log = logging.getLogger("monitors.engine.delivery")


@dataclass
class DeliveryStats:
    delivered: int = 0
    failed: int = 0  # permanent failures, or retries exhausted
    deferred: int = 0  # left pending for the next run


def deliver_pending(
    store: Store, notifiers: Mapping[str, Any], *, now: datetime, max_attempts: int = 50
) -> DeliveryStats:
    stats = DeliveryStats()
    blocked: set[str] = set()
    done: set[int] = set()
    for row in store.pending_outbox(now):
        if row.id in done:
            continue  # went out with its group
        notifier = notifiers.get(row.channel)
        if notifier is None:
            store.mark_outbox(row.id, now=now, status="failed", error="channel no longer configured")
            stats.failed += 1
            continue
        if row.channel in blocked:
            stats.deferred += 1
            continue
        rows, message = _message_for(store, row)
        done.update(r.id for r in rows)
        result = notifier.deliver(message)
        if result.ok:
            status, error = "sent", None
            stats.delivered += 1
        elif result.retryable and row.attempts + 1 < max_attempts:
            status, error = "pending", result.reason
            blocked.add(row.channel)
            stats.deferred += 1
            log.warning("channel %s: delivery deferred to the next run (%s)", row.channel, result.reason)
        else:
            status, error = "failed", result.reason
            stats.failed += 1
            log.error("channel %s: delivery failed permanently (%s)", row.channel, result.reason)
        retry_at = now if status == "pending" else None  # a waiting part that failed with its group is due now
        for part in rows:
            store.mark_outbox(part.id, now=now, status=status, error=error, retry_at=retry_at)
    return stats


def _message_for(store: Store, row: OutboxRow) -> tuple[list[OutboxRow], Message]:
    """The row's message, or its whole group's (every pending part, oldest first) as one message."""
    group = row.payload.get("group")
    if not group:
        return [row], Message.from_dict(row.payload)
    rows = store.group_outbox(row.channel, str(group)).pending or [row]
    return rows, group_message([Message.from_dict(r.payload) for r in rows], str(group))

"""Deliver the outbox: oldest first, one channel at a time, keeping what fails for the next run.

Order is kept per channel: once a channel fails with a retryable error, its later messages wait too,
so a chat that was down for three runs receives every alert once, in order, when it comes back.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from monitors.contracts.message import Message
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
    for row in store.pending_outbox(now):
        notifier = notifiers.get(row.channel)
        if notifier is None:
            store.mark_outbox(row.id, now=now, status="failed", error="channel no longer configured")
            stats.failed += 1
            continue
        if row.channel in blocked:
            stats.deferred += 1
            continue
        result = notifier.deliver(Message.from_dict(row.payload))
        if result.ok:
            store.mark_outbox(row.id, now=now, status="sent")
            stats.delivered += 1
        elif result.retryable and row.attempts + 1 < max_attempts:
            store.mark_outbox(row.id, now=now, status="pending", error=result.reason)
            blocked.add(row.channel)
            stats.deferred += 1
            log.warning("channel %s: delivery deferred to the next run (%s)", row.channel, result.reason)
        else:
            store.mark_outbox(row.id, now=now, status="failed", error=result.reason)
            stats.failed += 1
            log.error("channel %s: delivery failed permanently (%s)", row.channel, result.reason)
    return stats

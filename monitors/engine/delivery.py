"""Deliver the outbox: oldest first, one channel at a time, keeping what fails for the next run.

Order is kept per channel: once a channel fails with a retryable error, its later messages wait too,
so a chat that was down for three runs receives every alert once, in order, when it comes back.

Duplicates are bounded. A POST that got no answer in time (`unconfirmed`) may already be in the chat,
and webhooks take no idempotency key, so such a row is POSTed once more on the next run, with twice the
patience, and if that one is unconfirmed too it is not sent again: the row ends as `unconfirmed`, with
the reason, and the run says so. A chat slow for any number of runs shows an alert at most twice.

Work stops at the run's deadline: rows not tried yet stay pending, untouched, for the next run.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from monitors.contracts.message import Message
from monitors.notifiers.base import DeliveryResult, WebhookNotifier
from monitors.store.rows import OutboxRow
from monitors.store.store import Store
from monitors.support.deadline import run_time_left

log = logging.getLogger("monitors.engine.delivery")

MAX_UNCONFIRMED = 2  # POSTs of one row that may have reached the chat: the first and one more
PATIENCE_FACTOR = 2.0  # the second POST of an unconfirmed row waits this much longer for an answer
MAX_PATIENCE = 120.0  # seconds


@dataclass
class DeliveryStats:
    delivered: int = 0
    failed: int = 0  # permanent failures, or retries exhausted
    deferred: int = 0  # left pending for the next run
    unconfirmed: int = 0  # given up after MAX_UNCONFIRMED unanswered POSTs: they may have arrived
    out_of_time: int = 0  # not tried: the run's deadline was reached


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
        if run_time_left() <= 0:
            stats.deferred += 1
            stats.out_of_time += 1
            continue
        result = _send(notifier, row)
        if result.ok:
            store.mark_outbox(row.id, now=now, status="sent")
            stats.delivered += 1
        elif result.unconfirmed:
            blocked.add(row.channel)  # a slow chat: do not pile more unanswered POSTs on it this run
            _unconfirmed(store, row, result, now, stats)
        elif result.retryable and row.attempts + 1 < max_attempts:
            store.mark_outbox(row.id, now=now, status="pending", error=result.reason)
            blocked.add(row.channel)
            stats.deferred += 1
            log.warning("channel %s: delivery deferred to the next run (%s)", row.channel, result.reason)
        else:
            store.mark_outbox(row.id, now=now, status="failed", error=result.reason)
            stats.failed += 1
            log.error("channel %s: delivery failed permanently (%s)", row.channel, result.reason)
    if stats.out_of_time:
        log.warning("run deadline reached: %d message(s) left pending for the next run", stats.out_of_time)
    return stats


def _send(notifier: Any, row: OutboxRow) -> DeliveryResult:
    message = Message.from_dict(row.payload)
    if row.unconfirmed and isinstance(notifier, WebhookNotifier):
        return notifier.deliver(message, timeout=min(notifier.timeout * PATIENCE_FACTOR, MAX_PATIENCE))
    return notifier.deliver(message)


def _unconfirmed(store: Store, row: OutboxRow, result: DeliveryResult, now: datetime, stats: DeliveryStats) -> None:
    if row.unconfirmed + 1 >= MAX_UNCONFIRMED:
        error = f"{result.reason}; {row.unconfirmed + 1} POSTs unanswered, not sent again to avoid duplicates"
        store.mark_outbox(row.id, now=now, status="unconfirmed", error=error, unconfirmed=True)
        stats.unconfirmed += 1
        log.error("channel %s: delivery unconfirmed, given up (%s)", row.channel, error)
        return
    error = f"{result.reason}; sent once more next run, with more patience"
    store.mark_outbox(row.id, now=now, status="pending", error=error, unconfirmed=True)
    stats.deferred += 1
    log.warning("channel %s: no answer, the chat may have the alert already (%s)", row.channel, result.reason)

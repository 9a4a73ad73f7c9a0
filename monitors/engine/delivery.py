"""Deliver the outbox: oldest first, one channel at a time, keeping what fails for the next run.

Order is kept per channel: once a channel fails with a retryable error, its later messages wait too,
so a chat that was down for three runs receives every alert once, in order, when it comes back.

Rows of one group (a route's `group_by`) go out together as one message, at the place of the group's
oldest due row, with every pending row of the group, including parts still waiting for the group's
interval. Counts are of messages, a group is one, whatever happens to it: posted, refused, left pending
behind an earlier failure on its channel or at the deadline, or given up because its channel is gone.

Duplicates are bounded. A POST that got no answer in time (`unconfirmed`) may already be in the chat,
and webhooks take no idempotency key, so such a row is POSTed once more on a later run, with twice the
patience, and if that one is unconfirmed too it is not sent again: the row ends `unconfirmed`, with the
reason, and the run says so. The channel's answers are remembered (`Store.channel_answers`; an answer
that came only after the channel's own timeout is stored as an unanswered POST, so a later run knows the
chat is slow even when nothing went unanswered): while it answers late, every message gets the longer
patience from its first POST, and after a message ended unconfirmed, the next ones get one POST each.
A chat that stays slow over any number of runs shows one duplicate in total; one that answers within
the longer patience, one as well.

Work stops at the run's deadline: rows not tried yet stay pending, untouched, for the next run.

The outbox is shared by every monitor, and each run delivers all of it, so two runs of different
monitors (the cost and events CronJobs both starting on the hour) would POST the same pending rows.
`deliver_exclusively` lets one run deliver at a time (a run lock named `DELIVERY_LOCK`, which dies with
its holder as the monitors' locks do); a run that waited `DELIVERY_WAIT` leaves its rows to the run
that holds it, or to the next one. The run that delivers then prunes the rows settled longer ago than
the retention (`Store.prune_outbox` says which it keeps): one indexed DELETE.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from monitors.contracts.findings import Status
from monitors.contracts.message import Message
from monitors.engine.render import group_message, with_still_open
from monitors.notifiers.base import DeliveryResult, WebhookNotifier
from monitors.store.rows import OutboxRow
from monitors.store.store import Store
from monitors.support.deadline import run_time_left

log = logging.getLogger("monitors.engine.delivery")

MAX_UNCONFIRMED = 2  # POSTs of one row that may have reached the chat: the first and one more
PATIENCE_FACTOR = 2.0  # a channel that answered late gets this much longer to answer
MAX_PATIENCE = 120.0  # seconds
DELIVERY_LOCK = "_delivery"  # not a monitor name: those are letters only
DELIVERY_WAIT = 120.0  # seconds a run waits for another run's delivery to end


@dataclass
class DeliveryStats:
    delivered: int = 0
    failed: int = 0  # permanent failures, or retries exhausted
    deferred: int = 0  # left pending for the next run
    unconfirmed: int = 0  # given up after unanswered POSTs: they may have arrived
    out_of_time: int = 0  # not tried: the run's deadline was reached
    pruned: int = 0  # outbox rows deleted: settled longer ago than the retention


class ChannelAnswers:
    """What this run knows about each channel's answers, from the store and from its own POSTs."""

    def __init__(self, history: Mapping[str, tuple[str, int]]) -> None:
        self.late = {channel for channel, (_, unanswered) in history.items() if unanswered}
        self.doubtful = {channel for channel, (status, _) in history.items() if status == "unconfirmed"}

    def timeout_for(self, notifier: Any, row: OutboxRow) -> float | None:
        if isinstance(notifier, WebhookNotifier) and (row.unconfirmed or row.channel in self.late):
            return min(notifier.timeout * PATIENCE_FACTOR, MAX_PATIENCE)
        return None  # the channel's own

    def posts_allowed(self, channel: str) -> int:
        return 1 if channel in self.doubtful else MAX_UNCONFIRMED

    def sent(self, row: OutboxRow, late: bool) -> None:
        """`row` was answered; `late`: only after the channel's own timeout (a patient POST waited)."""
        self.doubtful.discard(row.channel)
        if late:
            self.late.add(row.channel)
        else:
            self.late.discard(row.channel)

    def unanswered(self, channel: str, given_up: bool) -> None:
        self.late.add(channel)
        if given_up:
            self.doubtful.add(channel)


def show_what_would_be_sent(outbox: Sequence[tuple[Any, ...]], notifiers: Mapping[str, Any]) -> None:
    """A dry run's outbox rows, shown through their channels' notifiers (the terminal), grouped as they
    would be sent; parts already waiting in the store are not shown."""
    groups: dict[tuple[str, str], list[Message]] = {}
    singles: list[tuple[str, Message]] = []
    for _fingerprint, channel, payload, *_ in outbox:
        message = Message.from_dict(payload)
        if message.group:
            groups.setdefault((channel, message.group), []).append(message)
        else:
            singles.append((channel, message))
    singles += [(channel, group_message(parts, group)) for (channel, group), parts in groups.items()]
    for channel, message in singles:
        notifier = notifiers.get(channel)
        if notifier is not None:
            notifier.deliver(message)


def deliver_exclusively(
    store: Store,
    notifiers: Mapping[str, Any],
    *,
    now: datetime,
    lease: timedelta,
    max_attempts: int = 50,
    retention: timedelta | None = None,
    resolving_channels: Collection[str] = (),
    wait: float = DELIVERY_WAIT,
    sleep: Callable[[float], None] = time.sleep,
) -> DeliveryStats | None:
    """deliver_pending while no other run delivers, then prune rows settled before now - `retention` (if
    given; `resolving_channels`: those a route sends resolved notices to). None when another run held the
    delivery lock for all of `wait` (or of what is left of the run): the rows stay pending, for it or the
    next run."""
    started, budget = time.monotonic(), min(wait, run_time_left())
    while not store.acquire_lock(DELIVERY_LOCK, now=now + timedelta(seconds=time.monotonic() - started), lease=lease):
        if time.monotonic() - started >= budget:
            return None
        sleep(0.1)
    try:
        stats = deliver_pending(store, notifiers, now=now, max_attempts=max_attempts)
        if retention is not None:
            stats.pruned = store.prune_outbox(now - retention, resolving_channels=resolving_channels)
        return stats
    finally:
        store.release_lock(DELIVERY_LOCK)


def deliver_pending(
    store: Store, notifiers: Mapping[str, Any], *, now: datetime, max_attempts: int = 50
) -> DeliveryStats:
    stats = DeliveryStats()
    blocked: set[str] = set()
    done: set[int] = set()
    untried: set[tuple[str, str]] = set()  # (channel, group) of messages counted without being tried
    answers = ChannelAnswers(store.channel_answers())
    for row in store.pending_outbox(now):
        if row.id in done:
            continue  # went out with its group
        # A message not tried counts once, like one that is: its group's other rows add nothing.
        new_message = _new_message(row, untried)
        notifier = notifiers.get(row.channel)
        if notifier is None:
            store.mark_outbox(row.id, now=now, status="failed", error="channel no longer configured")
            stats.failed += new_message
            continue
        if row.channel in blocked:
            stats.deferred += new_message
            continue
        if run_time_left() <= 0:
            stats.deferred += new_message
            stats.out_of_time += new_message
            continue
        rows, message = _message_for(store, row)
        done.update(r.id for r in rows)
        timeout = answers.timeout_for(notifier, row)
        result = notifier.deliver(message, timeout=timeout) if timeout else notifier.deliver(message)
        late = False
        if result.ok:
            status, error = "sent", None
            late = _answered_late(notifier, row, result)
            answers.sent(row, late)
            stats.delivered += 1
        elif result.unconfirmed:
            blocked.add(row.channel)  # a slow chat: do not pile more unanswered POSTs on it this run
            _unconfirmed(store, row, rows, result, now, stats, answers)
            continue
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
            # A late answer counts as unanswered at the channel's own timeout: the next run reads it from
            # the store (channel_answers) and gives the channel its patience from the first POST.
            store.mark_outbox(part.id, now=now, status=status, error=error, retry_at=retry_at, unconfirmed=late)
    if stats.out_of_time:
        log.warning("run deadline reached: %d message(s) left pending for the next run", stats.out_of_time)
    return stats


def _new_message(row: OutboxRow, untried: set[tuple[str, str]]) -> bool:
    """Is `row` the first of its message this run? Always for an ungrouped row; for a grouped one, only
    the first row of its group on its channel (the rows of a group are one message)."""
    group = row.payload.get("group")
    if not group:
        return True
    key = (row.channel, str(group))
    first = key not in untried
    untried.add(key)
    return first


def _answered_late(notifier: Any, row: OutboxRow, result: DeliveryResult) -> bool:
    """Did the answer come only after the channel's own timeout (so a POST without patience got none)?"""
    if result.answered_after is None or not isinstance(notifier, WebhookNotifier):
        return bool(row.unconfirmed)  # no timing: an earlier POST went unanswered, so it answers late
    return result.answered_after > notifier.timeout


def _message_for(store: Store, row: OutboxRow) -> tuple[list[OutboxRow], Message]:
    """The row's message, or its whole group's (every pending part, oldest first) as one message."""
    group = row.payload.get("group")
    if not group:
        return [row], Message.from_dict(row.payload)
    rows = store.group_outbox(row.channel, str(group)).pending or [row]
    message = group_message([Message.from_dict(r.payload) for r in rows], str(group))
    if message.status is Status.RESOLVED:
        # Only the group's last open part may close its incident: the others' alerts still stand.
        closing = {r.fingerprint for r in rows}
        message = with_still_open(message, sorted(store.open_in_group(row.channel, str(group)) - closing))
    return rows, message


def _unconfirmed(
    store: Store,
    row: OutboxRow,
    parts: list[OutboxRow],
    result: DeliveryResult,
    now: datetime,
    stats: DeliveryStats,
    answers: ChannelAnswers,
) -> None:
    """A POST with no answer in time: send once more next run, or give up to bound duplicates."""
    posts = row.unconfirmed + 1
    given_up = posts >= answers.posts_allowed(row.channel)
    answers.unanswered(row.channel, given_up)
    if given_up:
        error = f"{result.reason}; {posts} POST(s) unanswered, not sent again to avoid duplicates"
        status = "unconfirmed"
        stats.unconfirmed += 1
        log.error("channel %s: delivery unconfirmed, given up (%s)", row.channel, error)
    else:
        error = f"{result.reason}; sent once more next run, with more patience"
        status = "pending"
        stats.deferred += 1
        log.warning("channel %s: no answer, the chat may have the alert already (%s)", row.channel, result.reason)
    for part in parts:
        store.mark_outbox(part.id, now=now, status=status, error=error, unconfirmed=True)

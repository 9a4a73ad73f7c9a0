"""The report's "Sent" column says when a notification reached chat (the outbox's delivery time), not
when a run queued it, and says so when it was queued but never delivered."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from monitors.contracts.findings import Finding
from monitors.engine.render import message_for
from monitors.report.build import build_week_report
from monitors.report.period import parse_week
from monitors.report.tables import report_tables
from monitors.store.rows import RunCommit
from monitors.store.store import Store
from tests.report import builders as b

WEEK = parse_week("2026-W47", ZoneInfo("UTC"))


def _queue(store: Store, f: Finding, channels: tuple[str, ...] = ("chat",), decision: str = "first notification"):
    """What a run that sends `f` commits: its event and one outbox row per channel, queued at its time."""
    rows = [(f.fingerprint, channel, message_for(f).to_dict(), None) for channel in channels]
    store.commit_run(
        RunCommit(f.monitor, f.observed_at, None, [(f.fingerprint, f.rank)], rows, [b.event(f, decision)], {})
    )


def _settle(store: Store, status: str, at: datetime, channel: str | None = None) -> None:
    """Settle the pending rows (of `channel`, else all) as a delivery at `at` would."""
    for row in store.pending_outbox(at):
        if channel is None or row.channel == channel:
            store.mark_outbox(row.id, now=at, status=status)


def _sent_column(store: Store) -> dict[str, str]:
    report = build_week_report(store, b.source_of([]), b.settings(), WEEK, now=b.REPORT_NOW)
    table = next(t for t in report_tables(report) if t.title.startswith("Every finding"))
    return {str(row[4]): str(row[5]) for row in table.rows}


def test_sent_is_when_the_chat_got_it_not_when_it_was_queued(store: Store) -> None:
    f = b.budget_finding("2026-11-19", 80, 33.0)  # queued Thu 19 Nov 18:15
    _queue(store, f)
    _settle(store, "sent", f.observed_at + timedelta(minutes=32))  # the chat was down until 18:47
    assert _sent_column(store)[f.title] == "Thu 19 Nov 18:47 UTC"


def test_the_first_channel_to_take_it_is_when_it_was_sent(store: Store) -> None:
    f = b.budget_finding("2026-11-19", 80, 33.0)
    _queue(store, f, ("slack", "mattermost"))
    _settle(store, "sent", f.observed_at + timedelta(minutes=40), "mattermost")
    _settle(store, "sent", f.observed_at + timedelta(minutes=50), "slack")
    assert _sent_column(store)[f.title] == "Thu 19 Nov 18:55 UTC"


def test_a_notification_never_delivered_says_it_was_only_queued_and_why(store: Store) -> None:
    given_up = b.budget_finding("2026-11-18", 80, 33.0)
    waiting = b.budget_finding("2026-11-19", 80, 33.5)
    unanswered = b.budget_finding("2026-11-20", 80, 34.0)
    for f in (given_up, waiting, unanswered):
        _queue(store, f)
    _settle(store, "failed", given_up.observed_at + timedelta(minutes=5))
    later = unanswered.observed_at + timedelta(minutes=5)
    row = next(r for r in store.pending_outbox(later) if r.fingerprint == unanswered.fingerprint)
    store.mark_outbox(row.id, now=later, status="unconfirmed", unconfirmed=True)
    sent = _sent_column(store)
    assert sent[given_up.title] == "queued Wed 18 Nov 18:15 UTC, not delivered (the channel refused it; given up)"
    assert sent[waiting.title] == "queued Thu 19 Nov 18:15 UTC, not delivered yet (waiting in the outbox)"
    assert sent[unanswered.title].startswith("queued Fri 20 Nov 18:15 UTC, not confirmed (the chat never answered")


def test_an_escalation_not_delivered_does_not_borrow_the_warning_delivery(store: Store) -> None:
    warn = b.budget_finding("2026-11-19", 80, 33.0)
    page = dataclasses.replace(
        b.budget_finding("2026-11-19", 100, 41.0), observed_at=warn.observed_at + timedelta(hours=2)
    )
    _queue(store, warn)
    _settle(store, "sent", warn.observed_at + timedelta(minutes=1))
    _queue(store, page, decision="escalated from rank 80 to 100")
    # The report keeps the finding at its highest level, 100%, queued at 20:15 and never delivered.
    assert _sent_column(store)[page.title] == "queued Thu 19 Nov 20:15 UTC, not delivered yet (waiting in the outbox)"


def test_a_queued_notification_the_outbox_no_longer_holds_says_so(store: Store) -> None:
    f = b.budget_finding("2026-11-19", 80, 33.0)
    b.store_events(store, "cost", b.event(f))  # its outbox row pruned long ago
    assert _sent_column(store)[f.title] == "queued Thu 19 Nov 18:15 UTC; its delivery is not on record"


def test_a_resolved_notice_is_not_the_alert_delivery(store: Store) -> None:
    f = b.budget_finding("2026-11-19", 80, 33.0)
    _queue(store, f)
    resolved = dataclasses.replace(f, status=type(f.status).RESOLVED)
    rows = [(f.fingerprint, "chat", message_for(resolved).to_dict(), None)]
    store.commit_run(RunCommit("cost", f.observed_at, None, [], rows, [], {}))
    for row in store.pending_outbox(f.observed_at + timedelta(hours=1)):
        if row.payload.get("status") == "resolved":
            store.mark_outbox(row.id, now=f.observed_at + timedelta(hours=1), status="sent")
    assert _sent_column(store)[f.title] == "queued Thu 19 Nov 18:15 UTC, not delivered yet (waiting in the outbox)"

"""When each finding's notification reached chat, read from the store's outbox.

A finding event says a run queued a notification (`StoredFinding.sent_at`); the outbox row says when a
channel took it, or that none did (still pending, given up, unanswered). A row is matched to the event by
the alert's own time, which the queued message carries (to the second), so a later escalation or
re-alert of the same finding is not taken for it. Resolved notices are not alerts and are left out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from monitors.contracts.findings import utc
from monitors.report.findings import StoredFinding

SENT = "sent"


def message_time(when: datetime) -> str:
    """An alert's time as its queued message gives it (monitors/engine/render.py)."""
    return f"{utc(when):%Y-%m-%dT%H:%M:%SZ}"


def with_deliveries(findings: Sequence[StoredFinding], store: Any) -> list[StoredFinding]:
    """`findings`, each queued one with when it was delivered or how its delivery stands."""
    queued = [f.fingerprint for f in findings if f.sent_at is not None]
    rows = store.alert_deliveries(queued) if queued else {}
    return [_delivered(f, rows.get(f.fingerprint, ())) for f in findings]


def _delivered(f: StoredFinding, rows: Sequence[Mapping[str, Any]]) -> StoredFinding:
    if f.sent_at is None:
        return f
    mine = [r for r in rows if r.get("observed_at") == message_time(f.sent_at)]
    sent = [r["sent_at"] for r in mine if r.get("status") == SENT and r.get("sent_at") is not None]
    if sent:
        return replace(f, delivered_at=min(sent), delivery=SENT)
    # Not delivered anywhere: the outbox status says why (pending beats the others: it may still go).
    statuses = {str(r.get("status")) for r in mine}
    status = next((s for s in ("pending", "unconfirmed", "failed") if s in statuses), "")
    return replace(f, delivery=status)

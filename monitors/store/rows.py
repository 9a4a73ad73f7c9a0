"""The rows the store hands out and takes in: dedupe records, silences, outbox rows, a run's commit."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class FindingRecord:
    fingerprint: str
    first_seen: datetime
    last_sent: datetime | None
    sent_rank: int | None
    # When a run last said it no longer holds, if none has seen it since: its end is already recorded.
    resolved_at: datetime | None = None


KEY_SEPARATOR = ":"
# Drift keys are '<change request>@<head commit>'; elsewhere '@' is part of a name (a user's email).
HEAD_SEPARATOR = {"drift": "@"}
# A finding event whose decision starts with this is a resolution (the monitor said the finding no
# longer holds), not a sighting: Alertmanager's sync ends the alert by it; the report and the findings
# counts leave it out.
RESOLUTION_DECISION = "resolved"


@dataclass(frozen=True)
class Silence:
    id: int
    monitor: str
    key: str | None
    until: datetime
    reason: str | None

    def covers(self, monitor: str, dedupe_key: str) -> bool:
        """The key itself and every key that extends it by whole parts: ':' separates a key's parts, and in
        drift keys '@' a change request from its head commit, so `group/app!12` mutes that merge request at
        every head. Nowhere else: `per-user:alice` does not mute `per-user:alice@corp.example`."""
        if monitor != self.monitor:
            return False
        if self.key is None or dedupe_key == self.key:
            return True
        separators = (KEY_SEPARATOR, HEAD_SEPARATOR.get(monitor, KEY_SEPARATOR))
        return any(dedupe_key.startswith(self.key + separator) for separator in separators)


@dataclass(frozen=True)
class OutboxRow:
    id: int
    fingerprint: str
    channel: str
    payload: dict[str, Any]
    attempts: int
    unconfirmed: int = 0  # POSTs sent whose answer never came


@dataclass(frozen=True)
class Delivery:
    """One outbox row of a finding, as far as its resolution needs it: where, how it went, what it was."""

    channel: str
    status: str  # pending | sent | failed | unconfirmed
    resolved: bool  # a resolved notice (else the alert itself)
    send_resolved: bool  # the route that queued the alert asked for a resolved notice
    group: str | None = None  # the group it went (or waits) in on that channel, if its route grouped it


@dataclass
class GroupOutbox:
    """A group's rows on one channel: pending ones (due or waiting) and (sent_at, severity) of recent sends."""

    pending: list[OutboxRow] = field(default_factory=list)
    sent: list[tuple[datetime, str]] = field(default_factory=list)


@dataclass
class RunCommit:
    """Everything one run writes, applied atomically by Store.commit_run."""

    monitor: str
    now: datetime
    watermark: datetime | None
    seen: list[tuple[str, int | None]]  # (fingerprint, rank if sent else None)
    # (fingerprint, channel, message payload[, not before]): a grouped part may wait for its group's turn.
    outbox: list[tuple[Any, ...]]
    events: list[dict[str, Any]]
    state: Mapping[str, Any]
    # Fingerprints that no longer hold: their notification (if any) is closed and their end recorded, so a
    # later run that says so again adds nothing, and if one holds again it is new.
    resolved: list[str] = field(default_factory=list)

"""The rows the store hands out and takes in: dedupe records, silences, outbox rows, a run's commit."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class FindingRecord:
    fingerprint: str
    first_seen: datetime
    last_sent: datetime | None
    sent_rank: int | None


@dataclass(frozen=True)
class Silence:
    id: int
    monitor: str
    key: str | None
    until: datetime
    reason: str | None

    def covers(self, monitor: str, dedupe_key: str) -> bool:
        if monitor != self.monitor:
            return False
        return self.key is None or dedupe_key == self.key or dedupe_key.startswith(self.key + ":")


@dataclass(frozen=True)
class OutboxRow:
    id: int
    fingerprint: str
    channel: str
    payload: dict[str, Any]
    attempts: int
    unconfirmed: int = 0  # POSTs sent whose answer never came


@dataclass
class RunCommit:
    """Everything one run writes, applied atomically by Store.commit_run."""

    monitor: str
    now: datetime
    watermark: datetime | None
    seen: list[tuple[str, int | None]]  # (fingerprint, rank if sent else None)
    outbox: list[tuple[str, str, dict[str, Any]]]  # (fingerprint, channel, message payload)
    events: list[dict[str, Any]]
    state: Mapping[str, Any]

"""Which outbox rows a run queues for its decisions: per channel, grouped, held or resolved.

- A finding to send gets one row per channel its routes name. When that channel's route has `group_by`
  and the finding carries those labels, the row joins the group (its payload names the group) and
  delivery sends the group's pending rows as one message.
- With `group_interval`, a group that was sent recently waits: a part no louder than what the group
  already sent is held until the interval has passed since the group's last message; a louder part goes
  at once and takes the waiting ones with it (Alertmanager's group_interval, with escalation first).
- A finding the monitor says no longer holds gets a resolved notice on channels whose route has
  `send_resolved`, if it was notified and is not silenced; either way its notification is closed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from monitors.contracts.findings import Finding, Severity
from monitors.engine.config import Route, Settings
from monitors.engine.render import group_key, message_for
from monitors.store.rows import FindingRecord, Silence
from monitors.store.store import Store


@dataclass
class Planned:
    rows: list[tuple[Any, ...]] = field(default_factory=list)  # (fingerprint, channel, payload, not_before)
    resolved: list[str] = field(default_factory=list)  # fingerprints whose notification closes
    events: list[tuple[Finding, str]] = field(default_factory=list)  # (resolved finding, decision)


def rows_for(finding: Finding, channels: Mapping[str, Route], store: Store, now: datetime) -> list[tuple[Any, ...]]:
    """The outbox rows of one finding to send: one per channel, grouped and maybe held."""
    rows: list[tuple[Any, ...]] = []
    base = message_for(finding).to_dict()
    for channel, route in channels.items():
        group = group_key(finding.labels, route.group_by or ())
        payload = {**base, "group": group} if group else base
        rows.append((finding.fingerprint, channel, payload, _hold(store, channel, group, finding, route, now)))
    return rows


def _hold(
    store: Store, channel: str, group: str | None, finding: Finding, route: Route, now: datetime
) -> datetime | None:
    if not group or route.group_interval is None:
        return None
    recent = store.group_outbox(channel, group, sent_since=now - route.group_interval).sent
    if not recent:
        return None
    loudest = max(Severity.parse(severity) for _, severity in recent)
    if finding.severity > loudest:
        return None  # escalation: at once, with whatever waits
    return max(sent_at for sent_at, _ in recent) + route.group_interval


def plan_resolved(
    resolved: Iterable[Finding],
    sent: set[str],
    records: Mapping[str, FindingRecord],
    silences: list[Silence],
    settings: Settings,
    store: Store,
    now: datetime,
) -> Planned:
    """Resolved notices for findings that were notified and are not being sent again in this run (a
    closed day's final check may repeat a finding that is over with that day)."""
    planned = Planned()
    for finding in {f.fingerprint: f for f in resolved}.values():
        record = records.get(finding.fingerprint)
        if finding.fingerprint in sent or record is None or record.last_sent is None:
            continue  # never notified (or sent again now): nothing to close
        planned.resolved.append(finding.fingerprint)
        if any(s.covers(finding.monitor, finding.dedupe_key) for s in silences):
            planned.events.append((finding, "resolved (silenced: no notice)"))
            continue
        routes = settings.channel_routes(finding.monitor, finding.kind, finding.severity)
        channels = {channel: route for channel, route in routes.items() if route.send_resolved}
        # A notice joins its group like the alert did: if the alert still waits there, both go together.
        planned.rows.extend(rows_for(finding, channels, store, now))
        decision = "resolved; notice queued" if channels else "resolved (no route sends resolved)"
        planned.events.append((finding, decision))
    return planned

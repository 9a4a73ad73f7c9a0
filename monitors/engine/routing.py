"""Which outbox rows a run queues for its decisions: per channel, grouped, held or resolved.

- A finding to send gets one row per channel its routes name. When that channel's route has `group_by`
  and the finding carries those labels, the row joins the group (its payload names the group) and
  delivery sends the group's pending rows as one message.
- With `group_interval`, a group that was sent recently waits: a part no louder than what the group
  already sent is held until the interval has passed since the group's last message; a louder part goes
  at once and takes the waiting ones with it (Alertmanager's group_interval, with escalation first).
- A finding the monitor says no longer holds has its notification closed, and a resolved notice goes to
  the channels its alert went to (the outbox says which: sent, maybe sent, or still pending), where the
  alert's route or the channel's route today has `send_resolved`. Not today's routes: a PagerDuty
  incident opened by a route that was changed since must still be closed where it was opened. Nor does a
  silence stop it: a silence mutes new alerts, and an alert it muted from the start opened nothing, so
  only what was sent before the silence is closed. A channel deleted from the config is left out and
  counted (`Planned.gone`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from monitors.contracts.findings import Finding, Severity, Status
from monitors.engine.config import Route, Settings
from monitors.engine.render import group_key, message_for
from monitors.store.rows import Delivery, FindingRecord, Silence
from monitors.store.store import Store


@dataclass
class Planned:
    rows: list[tuple[Any, ...]] = field(default_factory=list)  # (fingerprint, channel, payload, not_before)
    resolved: list[str] = field(default_factory=list)  # fingerprints whose notification closes
    unnotified: list[str] = field(default_factory=list)  # fingerprints that end without having been notified
    events: list[tuple[Finding, str]] = field(default_factory=list)  # (resolved finding, decision)
    # Channels that got an alert being resolved but are no longer in the config -> notices not sent.
    gone: Counter[str] = field(default_factory=Counter)


# The alert reached the channel, may have (no answer came), or will, ahead of its notice (order is kept).
_OPENED = frozenset({"sent", "unconfirmed", "pending"})


def rows_for(
    finding: Finding,
    channels: Mapping[str, Route | None],
    store: Store,
    now: datetime,
    groups: Mapping[str, str | None] | None = None,
) -> list[tuple[Any, ...]]:
    """The outbox rows of one finding to send: one per channel, grouped and maybe held. `groups`: the
    group on each channel, when it is not the finding's own by its route (a resolve takes its alert's)."""
    rows: list[tuple[Any, ...]] = []
    base = message_for(finding).to_dict()
    for channel, route in channels.items():
        if groups is not None:
            group = groups.get(channel)
        else:
            group = group_key(finding.labels, route.group_by or ()) if route is not None else None
        payload = {**base, "group": group} if group else dict(base)
        if route is not None and route.send_resolved and finding.status is Status.FIRING:
            payload["send_resolved"] = True  # kept with the alert: its resolve follows it whatever the routes become
        rows.append((finding.fingerprint, channel, payload, _hold(store, channel, group, finding, route, now)))
    return rows


def _hold(
    store: Store, channel: str, group: str | None, finding: Finding, route: Route | None, now: datetime
) -> datetime | None:
    if not group or route is None or route.group_interval is None:
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
    closed day's final check may repeat a finding that is over with that day). A finding whose end is
    recorded already and that no run has seen since is left alone: a monitor may say it again every run."""
    planned = Planned()
    over = [
        f
        for f in {f.fingerprint: f for f in resolved}.values()
        if f.fingerprint not in sent and not _ended(records.get(f.fingerprint))
    ]
    closing: list[Finding] = []
    for finding in over:
        record = records.get(finding.fingerprint)
        if _notified(record):
            closing.append(finding)
        elif record is not None:
            # Seen but never notified (below every route, silenced from the start, or only an Alertmanager
            # sees it): no notice to send, but the resolution is logged so Alertmanager's alert ends at once.
            planned.unnotified.append(finding.fingerprint)
            planned.events.append((finding, "resolved (never notified: no notice)"))
    deliveries = store.deliveries(f.fingerprint for f in closing)
    for finding in closing:
        planned.resolved.append(finding.fingerprint)
        routes = settings.channel_routes(finding.monitor, finding.kind, finding.severity)
        channels: dict[str, Route | None] = {}
        groups: dict[str, str | None] = {}
        for channel, opened in opened_on(deliveries.get(finding.fingerprint, [])).items():
            route = routes.get(channel)
            if not (opened.asked or (route is not None and route.send_resolved)):
                continue
            if channel in settings.channels:
                channels[channel], groups[channel] = route, opened.group
            else:
                planned.gone[channel] += 1
        # A notice joins the group its alert went in on that channel, whatever the finding's labels or the
        # routes say now: if the alert still waits there, both go together and the notice cannot overtake it.
        planned.rows.extend(rows_for(finding, channels, store, now, groups))
        planned.events.append((finding, _decision(finding, channels, silences)))
    return planned


@dataclass(frozen=True)
class Opened:
    """What a finding's current alert opened on one channel."""

    asked: bool  # a route that sent it there asked for a resolved notice
    group: str | None  # the group its latest alert there went (or waits) in


def opened_on(deliveries: Sequence[Delivery]) -> dict[str, Opened]:
    """The channels where the finding's current alert went (oldest row first in `deliveries`). A notice
    on a channel closes what came before it there; an alert that failed for good opened nothing."""
    opened: dict[str, str | None] = {}
    asked: dict[str, bool] = {}
    for row in deliveries:
        if row.resolved:
            opened.pop(row.channel, None)
            asked.pop(row.channel, None)
            continue
        asked[row.channel] = asked.get(row.channel, False) or row.send_resolved
        if row.status in _OPENED:
            opened[row.channel] = row.group
    return {channel: Opened(asked[channel], group) for channel, group in opened.items()}


def _ended(record: FindingRecord | None) -> bool:
    return record is not None and record.resolved_at is not None  # its end is logged; not seen since


def _notified(record: FindingRecord | None) -> bool:
    return record is not None and record.last_sent is not None  # else never notified, or closed already


def _decision(finding: Finding, channels: Mapping[str, Route | None], silences: list[Silence]) -> str:
    if not channels:
        return "resolved (no channel its alert went to asks for resolved notices)"
    if any(s.covers(finding.monitor, finding.dedupe_key) for s in silences):
        return "resolved while silenced; notice queued where its alert went before the silence"
    return "resolved; notice queued where its alert went"

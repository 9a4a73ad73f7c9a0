"""After each run, post every open finding to each alertmanager channel (Prometheus' resend model).

"Open" means a run observed the finding within the channel's `expire_after`: the store's
`finding_events` log holds every finding of every run with the run's clock, so the newest event per
fingerprint says when the finding last held. Each alert's `endsAt` is that time plus `expire_after`:
re-sent by every run while monitors keep observing it, resolved by Alertmanager on its own once they
stop. Because the set is rebuilt from the store each time, an Alertmanager that was down for a few runs
gets every still-open alert on the next one, with no outbox.

A finding whose newest event is its resolution (a monitor said it no longer holds; the engine logs that
event with a decision starting "resolved") is posted with `endsAt` = the time it resolved, so
Alertmanager resolves it at once instead of at expiry; it keeps being posted that way for
`expire_after`, in case Alertmanager was down. Silenced findings (`run-monitor silence`) are not
posted; an alert already firing for one expires at its `endsAt`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from monitors.contracts.findings import Severity, utc
from monitors.metrics.readings import open_finding_events
from monitors.notifiers.alertmanager import AlertmanagerNotifier, OpenFinding
from monitors.store.rows import RESOLUTION_DECISION
from monitors.store.store import Store


@dataclass(frozen=True)
class SyncResult:
    channel: str
    alerts: int
    ok: bool
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"channel": self.channel, "kind": "alertmanager", "alerts": self.alerts,
                "status": "ok" if self.ok else "failed", "error": None if self.ok else self.reason}  # fmt: skip

    def line(self) -> str:
        status = "ok" if self.ok else "failed"
        tail = "" if self.ok else f" error={self.reason!r}"
        return f"alertmanager channel={self.channel} alerts={self.alerts} status={status}{tail}"


def alertmanager_channels(notifiers: Mapping[str, Any]) -> dict[str, AlertmanagerNotifier]:
    return {name: n for name, n in notifiers.items() if isinstance(n, AlertmanagerNotifier)}


def sync_alertmanager(store: Store, notifiers: Mapping[str, Any], *, now: datetime) -> list[SyncResult]:
    """Post the open findings to every alertmanager channel; one result per channel."""
    channels = alertmanager_channels(notifiers)
    if not channels:
        return []
    longest = max(n.config.expire_after for n in channels.values())
    events = open_finding_events(store, now - longest, now)
    silences = store.silences(now=now)
    records = store.finding_records(e["fingerprint"] for e in events)
    open_findings = []
    for event in events:
        finding = _open_finding(event, records.get(event["fingerprint"]))
        if finding is not None and not any(s.covers(finding.monitor, finding.dedupe_key) for s in silences):
            open_findings.append(finding)
    results = []
    for name, notifier in sorted(channels.items()):
        ttl = notifier.config.expire_after
        alerts = [
            notifier.alert(f)
            for f in open_findings
            if notifier.config.selects(f.monitor, f.severity) and f.last_seen + ttl > now
        ]
        outcomes = notifier.deliver_alerts(alerts)
        failed = [o for o in outcomes if not o.ok]
        reason = failed[0].reason if failed else "delivered"
        results.append(SyncResult(name, len(alerts), not failed, reason))
    return results


def _open_finding(event: dict[str, Any], record: Any) -> OpenFinding | None:
    data = event["finding"]
    if not isinstance(data, dict):
        return None
    try:
        severity = Severity.parse(data.get("severity", "info"))
    except ValueError:
        return None
    first_seen = utc(record.first_seen) if record is not None else event["first_seen"]
    links = tuple(
        (str(link.get("label", "")), str(link.get("url", "")))
        for link in data.get("links") or ()
        if isinstance(link, dict)
    )
    raw_fields = data.get("fields") or ()
    fields = tuple((str(f[0]), str(f[1])) for f in raw_fields if isinstance(f, list | tuple) and len(f) == 2)
    return OpenFinding(
        monitor=str(data.get("monitor", "")),
        dedupe_key=str(data.get("dedupe_key", "")),
        kind=str(data.get("kind") or ""),
        severity=severity,
        title=str(data.get("title", "")),
        summary=str(data.get("summary", "")),
        fields=fields,
        links=links,
        first_seen=min(first_seen, event["last_seen"]),
        last_seen=event["last_seen"],
        resolved_at=event["last_seen"] if str(event.get("decision") or "").startswith(RESOLUTION_DECISION) else None,
    )

"""Findings the monitors stored during the report week, read back from the store's event log.

Every run records each finding it produced (`finding_events`), so one finding seen by many runs has
many events. The report keeps one per fingerprint: the highest rank, then the latest. An event belongs
to the week of the data it is about, not of the run that found it (`in_period`). A stored event that
cannot be read back (hand-edited, old schema) is counted and skipped.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from monitors.contracts.findings import Link, Severity, utc

log = logging.getLogger(__name__)

_SENT_PREFIXES = ("first notification", "escalated", "realert")
_TICK = timedelta(microseconds=1)


@dataclass(frozen=True)
class StoredFinding:
    """A finding as the store kept it (plain, untrusted text; links built by the monitors)."""

    monitor: str
    kind: str
    severity: Severity
    rank: int
    title: str
    summary: str
    dedupe_key: str
    observed_at: datetime
    decision: str
    fields: tuple[tuple[str, str], ...] = ()
    evidence: Mapping[str, Any] = field(default_factory=dict)
    links: tuple[Link, ...] = ()
    sent: bool = False
    first_seen: datetime | None = None  # the week's first event of this fingerprint
    sent_at: datetime | None = None  # when the week's notification at this rank was queued, if one was
    # How that notification's delivery went, from the outbox (monitors/report/delivery.py): when the first
    # channel took it, else the outbox status ('pending', 'failed', 'unconfirmed'); '' when the outbox no
    # longer holds it (pruned after store.outbox_retention) or it was never queued.
    delivered_at: datetime | None = None
    delivery: str = ""
    window_end: datetime | None = None  # the end of the data it is about (a cost alert's day); None before m008

    @property
    def fingerprint(self) -> str:
        return f"{self.monitor}:{self.dedupe_key}"

    def number(self, key: str, default: float = 0.0) -> float:
        """A numeric evidence value, or `default` when missing or not a number."""
        value = self.evidence.get(key)
        if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
            return default
        return float(value)

    def text(self, key: str) -> str:
        value = self.evidence.get(key)
        return "" if value is None else str(value)


def event_bounds(start: datetime, end: datetime, delay: timedelta) -> tuple[datetime, datetime]:
    """The [from, to) range of `observed_at` whose events describe data in [start, end), for events stored
    without their data window: a run at `now` reads data up to `now - delay`."""
    return start + delay + _TICK, end + delay + _TICK


def in_period(event: Mapping[str, Any], start: datetime, end: datetime, delay: timedelta) -> bool:
    """Whether a `Store.events_about` row belongs to the period [start, end): every event to exactly one.

    By the data it is about: the middle of its window lies in the period. A window across two weeks (the
    daily audit's Sunday 06:30 to Monday 06:30, a catch-up after an outage) goes to the week holding most
    of it, once; a day in the cost monitor's zone to the report week holding most of that day. An event
    stored without a window (before m008) goes by its run's clock, as `event_bounds` says.
    """
    window_start, window_end = event.get("window_start"), event.get("window_end")
    if window_start is None or window_end is None:
        low, high = event_bounds(start, end, delay)
        return low <= utc(event["observed_at"]) < high
    middle = utc(window_start) + (utc(window_end) - utc(window_start)) / 2
    return start <= middle < end


def parse_event(event: Mapping[str, Any]) -> StoredFinding:
    """One `Store.events_about` row -> StoredFinding; KeyError/TypeError/ValueError when unreadable."""
    data = event["finding"]
    links = tuple(Link(str(x["label"]), str(x["url"])) for x in data.get("links") or () if _is_http(x["url"]))
    evidence = data.get("evidence") or {}
    if not isinstance(evidence, Mapping):
        raise TypeError("evidence is not a mapping")
    decision = str(event.get("decision") or "")
    return StoredFinding(
        monitor=str(data.get("monitor") or event["monitor"]),
        kind=str(data.get("kind") or event.get("kind") or "-"),
        severity=Severity.parse(data.get("severity") or event["severity"]),
        rank=int(data.get("rank") or 0),
        title=str(data.get("title") or ""),
        summary=str(data.get("summary") or ""),
        dedupe_key=str(data["dedupe_key"]),
        observed_at=utc(datetime.fromisoformat(str(data["observed_at"]))),
        decision=decision,
        fields=tuple((str(k), str(v)) for k, v in data.get("fields") or ()),
        evidence=dict(evidence),
        links=links,
        sent=decision.startswith(_SENT_PREFIXES),
        window_end=utc(event["window_end"]) if event.get("window_end") is not None else None,
    )


def _is_http(url: Any) -> bool:
    # Links are ours, but the store is a file anyone can edit: only http(s) ever reaches a report.
    return isinstance(url, str) and url.startswith(("https://", "http://"))


def latest_findings(events: Iterable[Mapping[str, Any]]) -> tuple[list[StoredFinding], int]:
    """One finding per fingerprint (highest rank, then latest) and the number of unreadable events.

    Each keeps when the week first saw it and when it was sent at that rank (else first sent), so a
    row never reads "already sent" beside a time later than the sending.
    """
    best: dict[str, StoredFinding] = {}
    first_seen: dict[str, datetime] = {}
    sends: dict[str, list[tuple[int, datetime]]] = {}
    malformed = 0
    for event in events:
        try:
            finding = parse_event(event)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            malformed += 1
            log.warning("report: skipped an unreadable stored finding (%s)", type(exc).__name__)
            continue
        key = finding.fingerprint
        first_seen[key] = min(first_seen.get(key, finding.observed_at), finding.observed_at)
        if finding.sent:
            sends.setdefault(key, []).append((finding.rank, finding.observed_at))
        current = best.get(key)
        if current is None or (finding.rank, finding.observed_at) >= (current.rank, current.observed_at):
            best[key] = finding
    out = [_with_history(f, first_seen[key], sends.get(key, [])) for key, f in best.items()]
    return sorted(out, key=lambda f: (f.observed_at, f.fingerprint)), malformed


def _with_history(finding: StoredFinding, first_seen: datetime, sends: list[tuple[int, datetime]]) -> StoredFinding:
    at_rank = [when for rank, when in sends if rank == finding.rank]
    sent_at = min(at_rank or [when for _, when in sends], default=None)
    return replace(finding, sent=finding.sent or bool(sends), first_seen=first_seen, sent_at=sent_at)


def audit_most_worth_opening(findings: Iterable[StoredFinding]) -> list[StoredFinding]:
    """Audit findings, loudest first, then by money and steps wasted."""
    audits = [f for f in findings if f.monitor == "audit"]
    return sorted(
        audits,
        key=lambda f: (-int(f.severity), -f.number("usd"), -f.number("wasted_steps"), f.fingerprint),
    )


EVENTS = "events"
_EVENT_SIZE = ("count", "errors", "failing")  # an error burst's count, an error share's or evaluator's failures


def event_alerts(findings: Iterable[StoredFinding]) -> list[StoredFinding]:
    """The events monitor's alerts (error bursts, error shares, failing evaluator scores), loudest and
    largest first."""
    alerts = [f for f in findings if f.monitor == EVENTS]
    return sorted(alerts, key=lambda f: (-int(f.severity), -max(f.number(k) for k in _EVENT_SIZE), f.fingerprint))


@dataclass(frozen=True)
class AuditGroup:
    """One agent's audit findings of one kind: how many, what they wasted, the session to open first."""

    agent: str
    kind: str
    findings: int
    sessions: int
    wasted_steps: int
    usd: float  # what the wasted steps cost: the spend of the steps the check counts as waste
    worst: StoredFinding


def audit_by_agent_and_kind(findings: Iterable[StoredFinding]) -> list[AuditGroup]:
    """Audit findings grouped by (agent, kind), most wasteful first: by what the wasted steps cost, then
    by how many there were (severity only breaks ties; "most worth opening" is audit_most_worth_opening)."""
    groups: dict[tuple[str, str], list[StoredFinding]] = {}
    for f in audit_most_worth_opening(findings):
        groups.setdefault((f.text("agent") or "unknown", f.kind), []).append(f)
    out = [
        AuditGroup(
            agent=agent,
            kind=kind,
            findings=len(members),
            sessions=len({m.text("session") for m in members}),
            wasted_steps=int(sum(m.number("wasted_steps") for m in members)),
            usd=round(sum(m.number("usd") for m in members), 6),
            worst=members[0],  # already sorted: loudest, then most expensive
        )
        for (agent, kind), members in groups.items()
    ]
    return sorted(out, key=lambda g: (-g.usd, -g.wasted_steps, -int(g.worst.severity), g.agent, g.kind))

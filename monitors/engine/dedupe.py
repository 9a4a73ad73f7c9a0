"""Which findings become notifications, each decision with a reason (Alertmanager's DedupStage).

A fingerprint is sent once. It is sent again only when its rank rises (a budget going from 80% to 100%)
or, when a realert interval is configured, after that interval. A lower rank than the one already sent
is suppressed (a late 80% after the 100% page). Silences win over everything here; they do not stop
the resolved notice of an alert sent before them (monitors.engine.routing). A finding the monitor
resolved has its notification closed, so if it holds again it is new.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from monitors.contracts.findings import Finding, Severity
from monitors.store.rows import FindingRecord, Silence


@dataclass(frozen=True)
class Decision:
    finding: Finding
    send: bool
    reason: str


def collapse(findings: Iterable[Finding]) -> tuple[list[Finding], list[Decision]]:
    """Keep the highest-rank finding per fingerprint of one run; the others are superseded."""
    best: dict[str, Finding] = {}
    superseded: list[Decision] = []
    for finding in findings:
        current = best.get(finding.fingerprint)
        if current is None or (finding.rank, finding.severity) > (current.rank, current.severity):
            if current is not None:
                superseded.append(Decision(current, False, f"superseded by rank {finding.rank} in this run"))
            best[finding.fingerprint] = finding
        else:
            superseded.append(Decision(finding, False, f"superseded by rank {current.rank} in this run"))
    return list(best.values()), superseded


def decide(
    finding: Finding,
    record: FindingRecord | None,
    silences: Iterable[Silence],
    *,
    now: datetime,
    realert: timedelta | None,
) -> Decision:
    for silence in silences:
        if silence.covers(finding.monitor, finding.dedupe_key):
            return Decision(finding, False, f"silenced until {silence.until:%Y-%m-%d %H:%M}Z (#{silence.id})")
    if finding.severity <= Severity.INFO:
        return Decision(finding, False, "recorded for the report (info)")
    if record is None or record.last_sent is None:
        return Decision(finding, True, "first notification")
    sent_rank = record.sent_rank or 0
    if finding.rank > sent_rank:
        return Decision(finding, True, f"escalated from rank {sent_rank} to {finding.rank}")
    if finding.rank < sent_rank:
        return Decision(finding, False, f"rank {finding.rank} below already-sent rank {sent_rank}")
    if realert is not None and now - record.last_sent >= realert:
        return Decision(finding, True, "realert interval elapsed")
    return Decision(finding, False, f"already sent at {record.last_sent:%Y-%m-%d %H:%M}Z")


def decide_all(
    findings: Iterable[Finding],
    records: Mapping[str, FindingRecord],
    silences: list[Silence],
    *,
    now: datetime,
    realert: timedelta | None,
) -> list[Decision]:
    kept, superseded = collapse(findings)
    decisions = [
        decide(f, records.get(f.fingerprint), silences, now=now, realert=realert)
        for f in sorted(kept, key=lambda f: (f.observed_at, f.fingerprint))
    ]
    return decisions + superseded

"""The weekly report's audit section groups findings by agent and kind, most wasted spend first."""

from __future__ import annotations

from datetime import UTC, datetime

from monitors.contracts.findings import Severity
from monitors.report.findings import StoredFinding, audit_by_agent_and_kind


def finding(agent, kind, session, usd, steps, severity=Severity.INFO):
    return StoredFinding(
        monitor="audit", kind=kind, severity=severity, rank=int(severity), title=f"{agent}: {kind}", summary="",
        dedupe_key=f"{session}:{kind}", observed_at=datetime(2026, 11, 20, tzinfo=UTC), decision="recorded",
        evidence={"agent": agent, "session": session, "usd": usd, "wasted_steps": steps},
    )  # fmt: skip


def test_groups_by_agent_and_kind_most_wasted_spend_first():
    groups = audit_by_agent_and_kind(
        [
            finding("support-bot", "conversation_loop", "s1", 0.02, 4),
            finding("support-bot", "conversation_loop", "s2", 0.05, 9),
            finding("support-bot", "repeat", "s2", 0.01, 1),
            finding("coder", "loop", "c1", 0.01, 3, Severity.WARNING),
            finding("coder", "repeat", "c2", 0.40, 6),
        ]
    )
    summary = [
        (g.agent, g.kind, g.findings, g.sessions, g.wasted_steps, g.usd, g.worst.text("session")) for g in groups
    ]
    # By what was wasted, not by severity: the cheap loop sent at once is not "most wasteful".
    assert summary == [
        ("coder", "repeat", 1, 1, 6, 0.4, "c2"),
        ("support-bot", "conversation_loop", 2, 2, 13, 0.07, "s2"),  # open the costlier session first
        ("coder", "loop", 1, 1, 3, 0.01, "c1"),  # as cheap as the next: more steps wasted
        ("support-bot", "repeat", 1, 1, 1, 0.01, "s2"),
    ]


def test_other_monitors_are_not_grouped():
    other = StoredFinding(
        monitor="cost", kind="budget", severity=Severity.WARNING, rank=20, title="", summary="", dedupe_key="g",
        observed_at=datetime(2026, 11, 20, tzinfo=UTC), decision="recorded",
    )  # fmt: skip
    assert audit_by_agent_and_kind([other]) == []


def test_a_waste_under_a_cent_does_not_read_as_nothing(sqlite_store) -> None:
    from zoneinfo import ZoneInfo

    from monitors.report.build import build_week_report
    from monitors.report.digest import build_digest_message
    from monitors.report.period import parse_week
    from monitors.report.tables import report_tables
    from tests.report import builders as b

    tiny = b.audit_finding("s1", "repeat", Severity.INFO, 0.004, 4)  # four cheap polls: $0.004
    free = b.audit_finding("s2", "backtrack", Severity.INFO, 0.0, 1)
    b.store_events(sqlite_store, "audit", b.event(tiny), b.event(free))
    week = parse_week("2026-W47", ZoneInfo("UTC"))
    report = build_week_report(sqlite_store, b.source_of([]), b.settings(), week, now=b.REPORT_NOW)
    lines = next(s.lines for s in build_digest_message(report).sections if s.heading.startswith("Action audit"))
    assert "- llm-fix: repeat in 1 session(s), under $0.01 spent on 4 wasted step(s); open s1" in lines
    assert "- llm-fix: backtrack in 1 session(s), $0.00 spent on 1 wasted step(s); open s2" in lines
    [by_session] = [t for t in report_tables(report) if t.title.startswith("Action audit (")]
    assert [row[5] for row in by_session.rows] == ["under $0.01", "$0.00"]

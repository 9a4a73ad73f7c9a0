"""The full report has its section on errors and evaluations (the events monitor's alerts), as the digest
does: until now they were only rows among every finding."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from monitors.contracts.findings import Link, RunWindow, Severity
from monitors.report.build import build_week_report
from monitors.report.full import render_html, render_markdown
from monitors.report.period import parse_week
from monitors.report.tables import report_tables
from monitors.store.store import Store
from tests.report import builders as b

WEEK = parse_week("2026-W47", ZoneInfo("UTC"))


def _day(day: int) -> RunWindow:
    start = datetime(2026, 11, 16 + day, tzinfo=UTC)
    return RunWindow(start, start + timedelta(days=1))


def _alerts() -> list:
    burst = b.finding(
        "events",
        "signature:issue-executor:ab12:2026-11-18",
        "error_burst",
        Severity.WARNING,
        datetime(2026, 11, 18, 15, 15, tzinfo=UTC),
        rank=1,
        title="40 errors of one kind from issue-executor on 2026-11-18",
        fields=(
            ("Agent", "issue-executor"),
            ("Signature", "ERROR: Timeout after <n> ms"),
            ("Count", "40 (first 09:02, last 14:51)"),
        ),
        evidence={"count": 40},
        window=_day(2),
        links=(Link("Trace 1", "https://langfuse.example.com/project/p/traces/t1"),),
    )
    failing = b.finding(
        "events",
        "score:cd34:mr-review:2026-11-20",
        "failing_scores",
        Severity.WARNING,
        datetime(2026, 11, 20, 12, 15, tzinfo=UTC),
        rank=1,
        title="review_helpfulness: 71.9% of mr-review's scores fail on 2026-11-20 so far",
        fields=(
            ("Evaluator", "review_helpfulness"),
            ("Agent", "mr-review"),
            ("Failing", "23 of 32 scores so far (as of 12:00 UTC) (71.9%; first 08:10, last 11:58)"),
        ),
        evidence={"failing": 23},
        window=_day(4),
    )
    critical = b.finding(
        "events", "score:ef56:llm-fix:2026-11-19", "critical_score", Severity.CRITICAL,
        datetime(2026, 11, 19, 10, 15, tzinfo=UTC), rank=1,
        title="Critical evaluator no_secrets_leaked failed 1× for llm-fix on 2026-11-19",
        fields=(("Evaluator", "no_secrets_leaked"), ("Agent", "llm-fix"), ("Failing", "1 of 12 scores (8.3%)")),
        evidence={"failing": 1}, window=_day(3),
    )  # fmt: skip
    return [burst, failing, critical]


def test_the_full_report_lists_errors_and_evaluations_loudest_first(sqlite_store: Store) -> None:
    b.store_events(sqlite_store, "events", *(b.event(f) for f in _alerts()))
    report = build_week_report(sqlite_store, b.source_of([]), b.settings(), WEEK, now=b.REPORT_NOW)
    [table] = [t for t in report_tables(report) if t.title.startswith("Errors and evaluations")]
    assert table.title == "Errors and evaluations (3)"
    assert [row[:3] for row in table.rows] == [
        ("critical", "critical_score", "llm-fix"),  # the loudest first, however small
        ("warning", "error_burst", "issue-executor"),  # then the largest: 40 errors before 23 failing scores
        ("warning", "failing_scores", "mr-review"),
    ]
    assert table.rows[1][3:5] == (
        "40 errors of one kind from issue-executor on 2026-11-18. Signature: ERROR: Timeout after <n> ms",
        "40 (first 09:02, last 14:51)",
    )
    assert table.rows[2][4].startswith("23 of 32 scores so far (as of 12:00 UTC)")  # the alert's own figures
    assert "## Errors and evaluations (3)" in render_markdown(report)
    assert "<h2>Errors and evaluations (3)</h2>" in render_html(report, charts=False)
    assert "- error/evaluation alert(s): **3**" in render_markdown(report)


def test_a_week_without_event_alerts_has_no_empty_section(sqlite_store: Store) -> None:
    report = build_week_report(sqlite_store, b.source_of([]), b.settings(), WEEK, now=b.REPORT_NOW)
    assert not [t for t in report_tables(report) if t.title.startswith("Errors and evaluations")]

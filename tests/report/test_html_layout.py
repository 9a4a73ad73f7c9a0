"""The HTML report read at 1280 px in a real browser: no table cell breaks a word across lines.

A session id broken after a hyphen ("pipeline-" / "medic-1118-4123") reads as two names, and
`overflow-wrap: anywhere` split plain words ("sever-ity") in narrow columns. Headless Chromium lays the
page out and reports every word whose glyphs sit on more than one line.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from monitors.contracts.findings import Severity
from monitors.report.build import build_week_report, write_full_report
from monitors.report.period import parse_week
from monitors.store.store import Store
from tests.report import builders as b
from tests.report.chromium import WIDTH, find_chromium, probe_layout

pytestmark = pytest.mark.skipif(
    find_chromium() is None, reason="headless Chromium is not installed (apt-get install chromium)"
)

WEEK = parse_week("2026-W47", ZoneInfo("UTC"))


def _busy_week(store: Store, out: Path) -> Path:
    """A week with every table filled with the names agents really have (hyphens, ids, dates)."""
    audits = [
        b.audit_finding(f"{agent}-11{day}-48{n}3", kind, severity, usd, steps)
        for n, (agent, day, kind, severity, usd, steps) in enumerate(
            [
                ("llm-fix", 21, "runaway", Severity.CRITICAL, 22.47, 203),
                ("pipeline-medic", 18, "loop", Severity.CRITICAL, 0.10, 12),
                ("issue-executor", 20, "error_storm", Severity.WARNING, 0.08, 6),
                ("issue-executor", 18, "backtrack", Severity.INFO, 0.0, 2),
            ]
        )
    ]
    b.store_events(store, "audit", *(b.event(f, "recorded for the report (info)") for f in audits))
    drifts = [
        b.drift_finding(n, -0.2 - n / 10, "Fix the flaky test test_invoice_totals", "chore(deps): bump", agent=agent)
        for n, agent in enumerate(["issue-executor", "release-notes", "pipeline-medic"], 1)
    ]
    b.store_events(store, "drift", *(b.event(f) for f in drifts))
    over = b.budget_finding("2026-11-21", 100, 52.54, budget="per-agent", value="llm-fix")
    b.store_events(store, "cost", b.event(over))
    burst = b.finding(
        "events", "signature:issue-executor:ab12:2026-11-18", "error_burst", Severity.WARNING, b.WEEK_END, rank=1,
        title="40 errors of one kind from issue-executor on 2026-11-18",
        fields=(
            ("Agent", "issue-executor"),
            ("Signature", "ERROR: Invalid schema for function '<value>': In context=('<value>', '<value>'), array "
                          "schema missing items (request <id>, deployment issue-executor-2.4.0)"),
            ("Count", "40 (first 2026-11-18 14:48:05 UTC, last 2026-11-18 16:59:18 UTC); new: not seen on a usual day"),
        ),
        evidence={"count": 40},
    )  # fmt: skip
    b.store_events(store, "events", b.event(burst))
    rows = [
        b.obs(d * 10 + i, b.WEEK_START + timedelta(days=d, hours=9), 5.0 + i, agent=agent, model=model, user=user)
        for d in range(7)
        for i, (agent, model, user) in enumerate(
            [("llm-fix", "claude-sonnet-4", "svc-llm-fix"), ("issue-executor", "gpt-4o-mini", "farah")]
        )
    ]
    report = build_week_report(store, b.source_of(rows), b.settings(), WEEK, now=b.REPORT_NOW)
    return write_full_report(report, out)[1]


def test_no_table_cell_breaks_a_word_at_1280_px(sqlite_store: Store, tmp_path: Path) -> None:
    layout = probe_layout(_busy_week(sqlite_store, tmp_path), width=WIDTH)
    assert layout["viewport"] > 1200 and layout["cells"] > 50  # the page was laid out, tables and all
    assert layout["broken"] == []
    assert layout["wider_than_page"] == 0

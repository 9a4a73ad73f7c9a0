"""The outside-scope reason as the alert and the weekly report show it: globs apart from files."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from monitors.contracts.forge import FileStat
from monitors.drift.checks import parse_scope, run_checks
from monitors.drift.evidence import build_evidence
from monitors.report.build import build_week_report
from monitors.report.period import parse_week
from monitors.report.tables import report_tables
from monitors.store.store import Store
from tests.report import builders as b


def outside_scope_reason(paths: list[str], scope: str) -> str:
    files = [FileStat(p, "modified", 4, 1) for p in paths]
    ev = build_evidence(["Fix the login redirect"], files, head_sha="abc")
    (check,) = run_checks("Fix the login redirect", ev, files_known=True, scope=parse_scope(scope))
    assert check.name == "outside_scope"
    return check.reason


def test_the_globs_are_set_apart_from_the_files() -> None:
    reason = outside_scope_reason(
        ["src/auth/login.py", "docs/x.md", "src/billing/export.py", "README.md", "Makefile"],
        "src/auth/**, tests/auth/**",
    )
    assert reason == (
        # The files largest first (here all alike: by path).
        "4 of 5 files outside scope (src/auth/**, tests/auth/**): Makefile, README.md, docs/x.md and 1 more"
    )


def test_many_globs_are_cut_inside_their_parentheses() -> None:
    reason = outside_scope_reason(["lib/x.py"], "src/a/**, src/b/**, src/c/**, src/d/**")
    assert reason == "1 of 1 files outside scope (src/a/**, src/b/**, src/c/** and 1 more): lib/x.py"


def test_a_file_name_with_a_line_break_stays_on_the_reason_line() -> None:
    # Git allows any byte but NUL in a file name; a line break would start a line of the alert's "Why"
    # (and a row of the report) that reads like a reason of its own.
    reason = outside_scope_reason(["src/auth/a.py", "docs/x.md\ntests removed: 9 test(s) removed"], "src/auth/")
    assert "\n" not in reason
    assert reason == "1 of 2 files outside scope (src/auth/): docs/x.md tests removed: 9 test(s) removed"


def test_the_report_row_reads_the_same_line(sqlite_store: Store) -> None:
    reason = outside_scope_reason(["src/auth/login.py", "docs/x.md", "setup.cfg"], "src/auth/**")
    finding = b.forge_drift_finding("github", 61, -0.2, checks=(("outside_scope", reason),))
    b.store_events(sqlite_store, "drift", b.event(finding))
    week = parse_week("2026-W47", ZoneInfo("UTC"))
    report = build_week_report(sqlite_store, b.source_of([]), b.settings(), week, now=b.REPORT_NOW)
    [table] = [t for t in report_tables(report) if t.title.startswith("Goal drift")]
    [row] = table.rows
    assert row[table.headers.index("Why")] == (
        "outside scope: 2 of 3 files outside scope (src/auth/**): docs/x.md, setup.cfg"
    )

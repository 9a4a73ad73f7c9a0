"""Goal-drift alerts in the full report and the digest: which change request, what fired and why, worst first.

The alerts are built by the drift monitor's own `drift_finding` (tests/report/builders.py), so the report
reads exactly what the monitor stores.
"""

from __future__ import annotations

import dataclasses
from zoneinfo import ZoneInfo

from monitors.report.build import build_week_report
from monitors.report.digest import LINE_MAX, build_digest_message
from monitors.report.full import render_markdown
from monitors.report.period import parse_week
from monitors.report.tables import Table, report_tables
from monitors.store.store import Store
from tests.report import builders as b

WEEK = parse_week("2026-W47", ZoneInfo("UTC"))
TESTS_REMOVED = ("tests_removed", "3 test(s) removed (tests/test_client.py::test_no_retry_on_400), not asked for")


def _report(store: Store, *findings):
    b.store_events(store, "drift", *(b.event(f) for f in findings))
    return build_week_report(store, b.source_of([]), b.settings(), WEEK, now=b.REPORT_NOW)


def _drift_table(report) -> Table:
    [table] = [t for t in report_tables(report) if t.title.startswith("Goal drift")]
    return table


def _column(table: Table, header: str) -> list[str]:
    i = table.headers.index(header)
    return [str(row[i]) for row in table.rows]


def _requests(table: Table) -> list[str]:
    """The second column: which pull or merge request."""
    return [str(row[1]) for row in table.rows]


def test_pull_requests_and_merge_requests_read_the_same_way(sqlite_store: Store) -> None:
    github = b.forge_drift_finding("github", 58, -1.5, head="59690c414caabaccfe6f59d90019211b4dcb932c")
    gitlab = b.forge_drift_finding("gitlab", 92, -2.3, head="1785190c803c5ea3c5f6b2c7bd6b1d2e7c0e5a11")
    report = _report(sqlite_store, github, gitlab)
    table = _drift_table(report)
    # GitLab's state is "opened", GitHub's "open": the report says one word for the one state.
    assert _requests(table) == [
        "platform/web!92 (open), head 1785190c803c",
        "acme-labs/agent-sdk#58 (open), head 59690c414caa",
    ]
    markdown = render_markdown(report)
    assert "59690c414caabacc" not in markdown and "@" not in "".join(_requests(table))
    assert table.headers[1] == "Pull/merge request"


def test_states_other_than_open_are_kept_as_the_forge_gives_them(sqlite_store: Store) -> None:
    merged = b.forge_drift_finding("gitlab", 93, -2.0, head="2" * 40)
    fields = tuple((k, v.replace("(opened)", "(merged)")) if k == "Merge request" else (k, v) for k, v in merged.fields)
    closed = b.forge_drift_finding("github", 59, -1.0, head="3" * 40)
    fields_closed = tuple(
        (k, v.replace("(open)", "(closed)")) if k == "Pull request" else (k, v) for k, v in closed.fields
    )
    table = _drift_table(
        _report(
            sqlite_store, dataclasses.replace(merged, fields=fields), dataclasses.replace(closed, fields=fields_closed)
        )
    )
    assert sorted(_requests(table)) == [
        "acme-labs/agent-sdk#59 (closed), head 333333333333",
        "platform/web!93 (merged), head 222222222222",
    ]


def test_an_alert_stored_without_its_request_field_is_named_from_its_evidence(sqlite_store: Store) -> None:
    # Alerts stored by older versions name the request only in their key and evidence.
    old = b.drift_finding(4, -0.6, "Fix flaky test 4", "chore: bump deps 4")
    table = _drift_table(_report(sqlite_store, old))
    assert _requests(table) == ["group/app!4, head abc4"]


def _mixed_week(store: Store):
    """The demo's mix: a PR that removed tests (its score is high), two below the threshold, one outside
    its scope with a score just above the threshold."""
    return _report(
        store,
        b.forge_drift_finding("github", 58, 3.207, checks=(TESTS_REMOVED,)),
        b.forge_drift_finding("gitlab", 92, -2.341),
        b.forge_drift_finding("gitlab", 345, -0.845),
        b.forge_drift_finding("github", 59, -0.538, checks=(("outside_scope", "1 of 3 files outside the scope"),)),
    )


def test_each_drift_row_says_what_fired_and_why(sqlite_store: Store) -> None:
    table = _drift_table(_mixed_week(sqlite_store))
    why = dict(zip((r.split(" ")[0] for r in _requests(table)), _column(table, "Why"), strict=True))
    assert why["acme-labs/agent-sdk#58"] == f"tests removed: {TESTS_REMOVED[1]}"
    assert why["acme-labs/agent-sdk#59"] == "outside scope: 1 of 3 files outside the scope"
    assert why["platform/web!92"].endswith("reads unlike the objective: score -2.34 below the threshold -0.55")


def test_worst_first_ranks_fired_checks_by_severity_then_the_score(sqlite_store: Store) -> None:
    # A high score does not make the pull request that removed tests the mildest alert of the week.
    table = _drift_table(_mixed_week(sqlite_store))
    assert [r.split(" ")[0] for r in _requests(table)] == [
        "acme-labs/agent-sdk#58",  # tests removed
        "platform/web!92",  # score -2.34 below -0.55
        "platform/web!345",  # score -0.85 below -0.55
        "acme-labs/agent-sdk#59",  # outside the scope, score above the threshold
    ]
    assert table.note.startswith("Worst first: by the most serious signal that fired (tests removed, nothing done")


def test_the_digest_worst_three_say_what_fired(sqlite_store: Store) -> None:
    message = build_digest_message(_mixed_week(sqlite_store))
    [drift] = [s.lines for s in message.sections if s.heading.startswith("Goal drift")]
    assert drift[0].startswith(
        "[1] issue-executor on acme-labs/agent-sdk#58: tests removed (score 3.21, threshold -0.55); asked "
    )
    assert drift[1].startswith("[2] issue-executor on platform/web!92: score -2.34 below threshold -0.55; asked ")
    assert drift[2].startswith("[3] issue-executor on platform/web!345: score -0.84 below threshold -0.55; asked ")
    assert all(len(line) <= LINE_MAX and line.endswith('"') for line in drift)  # not cut to fit the chat

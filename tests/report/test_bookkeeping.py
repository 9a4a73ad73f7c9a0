"""The report's bookkeeping agrees with the week it reports on: runs and data checked in that week,
what a "case" is, when a finding was seen and sent, and no row of nothing."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from monitors.contracts.findings import Severity
from monitors.report.build import build_week_report
from monitors.report.digest import build_digest_message
from monitors.report.period import parse_week
from monitors.report.tables import report_tables
from monitors.store.store import Store
from tests.report import builders as b

WEEK = parse_week("2026-W47", ZoneInfo("UTC"))


def _report(store: Store, rows: list | None = None):
    return build_week_report(store, b.source_of(rows or []), b.settings(), WEEK, now=b.REPORT_NOW)


def _table(report, title: str):
    return next(t for t in report_tables(report) if t.title.startswith(title))


def test_runs_are_counted_for_the_week_they_read_whenever_they_finished(sqlite_store: Store) -> None:
    # The demo (and any report built later than its runs) has runs whose wall-clock finish is after the
    # report's `now`; the digest said "0 run(s) this week" right after 168 runs.
    for hour in range(0, 168, 24):
        start = b.WEEK_START + timedelta(hours=hour)
        window = {"start": start.isoformat(), "end": (start + timedelta(hours=24)).isoformat()}
        finished = datetime.now(UTC)
        sqlite_store.record_run("cost", started=finished, finished=finished, status="ok", summary={"window": window})
    health = {h.monitor: h for h in _report(sqlite_store).health}
    assert health["cost"].runs == 7
    assert health["cost"].checked_through == b.WEEK_END  # not the wall-clock finish, days after the week
    lines = {s.heading: s.lines for s in build_digest_message(_report(sqlite_store)).sections}
    assert "cost: ok, 7 run(s) this week, whole week checked" in lines["Monitor health"]


def test_a_run_after_the_week_is_not_its_last_success(sqlite_store: Store) -> None:
    b.record_run(sqlite_store, "cost", day=2)  # reads Wed 18 Nov 00:00-06:00
    b.record_run(sqlite_store, "cost", day=9)  # a run over the next week
    health = {h.monitor: h for h in _report(sqlite_store).health}
    assert health["cost"].runs == 1
    assert health["cost"].checked_through == b.WEEK_START + timedelta(days=2, hours=6)
    row = next(r for r in _table(_report(sqlite_store), "Monitor health").rows if r[0] == "cost")
    assert row[1] == "checked up to Wed 18 Nov 06:00 UTC"


def _unverifiable(subject: str, reason: str, traces: int):
    return b.finding(
        "drift", f"unverifiable:{subject}:{reason}", "unverifiable", Severity.INFO, b.WEEK_END,
        evidence={"subject": subject, "reason": reason, "traces": traces},
    )  # fmt: skip


NO_REQUEST = "traces state an objective but name no merge request"
AGENTS = (("llm-fix", 1200), ("issue-executor", 700), ("mr-review", 60), ("pipeline-medic", 8))


def test_unverifiable_drift_counts_traces_not_only_agents(sqlite_store: Store) -> None:
    cases = [_unverifiable("g/a!404", "GitLab: merge request or project not found", 1)]
    cases += [_unverifiable("g/a!219", "GitLab: the merge request has no commits", 2)]
    cases += [_unverifiable(f"agent {a}", NO_REQUEST, n) for a, n in AGENTS]
    b.store_events(sqlite_store, "drift", *(b.event(f, "recorded for the report (info)") for f in cases))
    report = _report(sqlite_store)
    message = build_digest_message(report)
    sections = {s.heading: s.lines for s in message.sections}
    # Only the checks that failed are "could not check"; traces naming no change request are not drift's.
    assert "3 trace(s) goal drift could not check" in message.summary  # not 1,971, nor "2 check(s)"
    assert "1,968 trace(s) not linked to a change request (nothing for goal drift to check)" in message.summary
    failed = sections["Checks that could not run"]
    assert failed[1].startswith("Goal drift, 2 traces of 1 merge request: GitLab: the merge request has no commits")
    assert not [line for line in failed if NO_REQUEST in line]
    heading = "Not linked to a change request: 1,968 trace(s), nothing for goal drift to check"
    assert sections[heading][0].startswith(f"1,968 traces of 4 agents: {NO_REQUEST}")
    assert [r[1] for r in _table(report, "Checks that could not run").rows] == [
        "1 trace of 1 merge request",
        "2 traces of 1 merge request",
    ]
    assert _table(report, "Traces not linked to a change request (1,968)").rows[0][:2] == (
        "1,968 traces of 4 agents",
        NO_REQUEST,
    )


def test_traces_naming_no_change_request_alone_leave_the_week_quiet(sqlite_store: Store) -> None:
    cases = [_unverifiable(f"agent {a}", NO_REQUEST, n) for a, n in AGENTS]
    b.store_events(sqlite_store, "drift", *(b.event(f, "recorded for the report (info)") for f in cases))
    report = _report(sqlite_store)
    assert report.quiet and report.unverifiable == [] and report.not_linked_traces == 1968
    assert not [t for t in report_tables(report) if t.title.startswith("Checks that could not run")]


def test_every_finding_says_when_it_was_first_seen_and_sent(sqlite_store: Store) -> None:
    warn = b.budget_finding("2026-11-19", 80, 33.0)  # observed Thu 19 Nov 18:15
    later = dataclasses.replace(warn, observed_at=warn.observed_at + timedelta(hours=7))
    b.store_events(sqlite_store, "cost", b.event(warn), b.event(later, "already sent at 2026-11-19 18:15Z"))
    info = b.audit_finding("s1", "repeat", Severity.INFO, 0.01, 2)
    b.store_events(sqlite_store, "audit", b.event(info, "recorded for the report (info)"))
    table = _table(_report(sqlite_store), "Every finding")
    assert table.headers == ("First seen", "Monitor", "Check", "Severity", "Title", "Sent", "Links")  # no Rank
    budget = next(r for r in table.rows if r[1] == "cost")
    # Queued by the first run; with no outbox row left (tests/report/test_delivery.py has those), only that.
    assert (budget[0], budget[5]) == (
        "Thu 19 Nov 18:15 UTC",
        "queued Thu 19 Nov 18:15 UTC; its delivery is not on record",
    )
    audit = next(r for r in table.rows if r[1] == "audit")
    assert audit[5] == "not sent: recorded for the report (info)"


def test_no_row_for_a_model_that_cost_nothing(sqlite_store: Store) -> None:
    rows = [
        b.obs(1, b.WEEK_START + timedelta(hours=9), 12.0, model="gpt-4o"),
        b.obs(2, b.WEEK_START + timedelta(hours=10), 0.0, model=""),  # a span with no model and no cost
        b.obs(3, b.WEEK_START - timedelta(hours=10), 0.0, model=""),
    ]
    report = _report(sqlite_store, rows)
    assert [r.name for r in report.spend.by["model"]] == ["gpt-4o"]  # no "(none) $0.00 $0.00" row
    rows.append(b.obs(4, b.WEEK_START + timedelta(hours=11), 0.5, model=""))
    assert [r.name for r in _report(sqlite_store, rows).spend.by["model"]] == ["gpt-4o", "(no model)"]

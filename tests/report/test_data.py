"""Gathering a week: stored findings (one per fingerprint, attributed by data time), runs and spend."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from zoneinfo import ZoneInfo

from monitors.contracts.findings import Severity
from monitors.report.build import build_week_report
from monitors.report.period import parse_week
from monitors.report.spend import gather_spend
from monitors.store.store import Store
from tests.report import builders as b

WEEK = parse_week("2026-W47", ZoneInfo("UTC"))


def _week_report(store: Store, source=None, schedules=None):
    return build_week_report(
        store, source or b.source_of([]), b.settings(), WEEK, now=b.REPORT_NOW, schedules=schedules
    )


def test_one_finding_per_fingerprint_keeps_the_highest_rank(sqlite_store: Store) -> None:
    warn = b.budget_finding("2026-11-21", 80, 33.0)
    page = b.budget_finding("2026-11-21", 100, 48.5)
    b.store_events(
        sqlite_store, "cost", b.event(warn), b.event(page), b.event(page, "already sent at 2026-11-21 18:15Z")
    )
    b.store_events(sqlite_store, "cost", b.event(warn, "superseded by rank 100 in this run"))
    report = _week_report(sqlite_store)
    assert [(f.rank, f.sent) for f in report.findings] == [(100, True)]
    assert [(o.day, o.budget, o.value, o.spend, o.cap) for o in report.over_budget] == [
        ("2026-11-21", "global", "*", 48.5, 40.0)
    ]


def test_events_stored_without_a_window_are_attributed_by_their_runs_clock(sqlite_store: Store) -> None:
    # Rows from before m008 carry no data window (tests/report/test_finding_weeks.py has those that do).
    # A run at week start + delay read data up to the week start: the week before.
    before = b.finding("audit", "s-before:loop", "loop", Severity.CRITICAL, b.WEEK_START + b.DELAY)
    first = b.finding("audit", "s-first:loop", "loop", Severity.CRITICAL, b.WEEK_START + b.DELAY + timedelta(seconds=1))
    last = b.finding("audit", "s-last:loop", "loop", Severity.CRITICAL, b.WEEK_END + b.DELAY)  # reads up to week end
    after = b.finding("audit", "s-after:loop", "loop", Severity.CRITICAL, b.WEEK_END + b.DELAY + timedelta(seconds=1))
    b.store_events(sqlite_store, "audit", *(b.event(f) for f in (before, first, last, after)))
    keys = sorted(f.dedupe_key for f in _week_report(sqlite_store).findings)
    assert keys == ["s-first:loop", "s-last:loop"]


def test_unreadable_stored_events_are_counted_and_skipped(sqlite_store: Store) -> None:
    good = b.event(b.audit_finding("s1", "repeat", Severity.INFO, 0.1, 2))
    no_key = b.event(b.audit_finding("s2", "repeat", Severity.INFO, 0.1, 2))
    del no_key["finding"]["dedupe_key"]
    bad_time = b.event(b.audit_finding("s3", "repeat", Severity.INFO, 0.1, 2))
    bad_time["finding"]["observed_at"] = "yesterday"
    bad_severity = b.event(b.audit_finding("s4", "repeat", Severity.INFO, 0.1, 2))
    bad_severity["finding"]["severity"] = "apocalyptic"
    b.store_events(sqlite_store, "audit", good, no_key, bad_time, bad_severity)
    report = _week_report(sqlite_store)
    assert [f.dedupe_key for f in report.findings] == ["s1:repeat"]
    assert report.malformed_events == 3


def test_drift_worst_first_audit_by_severity_then_money(sqlite_store: Store) -> None:
    drifts = [b.drift_finding(n, sim, f"objective {n}", f"did {n}") for n, sim in ((1, -0.16), (2, -0.4), (3, -0.2))]
    audits = [
        b.audit_finding("cheap-info", "repeat", Severity.INFO, 5.0, 3),
        b.audit_finding("cheap-loop", "loop", Severity.CRITICAL, 0.1, 12),
        b.audit_finding("costly-runaway", "runaway", Severity.CRITICAL, 22.5, 203),
    ]
    b.store_events(sqlite_store, "drift", *(b.event(f) for f in drifts))
    b.store_events(sqlite_store, "audit", *(b.event(f, "recorded for the report (info)") for f in audits))
    report = _week_report(sqlite_store)
    assert [f.evidence["mr_iid"] for f in report.drift] == [2, 3, 1]
    assert [f.text("session") for f in report.audit] == ["costly-runaway", "cheap-loop", "cheap-info"]
    assert report.audit_by_kind == {"repeat": 1, "loop": 1, "runaway": 1}


def test_unverifiable_cases_grouped_by_reason(sqlite_store: Store) -> None:
    def case(subject: str, reason: str):
        return b.finding(
            "drift", f"unverifiable:{subject}", "unverifiable", Severity.INFO, b.WEEK_END,
            evidence={"subject": subject, "reason": reason},
        )  # fmt: skip

    cases = [case(f"g/a!{n}", f"GitLab: g/a!{n} has no commits") for n in range(3)]
    cases.append(case("session s9", "the trace names no merge request"))
    b.store_events(sqlite_store, "drift", *(b.event(f, "recorded for the report (info)") for f in cases))
    groups = _week_report(sqlite_store).unverifiable
    assert [(g.reason, g.count) for g in groups] == [
        ("GitLab: the merge request has no commits", 3),  # was "GitLab: … has no commits", a blank template
        ("the trace names no merge request", 1),
    ]
    assert groups[0].examples == ("g/a!0", "g/a!1", "g/a!2")
    assert [g.what() for g in groups] == ["3 merge requests", "1 session"]


def test_health_counts_runs_of_the_week_and_failures_with_their_error(sqlite_store: Store) -> None:
    b.record_run(sqlite_store, "cost", day=0)
    b.record_run(sqlite_store, "cost", "failed", error="Langfuse: HTTP 503 after 5 attempts", day=2)
    b.record_run(sqlite_store, "cost", "failed", error="Langfuse: HTTP 503 after 5 attempts", day=3)
    b.record_run(sqlite_store, "audit", day=-3)  # a run over the week before: not this week's
    report = _week_report(sqlite_store)
    health = {h.monitor: h for h in report.health}
    assert (health["cost"].runs, health["cost"].failures) == (3, 2)
    # How far the week's data was checked: the end of the last successful window in the week.
    assert health["cost"].checked_through == b.WEEK_START + timedelta(hours=6)
    assert health["audit"].runs == 0 and health["drift"].checked_through is None
    assert report.source_errors == ["cost: 2 failed run(s): Langfuse: HTTP 503 after 5 attempts"]
    assert not report.quiet


def test_spend_totals_deltas_and_top_values_from_the_source() -> None:
    rows = []
    for day in range(7):
        when = b.WEEK_START + timedelta(days=day, hours=10)
        rows.append(b.obs(day, when, 10.0 + day, agent="llm-fix", model="gpt-4o", user="ana"))
        rows.append(b.obs(100 + day, when - timedelta(days=7), 5.0, agent="llm-fix", model="gpt-4o", user="ana"))
    rows.append(b.obs(50, b.WEEK_START + timedelta(days=5), 30.0, agent="new-agent", model="opus", user="bo"))
    rows.append(b.obs(51, b.WEEK_END, 999.0))  # next week: not counted
    source = b.source_of(rows)
    spend = gather_spend(source, WEEK, cap=40.0)
    assert [round(c, 2) for _, c in spend.daily] == [10, 11, 12, 13, 14, 45, 16]
    assert (round(spend.total, 2), round(spend.previous_total, 2)) == (121.0, 35.0)
    assert [(r.name, r.cost, r.previous) for r in spend.by["agent"]] == [
        ("llm-fix", 91.0, 35.0),
        ("new-agent", 30.0, 0.0),
    ]
    assert spend.by["user"][0].name == "ana" and spend.by["model"][1].name == "opus"
    assert spend.days_over_cap() == [WEEK.days[5]]
    assert spend.errors == []


def test_spend_query_failure_is_noted_not_raised(sqlite_store: Store) -> None:
    class BrokenCosts:
        stats = b.source_of([]).stats

        def costs(self, query):
            from monitors.contracts.errors import SourceError

            raise SourceError("Langfuse Metrics v2: HTTP 429 after 5 attempts")

    report = _week_report(sqlite_store, BrokenCosts())
    assert report.spend.total == 0 and not report.spend.known
    assert len(report.spend.errors) == 4
    assert "report: total spend: Langfuse Metrics v2: HTTP 429 after 5 attempts" in report.source_errors
    # What a reader sees says the spend is unknown, not that the week cost $0.00.
    from monitors.report.digest import build_digest_message
    from monitors.report.full import render_markdown

    headline = build_digest_message(report).summary
    assert headline.startswith("Spend unknown (could not be read, see below);") and "$0.00" not in headline
    markdown = render_markdown(report)
    assert "spend (could not be read): **unknown**" in markdown and "| Week | unknown |" in markdown
    assert "Daily spend Mon-Sun: unknown" in markdown


def test_a_day_paged_under_two_caps_is_one_over_budget_line_with_the_later_cap(sqlite_store: Store) -> None:
    # The cap was raised from $40 to $60 after the first page; spend then passed $60 too. Two pages (one
    # key per cap), one budget over on one day: one line, the cap in force last.
    first = replace(b.budget_finding("2026-11-21", 100, 41.0), dedupe_key="global:*:2026-11-21:cap=40")
    second = b.budget_finding("2026-11-21", 100, 61.5, cap=60.0)
    second = replace(
        second, dedupe_key="global:*:2026-11-21:cap=60", observed_at=second.observed_at + timedelta(hours=3)
    )
    b.store_events(sqlite_store, "cost", b.event(first), b.event(second))
    report = _week_report(sqlite_store)
    assert [(o.day, o.spend, o.cap) for o in report.over_budget] == [("2026-11-21", 61.5, 60.0)]
    assert report.days_over_budget == 1

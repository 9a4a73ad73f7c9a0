"""The chat digest: which sections appear, the quiet-week line, and fitting Slack and Mattermost limits."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from monitors.contracts.findings import Severity
from monitors.notifiers.mattermost import ATTACHMENT_MAX, POST_MAX, MattermostNotifier
from monitors.notifiers.slack import MAX_BLOCKS, SECTION_TEXT_MAX, SlackNotifier
from monitors.report.build import build_week_report
from monitors.report.digest import TOTAL_MAX, build_digest_message
from monitors.report.full import render_markdown
from monitors.report.period import parse_week
from monitors.store.store import Store
from monitors.support.safe_text import TRUNCATED
from tests.report import builders as b

WEEK = parse_week("2026-W47", ZoneInfo("UTC"))


def _steady_spend(extra: list | None = None):
    rows = [b.obs(d, b.WEEK_START + timedelta(days=d, hours=9), 20.0) for d in range(7)]
    rows += [b.obs(100 + d, b.WEEK_START - timedelta(days=7 - d), 20.0) for d in range(7)]
    return b.source_of(rows + (extra or []))


def _digest(store: Store, source=None, full_report: str | None = None):
    report = build_week_report(store, source or _steady_spend(), b.settings(), WEEK, now=b.REPORT_NOW)
    return report, build_digest_message(report, full_report=full_report)


def _headings(message) -> list[str]:
    return [s.heading.split(":")[0] for s in message.sections]


def test_quiet_week_is_one_line_plus_spend_and_health(sqlite_store: Store) -> None:
    b.record_run(sqlite_store, "cost")
    report, message = _digest(sqlite_store, full_report="reports/report-2026-W47.html")
    assert report.quiet and message.severity is Severity.INFO
    assert message.summary.startswith("Quiet week: nothing to look at.")
    assert "$140.00 (±0% vs the week before)" in message.summary
    assert _headings(message) == ["Spend", "Top by cost (change vs the week before)", "Monitor health"]
    assert message.links == ()
    assert message.footer.endswith("full report: reports/report-2026-W47.html")


def test_week_with_no_spend_and_no_findings_leaves_spend_out(sqlite_store: Store) -> None:
    _, message = _digest(sqlite_store, b.source_of([]))
    assert "Spend" not in _headings(message) and "Top by cost (change vs the week before)" not in _headings(message)
    assert message.summary.startswith("Quiet week")


def test_busy_week_has_every_section_with_key_content(sqlite_store: Store) -> None:
    spike = b.obs(99, b.WEEK_START + timedelta(days=5, hours=12), 45.0, agent="llm-fix", model="claude-opus-4")
    b.store_events(sqlite_store, "cost", b.event(b.budget_finding("2026-11-21", 100, 65.0)))
    drifts = [b.drift_finding(n, -0.2 - n / 10, f"Fix flaky test {n}", f"chore: bump deps {n}") for n in range(1, 5)]
    b.store_events(sqlite_store, "drift", *(b.event(f) for f in drifts))
    audits = [
        b.audit_finding("llm-fix-1121-4883", "runaway", Severity.CRITICAL, 22.47, 203),
        b.audit_finding("s2", "loop", Severity.CRITICAL, 0.07, 15),
        b.audit_finding("s3", "repeat", Severity.INFO, 0.08, 3),
        b.audit_finding("s4", "repeat", Severity.INFO, 0.01, 1),
    ]
    b.store_events(sqlite_store, "audit", *(b.event(f) for f in audits))
    b.record_run(sqlite_store, "drift", "failed", error="GitLab: HTTP 502 after 4 attempts", day=1)
    _, message = _digest(sqlite_store, _steady_spend([spike]), full_report="https://reports.example.com/w47.html")
    text = {s.heading: s.lines for s in message.sections}
    assert message.severity is Severity.WARNING
    assert text["Spend"] == (
        "Total $185.00: +32% vs $140.00",
        "Mon-Sun ▃▃▃▃▃█▃ peak Sat 21 Nov $65.00, cap $40.00/day",
    )
    assert text["Days over budget"] == (
        "Sat 21 Nov: budget global, all spend: $65.00 of $40.00 (162%) as of 18:00 UTC",
    )
    drift = text["Goal drift: 4 alert(s), worst 3"]
    assert [line[:3] for line in drift] == ["[1]", "[2]", "[3]"]
    assert "group/app!4: score -0.60" in drift[0] and 'asked "Fix flaky test 4", did "chore: bump deps 4"' in drift[0]
    audit = text["Action audit: 4 finding(s)"]
    assert audit[0] == "By kind: repeat 2 · runaway 1 · loop 1"
    assert audit[2].startswith(
        "[1] llm-fix: runaway in session llm-fix-1121-4883 (critical; $22.47 spent on 203 wasted step(s))"
    )
    # The most wasteful list goes by what was wasted: the repeats' $0.09 before the critical loop's $0.07.
    assert audit[5:9] == (
        "By agent and kind, most wasted spend first (what the wasted steps cost):",
        "- llm-fix: runaway in 1 session(s), $22.47 spent on 203 wasted step(s); open llm-fix-1121-4883",
        "- llm-fix: repeat in 2 session(s), $0.09 spent on 4 wasted step(s); open s3",
        "- llm-fix: loop in 1 session(s), $0.07 spent on 15 wasted step(s); open s2",
    )
    assert text["Checks that could not run"] == ("drift: 1 failed run(s): GitLab: HTTP 502 after 4 attempts",)
    health = text["Monitor health"]
    assert health[0] == "audit: did not run, 0 run(s) this week, no successful run this week"
    assert health[2] == "drift: FAILING, 1 run(s) this week, no successful run this week, 1 failed"
    labels = [link.label for link in message.links]
    assert labels[:3] == ["Full report", "Drift 1: Langfuse trace", "Drift 1: Merge request"]
    assert labels.count("Audit 1: Langfuse trace") == 1 and len(labels) == 1 + 6 + 3
    assert "Agents: llm-fix $185.00 (+32%)" in text["Top by cost (change vs the week before)"][0]


def _hostile_week(store: Store) -> None:
    long = "@channel <!here> **bold** [x](javascript:alert(1)) " * 40
    drifts = [b.drift_finding(n, -0.3, long, long, agent=long) for n in range(1, 40)]
    audits = [
        b.audit_finding(f"s{n}-" + "x" * 150, f"kind{n % 9}-{long[:30]}", Severity.CRITICAL, n, n) for n in range(80)
    ]
    budgets = [
        b.budget_finding(f"2026-11-{16 + d}", 100, 99.0, budget=f"b{n}", value=long[:100])
        for d in range(7)
        for n in range(6)
    ]
    b.store_events(store, "drift", *(b.event(f) for f in drifts))
    b.store_events(store, "audit", *(b.event(f) for f in audits))
    b.store_events(store, "cost", *(b.event(f) for f in budgets))
    for n in range(30):
        b.record_run(store, "cost", "failed", error=f"error {n}: " + long, day=n % 7)


def test_huge_hostile_week_fits_both_chats_without_their_truncation(sqlite_store: Store) -> None:
    _hostile_week(sqlite_store)
    names = [b.obs(n, b.WEEK_START + timedelta(hours=n), 1.0, agent="<script>" * 20 + str(n)) for n in range(60)]
    _, message = _digest(sqlite_store, b.source_of(names))
    assert sum(len(line) for s in message.sections for line in s.lines) <= TOTAL_MAX
    assert any(line.endswith("more line(s) in the full report") for s in message.sections for line in s.lines)

    slack = SlackNotifier("s", SlackNotifier.Config(webhook_url="https://hooks.slack.com/services/T/B/x")).payload(
        message
    )
    assert len(slack["blocks"]) <= MAX_BLOCKS
    for block in slack["blocks"]:
        text = (block.get("text") or {}).get("text", "")
        assert len(text) <= SECTION_TEXT_MAX and TRUNCATED not in text
        assert "<!here>" not in text and "<script>" not in text

    mm = MattermostNotifier("m", MattermostNotifier.Config(webhook_url="https://mm.example.com/hooks/abc")).payload(
        message
    )
    attachment = mm["attachments"][0]
    assert len(mm["text"]) <= POST_MAX and len(attachment["text"]) <= ATTACHMENT_MAX
    assert "more section(s) not shown" not in attachment["text"]
    assert "@channel" not in attachment["text"].replace("@\u2060", "")  # mentions are broken by the notifier


def test_a_day_over_the_cap_with_no_alert_for_it_is_not_a_quiet_week(sqlite_store: Store) -> None:
    # The cost monitor raised nothing about Saturday (it was not running that day), yet Saturday's spend
    # is above the $40 cap the chart draws: the digest must not say "no budget breaches".
    b.record_run(sqlite_store, "cost")
    runaway = b.obs(99, b.WEEK_START + timedelta(days=5, hours=12), 32.5, agent="llm-fix")
    report, message = _digest(sqlite_store, _steady_spend([runaway]))
    assert not report.quiet and message.severity is Severity.WARNING
    assert "Quiet week" not in message.summary and "1 day(s) over budget" in message.summary
    assert "- day(s) over budget: **1**" in render_markdown(report)  # the full report's card agrees
    [section] = [s for s in message.sections if s.heading == "Days over budget"]
    assert section.lines == (
        "Sat 21 Nov: all spend $52.50 of the $40.00 daily cap (131%), whole day;"
        " no cost alert was recorded for that day",
    )


def test_a_day_over_the_cap_with_its_alert_is_listed_once(sqlite_store: Store) -> None:
    runaway = b.obs(99, b.WEEK_START + timedelta(days=5, hours=12), 32.5, agent="llm-fix")
    b.store_events(sqlite_store, "cost", b.event(b.budget_finding("2026-11-21", 100, 52.5)))
    _, message = _digest(sqlite_store, _steady_spend([runaway]))
    [section] = [s for s in message.sections if s.heading == "Days over budget"]
    assert section.lines == ("Sat 21 Nov: budget global, all spend: $52.50 of $40.00 (131%) as of 18:00 UTC",)
    assert "1 day(s) over budget" in message.summary


def test_no_cap_is_compared_with_days_of_another_timezone(sqlite_store: Store) -> None:
    from monitors.engine.config import settings_from_dict

    raw = {
        "langfuse": {"host": b.HOST, "public_key": "pk-lf-test", "secret_key": "sk-lf-test"},
        "channels": {"terminal": {"kind": "stdout"}},
        "monitors": {"cost": {"timezone": "America/Los_Angeles", "budgets": [{"name": "global", "daily_cap": 40}]}},
    }
    runaway = b.obs(99, b.WEEK_START + timedelta(days=5, hours=12), 32.5, agent="llm-fix")
    report = build_week_report(
        sqlite_store, _steady_spend([runaway]), settings_from_dict(raw, env={}), WEEK, now=b.REPORT_NOW
    )
    assert report.spend.cap is None and report.over_cap_unalerted == []

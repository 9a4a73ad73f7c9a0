"""The weekly digest: one neutral Message with a few short Sections, built from a WeekReport.

Designed to fit every chat without the notifiers having to cut it: each line is at most `LINE_MAX`
characters, each section at most `SECTION_MAX` (Slack's limit per section block is 3000 after
escaping), and all sections together at most `TOTAL_MAX` (Mattermost keeps attachment text under 7900,
and its Markdown escaping can nearly double punctuation-heavy text). Lists are cut to the top few; the
full report has everything. Empty sections are left out; a quiet week is one line.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from monitors.contracts.findings import Link, Severity
from monitors.contracts.message import Message, Section
from monitors.report.data import WeekReport
from monitors.report.drift import fired_label, reference
from monitors.report.findings import audit_by_agent_and_kind, event_alerts
from monitors.report.fmt import (
    as_of_label,
    checked_label,
    day_label,
    delta,
    money,
    money_at_least_a_cent,
    short,
    sparkline,
)

PRODUCT = "langfuse-monitors"
LINE_MAX = 240
SECTION_MAX = 1200
TOTAL_MAX = 3600
TOP_N = 3  # agents, models, users, drift alerts and audit sessions shown
TEXT_MAX = 70  # agent-written text (objectives, commit subjects) quoted in a line
AUDIT_GROUPS = 4  # (agent, kind) groups of audit findings listed
NOT_LINKED = "not linked to a change request"
NOT_LINKED_WHY = "nothing for goal drift to check"


def build_digest_message(report: WeekReport, *, full_report: str | None = None) -> Message:
    """The digest for `report`; `full_report` is a URL (linked) or a file path (named in the footer)."""
    links: list[Link] = []
    sections = [
        _spend(report),
        _top(report),
        _over_budget(report),
        _drift(report, links),
        _audit(report, links),
        _events(report, links),
        _could_not_run(report),
        _health(report),
        _not_linked(report),  # last: not a problem, and the first line cut when the chat is full
    ]
    kept = _fit([s for s in sections if s is not None and s.lines])
    footer = f"{PRODUCT} · weekly report {report.week.label}"
    if full_report and full_report.startswith(("https://", "http://")):
        links.insert(0, Link("Full report", full_report))
    elif full_report:
        footer += f" · full report: {full_report}"
    span = report.week.span() + (", in progress" if report.in_progress else "")
    return Message(
        title=f"Weekly report {report.week.label} ({span})",
        severity=Severity.INFO if report.quiet else Severity.WARNING,
        summary=_headline(report),
        sections=tuple(kept),
        links=tuple(links),
        footer=footer,
    )


def _headline(report: WeekReport) -> str:
    spend = report.spend
    parts = [f"Spend {spend.headline()}"]
    if report.quiet:
        return f"Quiet week: nothing to look at. {parts[0]}; no budget breaches, drift, audit or error findings."
    for count, what in (
        (report.days_over_budget, "day(s) over budget"),
        (len(report.drift), "goal-drift alert(s)"),
        (len(report.audit), "audit finding(s)"),
        (len(event_alerts(report.findings)), "error/evaluation alert(s)"),
        (report.unchecked_traces, "trace(s) goal drift could not check"),
        (sum(h.failures for h in report.health) + len(report.spend.errors), "failed run(s) or read(s)"),
        (report.not_linked_traces, f"trace(s) {NOT_LINKED} ({NOT_LINKED_WHY})"),
    ):
        if count:
            parts.append(f"{count:,} {what}")
    return "; ".join(parts) + "."


def _spend(report: WeekReport) -> Section | None:
    spend = report.spend
    if spend.total <= 0 and spend.previous_total <= 0:
        return None
    values = [cost for _, cost in spend.daily]
    peak_day, peak = max(spend.daily, key=lambda d: d[1])
    cap = f", cap {money(spend.cap)}/day" if spend.cap else ""
    lines = [
        f"Total {money(spend.total)}: {delta(spend.total, spend.previous_total)} vs {money(spend.previous_total)}",
        f"Mon-Sun {sparkline(values)} peak {day_label(peak_day)} {money(peak)}{cap}",
    ]
    return Section("Spend", tuple(lines))


def _top(report: WeekReport) -> Section | None:
    lines = []
    for label, ranked in report.spend.by.items():
        shown = [r for r in ranked if r.cost > 0][:TOP_N]
        if shown:
            items = " · ".join(f"{short(r.name, 40)} {money(r.cost)} ({delta(r.cost, r.previous)})" for r in shown)
            lines.append(f"{label.capitalize()}s: {items}")
    return Section("Top by cost (change vs the week before)", tuple(lines))


def _over_budget(report: WeekReport) -> Section | None:
    lines = []
    for o in report.over_budget:
        who = "all spend" if o.value == "*" else short(o.value, 40)
        pct = f" ({o.spend / o.cap:.0%})" if o.cap > 0 else ""
        lines.append(
            f"{day_label(o.day)}: budget {short(o.budget, 40)}, {who}: {money(o.spend)} of {money(o.cap)}{pct}"
            + _figure(as_of_label(o.as_of, o.day, report.week))
        )
    cap = report.spend.cap or 0.0
    for day, cost in report.over_cap_unalerted:
        lines.append(
            f"{day_label(day)}: all spend {money(cost)} of the {money(cap)} daily cap ({cost / cap:.0%})"
            + _figure(as_of_label(report.day_read_to(day), day, report.week))
            + "; no cost alert was recorded for that day"
        )
    return Section("Days over budget", tuple(lines))


def _figure(label: str) -> str:
    # A figure at an alert is the day so far; one after the day is its total. Say which.
    return f", {label}" if label == "whole day" else f" {label}"


def _drift(report: WeekReport, links: list[Link]) -> Section | None:
    if not report.drift:
        return None
    lines = []
    for i, f in enumerate(report.drift[:TOP_N], 1):
        fields = dict(f.fields)
        agent = fields.get("Agent", "?")
        subject = reference(f)
        asked = short(fields.get("Objective", ""), TEXT_MAX)
        did = short(fields.get("What was done", ""), TEXT_MAX)
        lines.append(
            f"[{i}] {short(agent, 40)} on {short(subject, 60)}: {short(fired_label(f), 70)}; "
            f'asked "{asked}", did "{did}"'
        )
        links.extend(Link(f"Drift {i}: {link.label}", link.url) for link in f.links[:2])
    return Section(f"Goal drift: {len(report.drift)} alert(s), worst {min(TOP_N, len(report.drift))}", tuple(lines))


def _audit(report: WeekReport, links: list[Link]) -> Section | None:
    if not report.audit:
        return None
    kinds = " · ".join(f"{kind} {n}" for kind, n in report.audit_by_kind.most_common())
    lines = [f"By kind: {kinds}", "Sessions most worth opening:"]
    for i, f in enumerate(report.audit[:TOP_N], 1):
        lines.append(
            f"[{i}] {short(f.title, 110)} ({f.severity.label}; {_wasted(f.number('usd'), f.number('wasted_steps'))})"
        )
        links.extend(Link(f"Audit {i}: {link.label}", link.url) for link in f.links[:1])
    groups = audit_by_agent_and_kind(report.audit)
    lines.append("By agent and kind, most wasted spend first (what the wasted steps cost):")
    for g in groups[:AUDIT_GROUPS]:
        lines.append(
            f"- {short(g.agent, 40)}: {g.kind} in {g.sessions} session(s), {_wasted(g.usd, g.wasted_steps)}; "
            f"open {short(g.worst.text('session'), 60)}"
        )
    if len(groups) > AUDIT_GROUPS:
        lines.append(f"- and {len(groups) - AUDIT_GROUPS} more in the full report")
    return Section(f"Action audit: {len(report.audit)} finding(s)", tuple(lines))


def _wasted(usd: float, steps: float) -> str:
    """'$22.47 spent on 203 wasted step(s)': the figure is the cost of those steps, not the session's."""
    return f"{money_at_least_a_cent(usd)} spent on {int(steps)} wasted step(s)"


def _events(report: WeekReport, links: list[Link]) -> Section | None:
    alerts = event_alerts(report.findings)
    if not alerts:
        return None
    kinds = " · ".join(f"{kind} {n}" for kind, n in Counter(f.kind for f in alerts).most_common())
    lines = [f"By kind: {kinds}"]
    for i, f in enumerate(alerts[:TOP_N], 1):
        lines.append(f"[{i}] {short(f.title, 120)} ({f.severity.label})")
        links.extend(Link(f"Events {i}: {link.label}", link.url) for link in f.links[:1])
    return Section(f"Errors and evaluations: {len(alerts)} alert(s)", tuple(lines))


def _could_not_run(report: WeekReport) -> Section | None:
    lines = []
    for group in report.unverifiable:
        examples = f" (e.g. {', '.join(short(e, 40) for e in group.examples[:2])})" if group.count <= 5 else ""
        lines.append(f"Goal drift, {group.what()}: {short(group.reason, 90)}{examples}")
    lines += [short(err, 200) for err in report.source_errors]
    if report.malformed_events:
        lines.append(f"{report.malformed_events} stored finding(s) could not be read back and were skipped")
    return Section("Checks that could not run", tuple(lines))


def _not_linked(report: WeekReport) -> Section | None:
    lines = []
    for group in report.not_linked:
        examples = f" (e.g. {', '.join(short(e, 40) for e in group.examples[:2])})" if group.examples else ""
        lines.append(f"{group.what()}: {short(group.reason, 90)}{examples}")
    heading = f"Not linked to a change request: {report.not_linked_traces:,} trace(s), {NOT_LINKED_WHY}"
    return Section(heading, tuple(lines))


def _health(report: WeekReport) -> Section | None:
    lines = []
    for h in report.health:
        state = "ok" if h.healthy else ("STALE" if h.stale else ("FAILING" if h.failures else "did not run"))
        last = checked_label(h.checked_through, report.week)
        line = f"{h.monitor}: {state}, {h.runs} run(s) this week, {last}"
        if h.failures:
            line += f", {h.failures} failed"
        lines.append(line)
        if h.stale:
            lines.append(f"  {short(h.stale, 160)}")
    return Section("Monitor health", tuple(lines))


def _fit(sections: Iterable[Section]) -> list[Section]:
    """Cut lines to LINE_MAX, sections to SECTION_MAX and the whole to TOTAL_MAX, saying so."""
    out: list[Section] = []
    used = 0
    for section in sections:
        room = min(SECTION_MAX, TOTAL_MAX - used - len(section.heading))
        if room < 80:
            out.append(Section("More in the full report", ("Sections left out to fit the chat: see the full report.",)))
            break
        lines, size = [], 0
        for n, line in enumerate(section.lines):
            line = short(line, LINE_MAX) if not line.startswith("  ") else "  " + short(line, LINE_MAX - 2)
            if size + len(line) + 1 > room - 40:
                lines.append(f"… {len(section.lines) - n} more line(s) in the full report")
                break
            lines.append(line)
            size += len(line) + 1
        out.append(Section(section.heading, tuple(lines)))
        used += size + len(section.heading)
    return out

"""The full report's content as neutral tables of plain text, rendered by full.py as Markdown or HTML.

Cells are plain (possibly agent-written) text or a tuple of Links we built; renderers escape both.
"""

from __future__ import annotations

from dataclasses import dataclass

from monitors.contracts.findings import Link
from monitors.report.data import WeekReport
from monitors.report.drift import ORDER_NOTE, change_request, why
from monitors.report.findings import StoredFinding, audit_by_agent_and_kind, event_alerts
from monitors.report.fmt import (
    as_of_label,
    checked_label,
    day_label,
    delta,
    money,
    money_at_least_a_cent,
    short,
    when_label,
)

Cell = str | tuple[Link, ...]
CELL_TEXT = 400  # agent text in a table cell; the chat alert had the full text already
MAX_RANKED = 50  # agents/models/users listed per dimension


@dataclass(frozen=True)
class Table:
    title: str
    headers: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]
    note: str = ""
    collapsed: bool = False  # long tables start folded in the HTML page


def report_tables(report: WeekReport) -> list[Table]:
    tables = [
        _daily(report),
        *_ranked(report),
        _over_budget(report),
        _drift(report),
        _audit_groups(report),
        _audit(report),
        _events(report),
    ]
    tables += [_could_not_run(report), _not_linked(report), _health(report), _all_findings(report)]
    return [t for t in tables if t.rows]


def _daily(report: WeekReport) -> Table:
    if not report.spend.known:
        return Table("Daily spend", ("Day", "Spend", "Cap", ""), (("Week", "unknown", "", "could not be read"),))
    cap = report.spend.cap
    rows = tuple(
        (day_label(day), money(cost), money(cap) if cap else "-", "over the cap" if cap and cost > cap else "")
        for day, cost in report.spend.daily
    )
    total = (
        "Week",
        money(report.spend.total),
        "",
        f"{delta(report.spend.total, report.spend.previous_total)} vs week before",
    )
    return Table("Daily spend", ("Day", "Spend", "Cap", ""), (*rows, total))


def _ranked(report: WeekReport) -> list[Table]:
    out = []
    for label, ranked in report.spend.by.items():
        rows = tuple(
            (short(r.name, 120), money(r.cost), money(r.previous), delta(r.cost, r.previous))
            for r in ranked[:MAX_RANKED]
        )
        note = f"{len(ranked) - MAX_RANKED} more not shown" if len(ranked) > MAX_RANKED else ""
        out.append(Table(f"Spend by {label}", (label.capitalize(), "This week", "Week before", "Change"), rows, note))
    return out


def _over_budget(report: WeekReport) -> Table:
    rows: list[tuple[Cell, ...]] = [
        (
            day_label(o.day),
            o.budget,
            "all spend" if o.value == "*" else o.value,
            money(o.spend),
            money(o.cap),
            as_of_label(o.as_of, o.day, report.week),
            o.finding.links,
        )
        for o in report.over_budget
    ]
    cap = money(report.spend.cap or 0.0)
    for day, cost in report.over_cap_unalerted:
        figure = as_of_label(report.day_read_to(day), day, report.week)
        rows.append((day_label(day), "daily cap (no cost alert recorded)", "all spend", money(cost), cap, figure, ()))
    note = (
        "Spend is the day's up to the time shown: a cost alert's figure is the day so far when its run paged "
        "(as of the end of what it read), 'whole day' once a run read the day to its end."
    )
    headers = ("Day", "Budget", "Scope value", "Spend", "Cap", "Figure", "Links")
    return Table("Days over budget", headers, tuple(rows), note)


def _drift(report: WeekReport) -> Table:
    rows = []
    for f in report.drift:
        fields = dict(f.fields)
        rows.append(
            (
                fields.get("Agent", ""),
                short(change_request(f), 120),
                f"{f.number('similarity'):.3f} (threshold {f.number('threshold'):.3f})",
                short(why(f), CELL_TEXT),
                short(fields.get("Objective", ""), CELL_TEXT),
                short(fields.get("What was done", ""), CELL_TEXT),
                f.links,
            )
        )
    headers = ("Agent", "Pull/merge request", "Score", "Why", "Objective", "What was done", "Links")
    return Table("Goal drift (worst first)", headers, tuple(rows), ORDER_NOTE)


def _audit_groups(report: WeekReport) -> Table:
    rows = tuple(
        (
            g.agent,
            g.kind,
            str(g.findings),
            str(g.sessions),
            str(g.wasted_steps),
            money_at_least_a_cent(g.usd),
            g.worst.text("session"),
            g.worst.links,
        )
        for g in audit_by_agent_and_kind(report.audit)
    )
    headers = ("Agent", "Check", "Findings", "Sessions", "Wasted steps", "Wasted spend", "Open first", "Links")
    note = "Most wasted spend first: what the wasted steps cost (the spend of the steps each check counts as waste)."
    return Table("Action audit by agent and check", headers, rows, note)


def _audit(report: WeekReport) -> Table:
    rows = tuple(
        (
            f.severity.label,
            f.kind,
            f.text("agent"),
            f.text("session"),
            short(f.summary, CELL_TEXT),
            money_at_least_a_cent(f.number("usd")),
            f.links,
        )
        for f in report.audit
    )
    headers = ("Severity", "Check", "Agent", "Session", "What happened", "Wasted spend", "Links")
    return Table("Action audit (most worth opening first)", headers, rows)


# The field in which each events alert gives its figures (with "so far" when its run had not read the day).
_EVENT_FIGURES = ("Count", "Errors", "Failing")


def _events(report: WeekReport) -> Table:
    rows = []
    for f in event_alerts(report.findings):
        fields = dict(f.fields)
        figures = next((fields[k] for k in _EVENT_FIGURES if fields.get(k)), "")
        # A burst's title does not say which error; an evaluator's names it already.
        signature = f". Signature: {fields['Signature']}" if fields.get("Signature") else ""
        what = short(f.title, 200) + short(signature, CELL_TEXT)
        rows.append((f.severity.label, f.kind, fields.get("Agent", ""), what, short(figures, CELL_TEXT), f.links))
    note = (
        "The events monitor's alerts about this week's traces: a burst of one error, an agent's error share far "
        "above its usual, an evaluator's failing scores. Loudest first, then largest. Monitor runs that failed "
        "are under 'Monitor health' and 'Checks that could not run'."
    )
    headers = ("Severity", "Check", "Agent", "What happened", "Figures", "Links")
    return Table(f"Errors and evaluations ({len(rows)})", headers, tuple(rows), note)


def _could_not_run(report: WeekReport) -> Table:
    rows: list[tuple[Cell, ...]] = [
        ("goal drift", u.what(), u.reason, ", ".join(short(e, 60) for e in u.examples)) for u in report.unverifiable
    ]
    rows += [("source", "", short(err, CELL_TEXT), "") for err in report.source_errors]
    if report.malformed_events:
        rows.append(("store", str(report.malformed_events), "stored findings that could not be read back", ""))
    return Table("Checks that could not run", ("Check", "Not checked", "Reason", "Examples"), tuple(rows))


def _not_linked(report: WeekReport) -> Table:
    rows = tuple((u.what(), u.reason, ", ".join(short(e, 60) for e in u.examples)) for u in report.not_linked)
    note = (
        "Goal drift compares what a change request did with the objective of the traces that name it. These "
        "traces state an objective but name no merge or pull request, so there is nothing to compare: they "
        "are not checks that failed (those are under 'Checks that could not run')."
    )
    title = f"Traces not linked to a change request ({report.not_linked_traces:,})"
    return Table(title, ("Not checked", "Reason", "Examples"), rows, note)


def _health(report: WeekReport) -> Table:
    rows = tuple(
        (
            h.monitor,
            checked_label(h.checked_through, report.week),
            str(h.runs),
            str(h.failures),
            "; ".join(f"{n}x {short(err, 200)}" for err, n in h.errors.most_common(3)) or "",
            h.stale or "",
        )
        for h in report.health
    )
    headers = ("Monitor", "Data checked", "Runs", "Failed", "Errors", "Stale")
    return Table("Monitor health (runs that read this week)", headers, rows)


def _all_findings(report: WeekReport) -> Table:
    rows = tuple(_finding_row(f, report) for f in report.findings)
    note = (
        "One row per finding (fingerprint) about this week's data, at its highest level (a budget's 100% over "
        "its 80%): when a run first found it (a run after the week, such as Monday's, may find what the week "
        "held), and when its notification reached chat (the first channel to take it), or that it was only "
        "queued and why it was not delivered."
    )
    headers = ("First seen", "Monitor", "Check", "Severity", "Title", "Sent", "Links")
    return Table(f"Every finding ({len(rows)})", headers, rows, note, collapsed=len(rows) > 30)


def _finding_row(f: StoredFinding, report: WeekReport) -> tuple[Cell, ...]:
    first = when_label(f.first_seen or f.observed_at, report.week)
    return (first, f.monitor, f.kind, f.severity.label, short(f.title, 200), _sent(f, report), f.links)


# Why a queued notification is not in chat, by its outbox status.
_UNDELIVERED = {
    "pending": "not delivered yet (waiting in the outbox)",
    "failed": "not delivered (the channel refused it; given up)",
    "unconfirmed": "not confirmed (the chat never answered; it may have arrived)",
}


def _sent(f: StoredFinding, report: WeekReport) -> str:
    if f.delivered_at is not None:
        return when_label(f.delivered_at, report.week)
    if f.sent_at is not None:
        queued = f"queued {when_label(f.sent_at, report.week)}"
        why = _UNDELIVERED.get(f.delivery)
        return f"{queued}, {why}" if why else f"{queued}; its delivery is not on record"
    if f.sent:  # sent before this week's events began: the decision says when
        return short(f.decision, 120)
    return f"not sent: {short(f.decision, 120)}" if f.decision else "not sent"

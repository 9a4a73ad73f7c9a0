"""Gather one week for the report: stored findings and run history plus a handful of cost aggregates.

Nothing here re-runs a monitor. The store supplies what the monitors found (`events_about`), when their
alerts reached chat (`alert_deliveries`) and how they ran (`runs_between`, `last_runs`); the source
supplies spend (see monitors/report/spend.py).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from monitors.contracts.findings import utc
from monitors.contracts.source import TraceSource
from monitors.report.delivery import with_deliveries
from monitors.report.drift import drift_worst_first
from monitors.report.findings import (
    StoredFinding,
    audit_most_worth_opening,
    event_bounds,
    in_period,
    latest_findings,
)
from monitors.report.health import MonitorHealth, gather_health, runs_range
from monitors.report.period import ReportWeek
from monitors.report.spend import Spend, gather_spend

DEFAULT_DELAY = timedelta(minutes=15)


@dataclass(frozen=True)
class OverBudget:
    """A budget that reached 100% on a day (from the cost monitor's rank-100 findings)."""

    day: str
    budget: str
    value: str  # '*' for a budget over all spend, else the agent/user/... it caps
    spend: float
    cap: float
    finding: StoredFinding
    # How far into the day `spend` goes: the end of what the alert's run read, or None when that run read
    # the whole day (a cost run pages as a day goes on; a later one may not have judged the day again).
    as_of: datetime | None = None


# The drift monitor's reason for traces that state an objective and name no change request
# (monitors/drift/monitor.py). Many agents never open one: such a trace is not goal drift's to check,
# and counting it among the checks that failed would read as a failure. Matched on the stored text,
# so alerts stored by any release are told apart.
NOT_LINKED_REASONS = ("traces state an objective but name no merge request",)


@dataclass(frozen=True)
class Unverifiable:
    """Drift checks that could not run, grouped by reason ('the merge request has no commits' x 3).

    `count` is the number of subjects (agents, sessions or merge requests) and `traces` the traces
    behind them: "4 agents" can stand for two thousand unchecked traces.
    """

    reason: str
    count: int
    examples: tuple[str, ...]
    traces: int = 0
    noun: str = "case"  # what a subject is: agent, session or merge request

    @property
    def not_linked(self) -> bool:
        """Traces that name no change request: nothing for goal drift to check, not a check that failed."""
        return self.reason in NOT_LINKED_REASONS

    @property
    def traces_or_subjects(self) -> int:
        return self.traces or self.count

    def what(self) -> str:
        """'1,968 traces of 4 agents', '1 trace of 1 merge request'."""
        subjects = f"{self.count:,} {self.noun}{'' if self.count == 1 else 's'}"
        if self.traces <= 0:
            return subjects
        return f"{self.traces:,} trace{'' if self.traces == 1 else 's'} of {subjects}"


@dataclass
class WeekReport:
    week: ReportWeek
    generated_at: datetime
    spend: Spend
    findings: list[StoredFinding]
    over_budget: list[OverBudget]
    drift: list[StoredFinding]
    audit: list[StoredFinding]
    unverifiable: list[Unverifiable]  # drift checks that could not run (a forge failure, no objective, ...)
    health: list[MonitorHealth]
    malformed_events: int = 0
    notes: list[str] = field(default_factory=list)
    not_linked: list[Unverifiable] = field(default_factory=list)  # traces naming no change request

    @property
    def unchecked_traces(self) -> int:
        """Traces (or subjects, for notes stored without a count) whose drift check could not run."""
        return sum(u.traces_or_subjects for u in self.unverifiable)

    @property
    def not_linked_traces(self) -> int:
        """Traces that state an objective and name no merge or pull request: not drift's to check."""
        return sum(u.traces_or_subjects for u in self.not_linked)

    @property
    def audit_by_kind(self) -> Counter[str]:
        return Counter(f.kind for f in self.audit)

    @property
    def source_errors(self) -> list[str]:
        lines = [f"{h.monitor}: {n} failed run(s): {err}" for h in self.health for err, n in h.errors.items()]
        return lines + [f"report: {err}" for err in self.spend.errors]

    @property
    def in_progress(self) -> bool:
        """Built before the week ended: its numbers are the week so far."""
        return not self.week.over_at(self.generated_at)

    def day_read_to(self, day: date) -> datetime | None:
        """How far the source's total of `day` goes: None for the whole day, else the report's own time
        (the week so far: today's total is not the day's final one)."""
        return self.generated_at if self.generated_at < self.week.day_end(day) else None

    @property
    def over_cap_unalerted(self) -> list[tuple[date, float]]:
        """Days whose spend is above the global daily cap with no 100% alert for them: still over budget.

        A cost alert about a day is in that day's week however late its run was (a replay, a catch-up), so
        this is for a day no cost run judged at 100%: the monitor was not running or failed over it, or its
        budget was added later. Without it such a week would read as quiet beside a chart over the cap."""
        alerted = {o.day for o in self.over_budget if o.value == "*"}
        over = set(self.spend.days_over_cap())
        return [(day, cost) for day, cost in self.spend.daily if day in over and day.isoformat() not in alerted]

    @property
    def days_over_budget(self) -> int:
        return len({o.day for o in self.over_budget} | {d.isoformat() for d, _ in self.over_cap_unalerted})

    @property
    def quiet(self) -> bool:
        """Nothing to look at: no breach, no finding worth a human, no failure."""
        loud = [f for f in self.findings if f.kind != "unverifiable"]
        unhealthy = [h for h in self.health if h.failures or h.stale]
        breached = self.over_budget or self.over_cap_unalerted
        return not (loud or breached or self.unverifiable or unhealthy or self.source_errors)


def gather_week(
    store: Any,
    source: TraceSource,
    week: ReportWeek,
    *,
    now: datetime,
    monitors: Sequence[str],
    cap: float | None = None,
    delay: timedelta = DEFAULT_DELAY,
    stale: dict[str, str] | None = None,
) -> WeekReport:
    """Read the week from `store` (a monitors.store.Store) and its spend from `source`."""
    candidates = store.events_about(week.start, week.end, unplaced_observed=event_bounds(week.start, week.end, delay))
    findings, malformed = latest_findings(e for e in candidates if in_period(e, week.start, week.end, delay))
    findings = with_deliveries(findings, store)
    health = gather_health(monitors, store.runs_between(*runs_range(week)), week, stale=stale)
    unverifiable = group_unverifiable(findings)
    return WeekReport(
        week=week,
        generated_at=now,
        spend=gather_spend(source, week, cap=cap),
        findings=findings,
        over_budget=over_budget_days(findings, delay),
        drift=drift_worst_first(findings),
        audit=audit_most_worth_opening(findings),
        unverifiable=[u for u in unverifiable if not u.not_linked],
        health=health,
        malformed_events=malformed,
        not_linked=[u for u in unverifiable if u.not_linked],
    )


def over_budget_days(findings: Sequence[StoredFinding], delay: timedelta = DEFAULT_DELAY) -> list[OverBudget]:
    """Budgets at 100% (rank 100 or more), one line per budget, value and day: a cap changed that day
    pages again under a key of its own, and the line shows the latest page (the cap in force last).

    Its spend is the day's up to what the alert's run read (`read_to` in its evidence), or the whole day
    once that reaches the day's end. An alert stored before the cost monitor kept `read_to` is taken to
    have read up to its run's clock less the query delay (a run at 10:15 read to 10:00)."""
    latest: dict[tuple[str, str, str], OverBudget] = {}
    for f in sorted(findings, key=lambda f: f.observed_at):
        if f.monitor != "cost" or f.kind != "budget" or f.rank < 100:
            continue
        day = f.text("day") or f"{f.observed_at:%Y-%m-%d}"
        read_to = _read_to(f) or f.observed_at - delay
        as_of = None if f.window_end is not None and read_to >= f.window_end else read_to
        line = OverBudget(
            day, f.text("budget") or "?", f.text("value") or "*", f.number("spend"), f.number("cap"), f, as_of
        )
        latest[(line.day, line.budget, line.value)] = line
    return sorted(latest.values(), key=lambda o: (o.day, o.value != "*", -o.spend, o.budget, o.value))


def _read_to(f: StoredFinding) -> datetime | None:
    """The end of what a cost alert's figure covers, as the cost monitor stored it (None when it did not)."""
    text = f.text("read_to")
    try:
        when = datetime.fromisoformat(text) if text else None
    except ValueError:
        return None  # hand-edited or foreign: fall back to the run's clock
    return utc(when) if when is not None and when.tzinfo is not None else None


def group_unverifiable(findings: Sequence[StoredFinding]) -> list[Unverifiable]:
    """Unverifiable drift cases grouped by their reason, the subject named generically in it."""
    groups: dict[str, list[StoredFinding]] = {}
    for f in findings:
        if f.kind != "unverifiable":
            continue
        reason, subject = f.text("reason") or f.summary or "unknown reason", f.text("subject")
        if subject and subject in reason:
            reason = reason.replace(subject, f"the {_noun(subject)}")
        groups.setdefault(_squash(reason), []).append(f)
    ranked = sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    return [
        Unverifiable(
            reason,
            len(cases),
            tuple(s for f in cases[:3] if (s := f.text("subject"))),
            traces=sum(int(f.number("traces")) for f in cases),
            noun=_common_noun([f.text("subject") for f in cases]),
        )
        for reason, cases in ranked
    ]


def _noun(subject: str) -> str:
    """What a drift subject is: 'agent llm-fix', 'session s1' or a merge request 'group/repo!12'."""
    first = subject.split(" ", 1)[0]
    return first if first in ("agent", "session") else "merge request"


def _common_noun(subjects: Sequence[str]) -> str:
    nouns = {_noun(s) for s in subjects if s}
    return nouns.pop() if len(nouns) == 1 else "case"


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()[:200]

"""Turn the ledger into cost findings: budget thresholds, end-of-day projections and spikes.

Each (budget, scope value, local day, cap) is one fingerprint `cost:<budget>:<value>:<day>:cap=<usd>`
whose rank is the highest threshold crossed in percent (80, 100): the 100% page escalates over the 80%
warning, and the engine's dedupe drops a late 80% for the same day and cap. The cap is part of the key
because a threshold is a fraction of the cap in force: when an operator raises the cap from $100 to $200
mid-day, 80% of $200 is a new fact that must warn even after 80% (or 100%) of $100 was sent, while spend
that only crosses the old cap's thresholds crosses none of the new one's and stays quiet. A cap lowered
mid-day gets its own key too, so it warns or pages at once. On the days the ledger held when a store
written by a release without cap keys was upgraded, the cap then in force keeps that release's key
`<budget>:<value>:<day>` (monitors/cost/upgrade.py), so its alerts are not sent again. Projections and
spikes keep their keys (`<budget>:<value>:<day>:projection`, `...:spike`) whatever the cap, because the
day's close resolves them by those keys; they only fire while the series is below its lowest threshold,
since a threshold alert already says more.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any

from monitors.contracts.findings import Finding, RunWindow, Severity, Status
from monitors.contracts.monitor import RunContext
from monitors.cost.baseline import (
    Spike,
    UsualDays,
    expected_fraction,
    hourly_profile,
    project,
    robust_baseline,
    spike_check,
)
from monitors.cost.baseline import usual_days as choose_usual_days
from monitors.cost.budgets import (
    AGGREGATE_DIMENSIONS,
    BudgetConfig,
    ProjectionConfig,
    SpikeConfig,
    display_value,
    series_spend,
    usd,
    whole_percent,
)
from monitors.cost.explain import Usual, cached_top_traces, contributors, fetch_top_traces, trace_links
from monitors.cost.ledger import OTHER, Ledger, day_bounds

NO_HISTORY = Usual((), weekday=False)  # contributors without their usual spend
# Same-weekday days needed before "usual" means the same weekday (as in robust_baseline's default).
MIN_WEEKDAY_SAMPLES = 3


@dataclass(frozen=True)
class EvalSettings:
    budgets: list[BudgetConfig]
    spike: SpikeConfig
    projection: ProjectionConfig
    contributor_dims: list[str]
    top_traces: int
    explain_max_rows: int
    explain_max_queries: int
    # {day: {budget: cap}}: on that day that cap's alerts keep the key without the cap (upgrade.py).
    keys_before_caps: dict[str, dict[str, str]] = field(default_factory=dict)


@dataclass
class Candidate:
    """One finding before its explanation is attached."""

    budget: BudgetConfig
    value: str
    day: date
    kind: str  # "budget" | "projection" | "spike"
    spend: float
    rank: int
    severity: Severity
    extra: dict[str, Any]
    # Share of a usual day's spend done by the window's end, on a day still in progress (else None).
    fraction: float | None = None
    # The cap's alerts were keyed without the cap before the upgrade to cap keys (upgrade.py).
    keyed_before_caps: bool = False

    @property
    def series_key(self) -> str:
        return f"{self.budget.name}:{self.value}:{self.day.isoformat()}"

    @property
    def dedupe_key(self) -> str:
        if self.kind == "budget":
            return self.series_key if self.keyed_before_caps else f"{self.series_key}:cap={cap_key(self.budget)}"
        return f"{self.series_key}:{self.kind}"


def cap_key(budget: BudgetConfig) -> str:
    """The cap as it appears in a budget finding's key: '100', '12.5' (one spelling per amount)."""
    return format(budget.daily_cap.normalize(), "f")


def series_history(ledger: Ledger, budget: BudgetConfig, value: str, day: date, days: int) -> dict[date, float]:
    """Closed days' spend of one series; row-only scopes count only days whose rows were all read."""
    out: dict[date, float] = {}
    row_only = budget.scope != "none" and budget.scope not in AGGREGATE_DIMENSIONS
    first_spend = ledger.first_spend()
    for i in range(1, days + 1):
        d = day - timedelta(days=i)
        record = ledger.get(d)
        # Days before the project's first spend are "not yet started", not cheap days.
        if (
            first_spend is None
            or d < first_spend
            or record is None
            or not record.get("closed")
            or (row_only and not ledger.rows_complete(d))
        ):
            continue
        out[d] = series_spend(budget, record["total"], record["dims"]).get(value, 0.0)
    return out


def candidates(ctx: RunContext, ledger: Ledger, s: EvalSettings, days: list[date], today: date) -> Iterator[Candidate]:
    profile_days = [ledger.get(today - timedelta(days=i)) for i in range(1, s.projection.profile_days + 1)]
    profile = hourly_profile([r["hours"] for r in profile_days if r and r.get("closed")])
    for day in days:
        record = ledger.get(day)
        if record is None:
            continue
        is_open = day == today and not record.get("closed")
        fraction = None
        if is_open:
            start = day_bounds(day, ledger.tz)[0]
            fraction = expected_fraction(profile, ctx.window.end.astimezone(ledger.tz), start.astimezone(ledger.tz))
        for budget in s.budgets:
            for value, spend in sorted(series_spend(budget, record["total"], record["dims"]).items()):
                if value != OTHER:
                    yield from _series(ledger, s, budget, value, day, spend, fraction)


def _series(
    ledger: Ledger, s: EvalSettings, budget: BudgetConfig, value: str, day: date, spend: float, fraction: float | None
) -> Iterator[Candidate]:
    cap = budget.cap
    # Compared in micro-dollars: 80 calls at $0.10 sum to 7.9999999999 in floats, and that day is at 80%.
    crossed = [t for t in budget.thresholds if round(spend, 6) >= round(t * cap, 6)]
    old_key = s.keys_before_caps.get(day.isoformat(), {}).get(budget.name) == cap_key(budget)
    for t in crossed:
        severity = Severity.CRITICAL if t >= 1.0 else Severity.WARNING
        extra = {"threshold": t}
        yield Candidate(budget, value, day, "budget", spend, round(t * 100), severity, extra, fraction, old_key)
    if crossed:
        return
    projected = None
    if fraction is not None:
        projected = project(spend, fraction, s.projection.min_elapsed_fraction)
        if s.projection.enabled and projected is not None and projected >= cap * s.projection.min_overshoot:
            extra = {"projected": projected, "expected_fraction": round(fraction, 4)}
            yield Candidate(budget, value, day, "projection", spend, 1, Severity.WARNING, extra, fraction)
            return
    if not s.spike.enabled:
        return
    # Extrapolate for the spike test only once half of a usual day's spend is in: earlier projections
    # swing too much to call a spike on (the projection check above covers the cap meanwhile).
    trusted = projected if fraction is not None and fraction >= 0.5 else None
    spike = _spike(ledger, s.spike, budget, value, day, max(spend, trusted or 0.0))
    if spike is not None:
        extra = {
            "observed": spike.observed,
            "projected": projected,
            "baseline_median": spike.baseline.median,
            "baseline_spread": spike.baseline.spread,
            "baseline_samples": spike.baseline.samples,
            "baseline_idle_days": spike.baseline.idle,
            "weekday_baseline": spike.baseline.weekday,
            "spike_threshold": spike.threshold,
        }
        yield Candidate(budget, value, day, "spike", spend, 1, Severity.WARNING, extra, fraction)


def _history_span(cfg: SpikeConfig) -> int:
    return max(cfg.baseline_days, cfg.weekday_weeks * 7 if cfg.weekday_aware else 0)


def usual_days(history: dict[date, float], day: date, cfg: SpikeConfig) -> UsualDays:
    """The closed days "usual" means for `day` (baseline.usual_days with the spike config), so the spike
    test, the "Usual day" line and every contributor's "usual" are medians of the same days."""
    return choose_usual_days(
        history,
        day,
        days=cfg.baseline_days,
        weekday_aware=cfg.weekday_aware,
        weekday_weeks=cfg.weekday_weeks,
        min_weekday_samples=MIN_WEEKDAY_SAMPLES,
    )


def _usual(ctx: RunContext, ledger: Ledger, s: EvalSettings, c: Candidate) -> tuple[Usual, dict[date, float]]:
    history = series_history(ledger, c.budget, c.value, c.day, _history_span(s.spike))
    chosen = usual_days(history, c.day, s.spike)
    usual = Usual(chosen.days, chosen.weekday, idle=chosen.idle, span=chosen.span)
    # A day the window has read to its end is complete, even before the ledger marks it closed.
    if c.fraction is None or ctx.window.end >= day_bounds(c.day, ledger.tz)[1]:
        return usual, history
    return replace(usual, share=c.fraction, as_of=ctx.window.end.astimezone(ledger.tz)), history


def _spike(
    ledger: Ledger, cfg: SpikeConfig, budget: BudgetConfig, value: str, day: date, observed: float
) -> Spike | None:
    history = series_history(ledger, budget, value, day, _history_span(cfg))
    # A value never seen before, or seen on too few days, has no baseline (robust_baseline returns None
    # for a usual of $0 with fewer than MIN_ACTIVE_DAYS days with spend): the budget caps cover it.
    baseline = robust_baseline(
        history,
        day,
        days=cfg.baseline_days,
        min_days=cfg.min_history_days,
        weekday_aware=cfg.weekday_aware,
        weekday_weeks=cfg.weekday_weeks,
        min_weekday_samples=MIN_WEEKDAY_SAMPLES,
    )
    if baseline is None:
        return None
    return spike_check(
        observed, baseline, multiplier=cfg.mad_multiplier, min_dollars=float(cfg.min_dollars), min_ratio=cfg.min_ratio
    )


def build_findings(ctx: RunContext, ledger: Ledger, s: EvalSettings, days: list[date], today: date) -> list[Finding]:
    found = list(candidates(ctx, ledger, s, days, today))
    top_rank: dict[str, int] = {}
    for c in found:
        top_rank[c.series_key] = max(top_rank.get(c.series_key, 0), c.rank if c.kind == "budget" else 0)
    traces: dict[str, list[Any]] = {}
    queries = 0
    for key in sorted(top_rank):
        c = next(x for x in found if x.series_key == key)
        start, end = day_bounds(c.day, ledger.tz)
        end = min(end, ctx.window.end)

        def fetch(c: Candidate = c, start: Any = start, end: Any = end) -> list[Any] | None:
            nonlocal queries
            if queries >= s.explain_max_queries:
                ctx.count("cost.explain_skipped")
                return None  # not asked: a later run with look-ups to spare asks
            queries += 1
            return fetch_top_traces(ctx, c.budget, c.value, start, end, max_rows=s.explain_max_rows, top=s.top_traces)

        traces[key] = cached_top_traces(ctx, key, top_rank[key], fetch, c.day)
    return [_finding(ctx, ledger, s, c, traces.get(c.series_key, [])) for c in found]


def _who(budget: BudgetConfig, value: str) -> str:
    return "all spend" if budget.scope == "none" else f"{budget.scope} {display_value(value)}"


def _title(c: Candidate) -> str:
    """The alert's title; its resolved notice carries the same one, so the two read as a pair."""
    who = _who(c.budget, c.value)
    if c.kind == "budget":
        # The cap's amount tells apart two alerts of one budget and day when the cap changed between them
        # (each cap has its own key); only projections and spikes outlive a cap change under one key.
        return f"Cost budget {c.budget.name} at {c.rank}% of its {usd(c.budget.cap)} cap for {who} on {c.day}"
    if c.kind == "projection":
        return f"Cost budget {c.budget.name} heading past its cap for {who} on {c.day}"
    return f"Cost spike for {who} on {c.day} (budget {c.budget.name})"


def _finding(ctx: RunContext, ledger: Ledger, s: EvalSettings, c: Candidate, traces: list[Any]) -> Finding:
    cap = c.budget.cap
    pct = c.spend / cap * 100
    who = _who(c.budget, c.value)
    subject = "Total spend" if c.budget.scope == "none" else f"Spend of {who}"
    money = f"{usd(c.spend)} of {usd(cap)} ({whole_percent(c.spend, cap)})"
    title = _title(c)
    start, end = day_bounds(c.day, ledger.tz)
    read_to = min(ctx.window.end, end)
    if c.kind == "budget":
        summary = f"{subject} on {c.day} ({ledger.tz.key}) is {money} of the daily cap"
        if read_to < end:  # a page during the day is about the day so far
            local = read_to.astimezone(ledger.tz)
            summary += f" so far (as of {local:%H:%M} {local.tzname() or ledger.tz.key})"
        summary += "."
    elif c.kind == "projection":
        projected = c.extra["projected"]
        summary = f"{subject} is {money} so far; at today's pace the day ends near {usd(projected)}."
    else:
        median, observed = c.extra["baseline_median"], c.extra["observed"]
        # A sparse series' usual is a day with spend (see monitors/cost/baseline.py); say so.
        per = "on a day with spend" if c.extra.get("baseline_idle_days") else "a day"
        if read_to >= end:
            # The run read the day to its end (a catch-up, a replay, the day's close): its spend is final.
            summary = f"{subject} ended the day at {usd(c.spend)} against a usual {usd(median)} {per} "
            summary += f"({money} for the whole day)."
        else:
            pace = "is on course for" if observed > c.spend else "reached"
            summary = f"{subject} {pace} {usd(observed)} against a usual {usd(median)} {per} ({money} so far)."
    usual, history = _usual(ctx, ledger, s, c)
    top = contributors(ledger, c.budget, c.value, c.day, s.contributor_dims, usual)
    fields = [("Spend", money), ("Budget", c.budget.name), ("Scope", who), ("Day", f"{c.day} ({ledger.tz.key})")]
    if "projected" in c.extra and c.extra["projected"] is not None:
        fields.append(("Projected end of day", usd(c.extra["projected"])))
    usual_day = replace(usual, share=None).of(history)
    if usual_day is not None:
        text = f"{usd(usual_day)} ({replace(usual, share=None).label()})"
        by_now = usual.of(history)
        if usual.share is not None and by_now is not None:
            text += f"; usually {usd(by_now)}{usual.by()}"
        fields.append(("Usual day", text))
    if top:
        fields.append(("Top contributors", "; ".join(x.describe() for x in top)))
    if traces:
        fields.append(("Costliest traces", "; ".join(f"{t.trace_id} {usd(t.cost)}" for t in traces)))
    evidence = {
        "kind": c.kind,
        "budget": c.budget.name,
        "scope": c.budget.scope,
        "value": c.value,
        "day": c.day.isoformat(),
        "spend": round(c.spend, 6),
        # How far into the day `spend` goes (the day's end once read whole): the weekly report says "as of"
        # this, which the run's clock cannot tell in a replay with --until.
        "read_to": read_to.isoformat(),
        "cap": cap,
        "percent": round(pct, 2),
        **{k: (round(v, 6) if isinstance(v, float) else v) for k, v in c.extra.items()},
        "contributors": [x.to_json() for x in top],
        "top_traces": [t.to_json() for t in traces],
    }
    return Finding(
        monitor="cost",
        dedupe_key=c.dedupe_key,
        severity=c.severity,
        title=title,
        summary=summary,
        observed_at=ctx.now,
        kind=c.kind,
        rank=c.rank,
        window=RunWindow(start, end),
        fields=tuple(fields),
        evidence=evidence,
        links=trace_links(ctx, traces),
        labels=_labels(c, top),
    )


def _labels(c: Candidate, top: list[Any]) -> dict[str, str]:
    """What the finding is about, for a route's group_by: the day, the scope's value, and the agent that
    drove at least half of the spend (so a user's or the global budget groups with that agent's)."""
    labels = {"day": c.day.isoformat(), "budget": c.budget.name}
    if c.budget.scope != "none":
        labels[c.budget.scope] = c.value
    driver = next((x for x in top if x.dim == "agent" and x.spend >= 0.5 * c.spend > 0), None)
    if driver is not None and "agent" not in labels:
        labels["agent"] = driver.value
    return labels


def resolved_findings(ctx: RunContext, ledger: Ledger, s: EvalSettings, closed: list[date]) -> list[Finding]:
    """Projections and spikes of days that closed in this run no longer hold: the day is over. The
    pipeline sends a resolved notice only for the ones it had notified."""
    out: list[Finding] = []
    for day in closed:
        record = ledger.get(day)
        if record is None:
            continue
        for budget in s.budgets:
            for value, spend in sorted(series_spend(budget, record["total"], record["dims"]).items()):
                if value == OTHER:
                    continue
                # Only the day's own contributors matter here (they pick the agent label for grouping),
                # not what they usually spend: no history is read.
                top = contributors(ledger, budget, value, day, s.contributor_dims, NO_HISTORY)
                share = whole_percent(spend, budget.cap)
                final = f"{day} closed at {usd(spend)} of the {usd(budget.cap)} cap ({share})."
                for kind in ("projection", "spike"):
                    c = Candidate(budget, value, day, kind, spend, 1, Severity.WARNING, {})
                    out.append(_closed(ctx, c, _title(c), f"The day is over: {final}", _labels(c, top)))
    return out


def _closed(ctx: RunContext, c: Candidate, title: str, summary: str, labels: dict[str, str]) -> Finding:
    return Finding(
        monitor="cost",
        dedupe_key=c.dedupe_key,
        severity=c.severity,
        title=title,
        summary=summary,
        observed_at=ctx.now,
        kind=c.kind,
        rank=c.rank,
        status=Status.RESOLVED,
        labels=labels,
        evidence={"budget": c.budget.name, "value": c.value, "scope": c.budget.scope, "day": c.day.isoformat()},
    )

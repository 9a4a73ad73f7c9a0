"""The alerts the events monitor sends. Plain text only: status messages and score comments are agent
text and go into fields as-is (shortened) for the renderers to escape; links are built by the source.

Fingerprints are (rule, agent, signature or evaluator, UTC day): a burst alerts once a day however many
runs see it grow, and dedupe, realert, silences and grouping treat it like any other finding.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

from monitors.contracts.findings import Finding, Link, RunWindow, Severity
from monitors.contracts.monitor import RunContext
from monitors.events.rules import Burst, Failing, ShareExcess, Usual
from monitors.events.tally import Group

MONITOR = "events"
UNKNOWN_AGENT = "unknown agent"


def shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def agent_label(agent: str) -> str:
    return shorten(agent, 120) if agent else UNKNOWN_AGENT


def short_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def trace_links(ctx: RunContext, trace_ids: Sequence[str], limit: int) -> tuple[Link, ...]:
    links = []
    for n, trace_id in enumerate(trace_ids[:limit], start=1):
        if url := ctx.source.trace_url(trace_id):
            links.append(Link(f"Trace {n}", url))
    return tuple(links)


def _time(stamp: str) -> str:
    try:
        return datetime.fromisoformat(stamp).strftime("%Y-%m-%d %H:%M:%S UTC")
    except ValueError:
        return "unknown"


def _seen(group: Group) -> str:
    return f"first {_time(group.first)}, last {_time(group.last)}"


def as_of(ctx: RunContext, day: date) -> str:
    """When a day's counts were taken: "" once the run has read the whole day, else "as of HH:MM UTC".

    An alert is sent once a day, from the run that first sees the rule break: its counts are that
    run's, and the day's final figures (the weekly report's) are often larger.
    """
    end = ctx.window.end.astimezone(UTC)
    return "" if end >= _day_window(day).end else f"as of {end:%H:%M} UTC"


def _so_far(stamp: str) -> str:
    return f" so far ({stamp})" if stamp else ""


def _pct(share: float) -> str:
    return f"{share * 100:.1f}%" if share >= 0.001 or share == 0 else f"{share * 100:.2f}%"


def usual_text(usual: Usual | None, errors: int, observations: int | None, stamp: str = "") -> str:
    """The agent's usual error share and the day's (up to `stamp`, see as_of), in words. No observation
    count: the share rule is off."""
    if observations is None:
        return "not tracked (errors.share.enabled is off)"
    when = f"that day, {stamp}," if stamp else "that day"
    # Errors with no counted observations: the count lags the rows (Metrics is eventually consistent).
    share = f" ({_pct(errors / observations)})" if observations else " (observations not counted yet)"
    day = f"{when} {errors} errors in {observations:,} observations{share}"
    if usual is None:
        usual_part = "not known yet (too few days of history)"
    elif usual.median == 0:
        usual_part = f"no errors on a usual day (median of {usual.days} days)"
    else:
        usual_part = f"{_pct(usual.median)} of observations are errors on a usual day (median of {usual.days} days)"
    return f"{usual_part}; {day}"


def _usual_count(usual: float | None) -> str:
    if usual is None:
        return ""
    return f"; usually {usual:g} a day" if usual else "; new: not seen on a usual day"


def burst_finding(
    ctx: RunContext,
    day: date,
    burst: Burst,
    *,
    levels: Sequence[str],
    usual: Usual | None,
    agent_errors: int,
    observations: int | None,
    links: int,
) -> Finding:
    group, agent = burst.group, agent_label(burst.agent)
    what = "/".join(levels).lower() if len(levels) > 1 else levels[0].lower()
    stamp = as_of(ctx, day)
    return Finding(
        monitor=MONITOR,
        dedupe_key=f"signature:{burst.agent}:{short_hash(group.alert_signature or burst.signature)}:{day.isoformat()}",
        severity=Severity.WARNING,
        kind="error_burst",
        rank=1,
        title=f"{group.count} {what}s of one kind from {agent} on {day.isoformat()}{_so_far(stamp)}",
        summary=f"The same {what} repeated {group.count} times for one agent in a day.",
        observed_at=ctx.now,
        window=_day_window(day),
        fields=(
            ("Agent", agent),
            ("Signature", burst.signature),
            ("Example message", shorten(group.example, 300) or "(none)"),
            ("Count", f"{group.count}{f' {stamp}' if stamp else ''} ({_seen(group)}){_usual_count(burst.usual_count)}"),
            ("Usual rate", usual_text(usual, agent_errors, observations, stamp)),
        ),
        evidence={
            "rule": "signature",
            "agent": burst.agent,
            "signature": burst.signature,
            "count": group.count,
            "first": group.first,
            "last": group.last,
            "traces": list(group.traces),
            "agent_errors": agent_errors,
            "observations": observations,
            "usual_share": None if usual is None else round(usual.median, 6),
            "usual_count": burst.usual_count,
        },
        links=trace_links(ctx, group.traces, links),
    )


def share_finding(
    ctx: RunContext, day: date, excess: ShareExcess, top: Sequence[tuple[str, Group]], links: int
) -> Finding:
    agent = agent_label(excess.agent)
    traces = [t for _, g in top for t in g.traces]
    first = min((g.first for _, g in top if g.first), default="")
    last = max((g.last for _, g in top), default="")
    signatures = "; ".join(f"{g.count}× {shorten(s, 120)}" for s, g in top[:3])
    stamp = as_of(ctx, day)
    return Finding(
        monitor=MONITOR,
        dedupe_key=f"share:{excess.agent}:{day.isoformat()}",
        severity=Severity.WARNING,
        kind="error_share",
        rank=1,
        title=(
            f"{agent}: {_pct(excess.share)} of observations are errors on {day.isoformat()}"
            f"{' so far' if stamp else ''} ({f'{stamp}; ' if stamp else ''}usually {_pct(excess.usual.median)})"
        ),
        summary="This agent's share of failing observations is well above its usual share.",
        observed_at=ctx.now,
        window=_day_window(day),
        fields=(
            ("Agent", agent),
            (
                "Errors",
                f"{excess.errors} of {excess.observations:,} observations{f' {stamp}' if stamp else ''} "
                f"(first {_time(first)}, last {_time(last)})",
            ),
            ("Usual rate", usual_text(excess.usual, excess.errors, excess.observations, stamp)),
            ("Alert above", f"{_pct(excess.threshold)} of observations ({_threshold_why(excess)})"),
            ("Top signatures", signatures or "(none)"),
        ),
        evidence={
            "rule": "share",
            "agent": excess.agent,
            "errors": excess.errors,
            "observations": excess.observations,
            "share": round(excess.share, 6),
            "usual_share": round(excess.usual.median, 6),
            "threshold": round(excess.threshold, 6),
            "traces": traces[:3],
        },
        links=trace_links(ctx, traces, links),
    )


def _threshold_why(excess: ShareExcess) -> str:
    """Which of the share rule's three bounds set the threshold, in words."""
    usual = excess.usual
    spread_bound = usual.median + excess.multiplier * usual.spread
    if excess.threshold == spread_bound:
        return f"usual {_pct(usual.median)} + {excess.multiplier:g} × spread {_pct(usual.spread)}"
    if excess.threshold == usual.median * excess.min_ratio:
        return f"{excess.min_ratio:g} × the usual {_pct(usual.median)}"
    return "the configured floor min_share"


def failing_finding(ctx: RunContext, day: date, verdict: Failing, links: int) -> Finding:
    ev, group, agent = verdict.evaluator, verdict.group, agent_label(verdict.agent)
    critical, stamp = ev.critical, as_of(ctx, day)
    title = (
        f"Critical evaluator {shorten(ev.name, 80)} failed {group.count}× for {agent} on {day.isoformat()}"
        if critical
        else f"{shorten(ev.name, 80)}: {_pct(verdict.share)} of {agent}'s scores fail on {day.isoformat()}"
    ) + _so_far(stamp)
    rule = "any failure (critical evaluator)" if critical else f"more than {_pct(ev.max_failing_share)} failing"
    return Finding(
        monitor=MONITOR,
        dedupe_key=f"score:{short_hash(ev.name)}:{verdict.agent}:{day.isoformat()}",
        severity=Severity.CRITICAL if critical else Severity.WARNING,
        kind="critical_score" if critical else "failing_scores",
        rank=1,
        title=title,
        summary=f"Evaluator {shorten(ev.name, 80)} marks this agent's traces as failing ({ev.condition()}).",
        observed_at=ctx.now,
        window=_day_window(day),
        fields=(
            ("Evaluator", shorten(ev.name, 200)),
            ("Agent", agent),
            (
                "Failing",
                f"{group.count} of {verdict.scores} scores{f' {stamp}' if stamp else ''} "
                f"({_pct(verdict.share)}; {_seen(group)})",
            ),
            ("Alerts on", f"{ev.condition()}; {rule}"),
            ("Example comment", shorten(group.example, 300) or "(none)"),
        ),
        evidence={
            "rule": "critical" if critical else "failing_share",
            "evaluator": ev.name,
            "agent": verdict.agent,
            "failing": group.count,
            "scores": verdict.scores,
            "share": round(verdict.share, 6),
            "first": group.first,
            "last": group.last,
            "traces": list(group.traces),
        },
        links=trace_links(ctx, group.traces, links),
    )


def _day_window(day: date) -> RunWindow:
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return RunWindow(start, start + timedelta(days=1))

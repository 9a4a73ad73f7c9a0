"""Turn one session's issues for one check into a Finding: step numbers, tools, argument excerpts and
what the wasted steps cost (steps, seconds when times are real, tokens, USD).

All text is plain; tool names, arguments and session ids come from agents and are passed through as-is
(renderers escape them). Excerpts are short so an alert stays readable and bounded.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from monitors.audit.checks import Issue
from monitors.audit.sequence import Session, Waste, duration_text, excerpt, identity_args, waste_of
from monitors.contracts.findings import Finding, Link, RunWindow, Severity

LABELS = {
    "repeat": "repeated tool calls",
    "loop": "tool-call loop",
    "backtrack": "backtracking",
    "runaway": "runaway tool-call chain",
    "error_storm": "error storm",
    "soft_failure": "failures reported as success",
    "plan": "left its plan",
    "conversation_loop": "conversation loop",
    "monologue": "monologue loop",
    "claimed_not_done": "claimed work no call did",
    "polling": "long polling",
}
MAX_KEY = 200  # session ids are agent-chosen; bound the dedupe key
MAX_LISTED = 20  # steps listed in an alert
MAX_DETAILS = 3  # issue notes in the summary


ACTIVE, ENDED, UNKNOWN = "active", "ended", "unknown"


@dataclass(frozen=True, slots=True)
class SessionState:
    """Whether a session was still running when the run read it (ACTIVE, ENDED or UNKNOWN), in words."""

    state: str
    text: str


def session_state(session: Session, *, window: RunWindow, now: datetime, active_within: timedelta) -> SessionState:
    """ACTIVE when the session has a real observation within `active_within` of the window's end, ENDED
    when its last one is older, UNKNOWN without real times; the text says how long before this run its
    last step was ("ended 15 h before this run", "active: last step 4 min before this run")."""
    last = session.last_time
    if last is None:
        return SessionState(UNKNOWN, "unknown: no real timestamps")
    ago = duration_text(max(0.0, (now - last).total_seconds()))
    if last < window.end - active_within:
        return SessionState(ENDED, f"ended {ago} before this run")
    if now - window.end > active_within:  # a late run over an old window: active then, not known now
        return SessionState(ACTIVE, f"active at the window's end: last step {ago} before this run")
    return SessionState(ACTIVE, f"active: last step {ago} before this run")


def dedupe_key(session_key: str, check: str) -> str:
    """session + check; very long session ids are cut and made unique with a hash."""
    if len(session_key) > MAX_KEY:
        digest = hashlib.sha1(session_key.encode()).hexdigest()[:12]
        session_key = f"{session_key[: MAX_KEY - 13]}~{digest}"
    return f"{session_key}:{check}"


def describe_waste(w: Waste) -> str:
    """'203 steps, 6 h 16 min, 1,234,567 tokens, $22.47': read at a glance, money to the cent."""
    parts = [f"{w.steps} step{'s' if w.steps != 1 else ''}"]
    if w.seconds is not None:
        parts.append(duration_text(w.seconds))
    parts.append(f"{w.tokens:,} tokens")
    parts.append(f"${w.cost:,.2f}" if w.cost >= 0.005 or w.cost == 0 else "under $0.01")
    return ", ".join(parts)


def _steps_text(steps: Sequence[int]) -> str:
    """Step numbers as ranges: '2, 5-7, 101-303' (at most MAX_LISTED ranges, then how many more steps)."""
    ranges: list[tuple[int, int]] = []
    for step in sorted(set(steps)):
        if ranges and step == ranges[-1][1] + 1:
            ranges[-1] = (ranges[-1][0], step)
        else:
            ranges.append((step, step))
    shown = ranges[:MAX_LISTED]
    text = ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in shown)
    hidden = sum(b - a + 1 for a, b in ranges[MAX_LISTED:])
    return text + (f" (+{hidden} more)" if hidden else "")


def _arguments(session: Session, steps: Sequence[int]) -> str:
    seen: list[str] = []
    for s in steps:
        if 1 <= s <= len(session.calls):
            call = session.calls[s - 1]
            text = f"#{s} {call.name}({excerpt(identity_args(call.name, call.args), 60)})"
            if text.split(" ", 1)[1] not in {t.split(" ", 1)[1] for t in seen}:
                seen.append(text)
        if len(seen) >= 3:
            break
    return "; ".join(seen)


def build_finding(
    session: Session,
    check: str,
    issues: Sequence[Issue],
    *,
    severity: Severity,
    now: datetime,
    window: RunWindow | None,
    trace_url: str | None,
    extra_evidence: dict[str, Any] | None = None,
    extra_summary: str = "",
    waste: Waste | None = None,
    state: SessionState | None = None,
) -> Finding:
    """One finding for all of a session's issues of one check (`waste` when it is not in the calls); `state`
    says whether the session still runs (a "Session state" field, and `session_state` in the evidence that
    the alert's next step reads)."""
    wasted = sorted({s for issue in issues for s in issue.steps})
    related = sorted({s for issue in issues for s in issue.related})
    waste = waste or waste_of(session.calls, wasted, timed=session.timed)
    tools = sorted({session.calls[s - 1].name for s in wasted + related if 1 <= s <= len(session.calls)})
    notes = [issue.detail for issue in issues[:MAX_DETAILS]]
    if len(issues) > MAX_DETAILS:
        notes.append(f"and {len(issues) - MAX_DETAILS} more")
    summary = "; ".join(notes)
    if extra_summary:
        summary = f"{extra_summary}; {summary}" if summary else extra_summary
    summary += f". Wasted: {describe_waste(waste)}."
    fields: list[tuple[str, str]] = [
        ("Agent", session.agent),
        ("Session", session.key),
        *([("Session state", state.text)] if state else []),
        ("Wasted steps", _steps_text(wasted) or "none"),
        ("Tools", ", ".join(tools)[:300]),
        ("Calls", _arguments(session, wasted or related)),
        ("Cost of wasted steps", describe_waste(waste)),
    ]
    evidence: dict[str, Any] = {
        "check": check,
        "session": session.key[:MAX_KEY],
        "agent": session.agent,
        "tool_calls": len(session.calls),
        "wasted_steps": waste.steps,
        "seconds": waste.seconds,
        "tokens": waste.tokens,
        "usd": waste.cost,
        "session_usd": round(session.total_cost, 6),
        "steps": wasted[:50],
        "issues": len(issues),
    }
    if state is not None:
        evidence["session_state"] = state.state
        evidence["session_last_step"] = session.last_time.isoformat() if session.last_time else None
    evidence.update(extra_evidence or {})
    short = session.key if len(session.key) <= 60 else "..." + session.key[-57:]
    return Finding(
        monitor="audit",
        dedupe_key=dedupe_key(session.key, check),
        severity=severity,
        title=f"{session.agent}: {LABELS.get(check, check)} in session {short}",
        summary=summary,
        observed_at=now,
        kind=check,
        rank=int(severity),
        window=window,
        fields=tuple(fields),
        evidence=evidence,
        links=(Link("Langfuse trace", trace_url),) if trace_url else (),
        labels=_labels(session),
    )


def session_span(session: Session, run_window: RunWindow) -> RunWindow:
    """What a session's finding is about: from its first call to its last observation, when every call
    has a real time (the weekly report files the finding in the week of that span, not of the run that
    read it: a daily run from Sunday 06:30 to Monday 06:30 reads sessions of two weeks); else the run's."""
    times = [c.time for c in session.calls if c.time is not None]
    if not session.timed or not times:
        return run_window
    last = max([*times, *(c.end_time for c in session.calls if c.end_time), *filter(None, [session.last_time])])
    return RunWindow(min(times), last + timedelta(milliseconds=1))


def _labels(session: Session) -> dict[str, str]:
    """For a route's group_by: the agent, the session and the (UTC) day the session started."""
    labels = {"agent": session.agent, "session": session.key}
    started = next((call.time for call in session.calls if call.time is not None), None)
    if started is not None:
        labels["day"] = started.astimezone(UTC).date().isoformat()
    return labels

"""Data builders for report tests: observations with costs, stored finding events, run records, settings."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from monitors.contracts.findings import Finding, Link, RunWindow, Severity
from monitors.contracts.records import Observation
from monitors.engine.config import Settings, settings_from_dict
from monitors.engine.pipeline import finding_event
from monitors.sources.replay import ReplaySource
from monitors.store.rows import RunCommit
from monitors.store.store import Store

# ISO week 2026-W47: Monday 16 Nov .. Sunday 22 Nov 2026.
WEEK_START = datetime(2026, 11, 16, tzinfo=UTC)
WEEK_END = WEEK_START + timedelta(days=7)
DELAY = timedelta(minutes=15)
REPORT_NOW = WEEK_END + timedelta(days=3, hours=8)
HOST = "https://langfuse.example.com"


def obs(
    n: int, when: datetime, cost: float, *, agent: str = "llm-fix", model: str = "gpt-4o", user: str = "ana"
) -> Observation:
    return Observation(
        id=f"obs-{n}",
        trace_id=f"trace-{n}",
        type="GENERATION",
        start_time=when,
        project_id="proj-1",
        trace_name=agent,
        model=model,
        user_id=user,
        total_cost=cost,
    )


def source_of(observations: Iterable[Observation]) -> ReplaySource:
    return ReplaySource.from_observations(list(observations), host=HOST)


def finding(
    monitor: str,
    key: str,
    kind: str,
    severity: Severity,
    observed_at: datetime,
    *,
    rank: int = 0,
    title: str = "",
    summary: str = "",
    evidence: dict[str, Any] | None = None,
    fields: tuple[tuple[str, str], ...] = (),
    links: tuple[Link, ...] = (),
    window: RunWindow | None = None,
) -> Finding:
    return Finding(
        monitor=monitor,
        dedupe_key=key,
        severity=severity,
        title=title or f"{monitor} {kind} {key}",
        summary=summary,
        observed_at=observed_at,
        kind=kind,
        rank=rank,
        fields=fields,
        evidence=evidence or {},
        links=links,
        window=window,
    )


def event(f: Finding, decision: str = "first notification") -> dict[str, Any]:
    """A finding_events row exactly as the pipeline writes it for a finding with its own window. Without
    one, the row is one written before m008 (no window): the report places it by observed_at."""
    row = finding_event(f.monitor, f, decision, f.window or RunWindow(f.observed_at, f.observed_at))
    return row if f.window is not None else row | {"window_start": None, "window_end": None}


def store_events(store: Store, monitor: str, *events: dict[str, Any], now: datetime = REPORT_NOW) -> None:
    store.commit_run(
        RunCommit(monitor=monitor, now=now, watermark=None, seen=[], outbox=[], events=list(events), state={})
    )


def record_run(store: Store, monitor: str, status: str = "ok", *, error: str | None = None, day: int = 0) -> None:
    start = WEEK_START + timedelta(days=day)
    summary = {
        "monitor": monitor,
        "status": status,
        "error": error,
        "window": {"start": start.isoformat(), "end": (start + timedelta(hours=6)).isoformat()},
    }
    finished = start + timedelta(hours=6, minutes=16)
    store.record_run(monitor, started=finished, finished=finished, status=status, summary=summary)


def budget_finding(
    day: str,
    rank: int,
    spend: float,
    *,
    cap: float = 40.0,
    budget: str = "global",
    value: str = "*",
    observed_at: datetime | None = None,
) -> Finding:
    """A cost budget alert about `day` (UTC) raised by a run at `observed_at` (default 18:15 that day,
    which read the day up to 18:00: the query delay is 15 minutes)."""
    midnight = datetime.fromisoformat(day).replace(tzinfo=UTC)
    return finding(
        "cost",
        f"{budget}:{value}:{day}",
        "budget",
        Severity.CRITICAL if rank >= 100 else Severity.WARNING,
        observed_at or midnight + timedelta(hours=18, minutes=15),
        rank=rank,
        evidence={"budget": budget, "value": value, "day": day, "spend": spend, "cap": cap},
        window=RunWindow(midnight, midnight + timedelta(days=1)),  # the cost monitor's: the day it is about
    )


def drift_finding(n: int, similarity: float, objective: str, did: str, *, agent: str = "issue-executor") -> Finding:
    return finding(
        "drift",
        f"group/app!{n}@abc{n}",
        "drift",
        Severity.WARNING,
        WEEK_END + DELAY,
        rank=1,
        title=f"Goal drift: {agent} on group/app!{n}",
        fields=(("Objective", objective), ("What was done", did), ("Agent", agent)),
        evidence={"similarity": similarity, "threshold": -0.15, "repo": "group/app", "mr_iid": n},
        links=(
            Link("Langfuse trace", f"{HOST}/project/proj-1/traces/t{n}"),
            Link("Merge request", f"https://gitlab.example.com/group/app/-/merge_requests/{n}"),
        ),
    )


def audit_finding(session: str, kind: str, severity: Severity, usd: float, steps: int) -> Finding:
    return finding(
        "audit",
        f"{session}:{kind}",
        kind,
        severity,
        WEEK_END + DELAY,
        rank=int(severity),
        title=f"llm-fix: {kind} in session {session}",
        evidence={"session": session, "agent": "llm-fix", "usd": usd, "wasted_steps": steps},
        links=(Link("Langfuse trace", f"{HOST}/project/proj-1/traces/{session}"),),
    )


def settings(channels: dict[str, dict[str, Any]] | None = None, **report: Any) -> Settings:
    raw: dict[str, Any] = {
        "langfuse": {"host": HOST, "public_key": "pk-lf-test", "secret_key": "sk-lf-test", "query_delay": "15m"},
        "channels": channels or {"terminal": {"kind": "stdout"}},
        "monitors": {"cost": {"budgets": [{"name": "global", "daily_cap": 40}]}},
    }
    if report:
        raw["report"] = report
    return settings_from_dict(raw, env={})


def forge_drift_finding(
    forge: str,
    iid: int,
    score: float,
    *,
    checks: tuple[tuple[str, str], ...] = (),
    head: str = "",
    agent: str = "issue-executor",
    objective: str = "Add a test that the retry backoff is capped",
    commit: str = "test(client): add a test that the retry backoff is capped",
) -> Finding:
    """A drift alert exactly as the drift monitor writes it (its own `drift_finding`), for a GitHub pull
    request or a GitLab merge request; `checks` are (name, reason) of the explicit checks that fired."""
    from monitors.contracts.forge import ChangeEvidence, CommitInfo, MergeRequestInfo
    from monitors.contracts.monitor import RunContext
    from monitors.drift.candidates import MrRef, TraceRef
    from monitors.drift.checks import CheckResult
    from monitors.drift.findings import drift_finding as monitor_drift_finding
    from monitors.drift.verdict import Verdict

    head = head or f"{iid:04x}" * 10
    repo = "acme-labs/agent-sdk" if forge == "github" else "platform/web"
    kind = "pull" if forge == "github" else "-/merge_requests"
    web_url = f"https://{forge}.example.com/{repo}/{kind}/{iid}"
    state = "open" if forge == "github" else "opened"
    info = MergeRequestInfo(
        repo, iid, "title", "", web_url, state, (CommitInfo(head, commit, commit, None),), forge=forge, head_sha=head
    )
    evidence = ChangeEvidence(head, commit, (commit,), 1, (), 1, 3, 15)
    when = WEEK_START + timedelta(days=2)
    ref = TraceRef(f"trace-{iid}", when, agent=agent, objective=objective, end=when + timedelta(minutes=5))
    verdict = Verdict(score, -0.55, "evidence", tuple(CheckResult(n, r) for n, r in checks), final=0.4, summary=0.3)
    ctx = RunContext(window=RunWindow(WEEK_START, WEEK_END), now=WEEK_END + DELAY, source=source_of([]))
    return monitor_drift_finding(ctx, MrRef(repo, iid, forge), info, evidence, ref, verdict, [ref])

"""Action-sequence audit ("audit"): loops, repeats, backtracking, runaway chains, error storms and
plan divergence in each agent session's tool calls.

Per run: stream the window's TOOL and GENERATION observations (newest first, all sessions mixed),
spill them to a temporary SQLite file keyed by session (monitors/audit/spool.py), then rebuild and
audit one session at a time, so memory holds one session even at a million observations. Sessions
with fewer than `min_tool_calls` calls are skipped and counted. Each check yields at most one finding
per session (dedupe key `session:check`) with the wasted steps and what they cost. Checks listed in
`alert_checks` (default loop and runaway) are sent right away; the rest are INFO for the weekly
report. Per-agent tool-call counts are kept in ctx.state to judge what is "usual" for runaway chains.
The plan-divergence score is written back to Langfuse as a trace score when `plan.write_score` is on.

A session that straddles the window edge is audited on the part inside the window; the dedupe key
keeps the next run from alerting twice about the same session and check.
"""

from __future__ import annotations

import hashlib
import statistics
from collections.abc import Iterable, Iterator
from datetime import timedelta
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from monitors.audit import backtrack, checks, operations
from monitors.audit.plan import is_structured, plan_divergence
from monitors.audit.report import build_finding
from monitors.audit.sequence import Session, build_session, excerpt, numbered_steps
from monitors.audit.spool import SessionSpool
from monitors.contracts.findings import Finding, RunWindow, Severity
from monitors.contracts.monitor import RunContext
from monitors.contracts.source import ObservationQuery, Score
from monitors.contracts.values import Duration

CHECKS = ("repeat", "loop", "backtrack", "runaway", "error_storm", "plan")
HISTORY_KEY = "agent_tool_calls"  # ctx.state: {agent: [recent tool-call counts]}
MAX_AGENTS = 500  # agent names come from traces; bound the state
_FIELDS = frozenset({"core", "basic", "io", "usage", "metadata", "trace_context"})
_OPS = frozenset({"read", "list", "stat", "search", "write", "create", "edit", "delete", "move", "undo", "exec"})


class _Check(BaseModel):
    model_config = ConfigDict(extra="forbid")
    enabled: bool = Field(True, description="Run this check.")


class RepeatConfig(_Check):
    window_steps: int = Field(5, ge=1, description="Repeats this many steps apart count (no real timestamps).")
    window: Duration = Field(timedelta(minutes=10), description="Repeats this close in time count (real timestamps).")
    allowed_retries: int = Field(2, ge=0, description="Identical retries allowed after a failed call.")
    ignore_tools: list[str] = Field(default_factory=list, description="Tools never reported as repeats.")


class LoopConfig(_Check):
    min_cycles: int = Field(2, ge=2, description="Times a cycle must run to be a loop (A B A B is 2).")
    max_period: int = Field(4, ge=2, le=8, description="Longest cycle looked for, in calls.")
    ignore_tools: list[str] = Field(default_factory=list, description="Tools that never form a loop.")


class BacktrackConfig(_Check):
    operations: dict[str, str] = Field(
        default_factory=dict,
        description="Extra tool -> operation entries (read, list, stat, search, write, create, edit, delete, "
        "move, undo, exec); 'tool:command' keys match a `command` argument. Merged over the defaults.",
    )
    resource_args: list[str] = Field(
        default_factory=lambda: list(operations.DEFAULT_RESOURCE_ARGS),
        description="Argument names that hold the file or folder a call acts on, in priority order.",
    )
    reread_gap: int = Field(1, ge=1, description="A read this many steps after a write is a re-read.")

    @field_validator("operations")
    @classmethod
    def _known_ops(cls, value: dict[str, str]) -> dict[str, str]:
        bad = sorted(f"{k}: {v}" for k, v in value.items() if v not in _OPS)
        if bad:
            raise ValueError(f"unknown operation(s) {', '.join(bad)}; use one of {', '.join(sorted(_OPS))}")
        return value


class RunawayConfig(_Check):
    max_tool_calls: int = Field(100, ge=1, description="More tool calls than this in a session is runaway.")
    usual_factor: float = Field(3.0, gt=1, description="Runaway at this multiple of the agent's median count.")
    min_excess: int = Field(10, ge=0, description="...and at least this many calls above the median.")
    min_history: int = Field(10, ge=1, description="Sessions of an agent seen before its median is trusted.")
    history_size: int = Field(50, ge=1, le=1000, description="Recent sessions per agent kept in state.")


class ErrorStormConfig(_Check):
    min_errors: int = Field(3, ge=2, description="Failing calls in a row that make a storm.")


class PlanConfig(_Check):
    threshold: float = Field(0.6, ge=0, le=1, description="Report sessions whose divergence is at least this.")
    match_threshold: float = Field(0.5, gt=0, le=1, description="Minimum step-to-call similarity to match.")
    miss_weight: float = Field(0.75, ge=0, le=1, description="Weight of missed plan steps vs unplanned actions.")
    ignore_tools: list[str] = Field(
        default_factory=lambda: ["respond", "think", "message", "finish"],
        description="Calls that are conversation, not actions (never 'outside the plan').",
    )
    use_first_generation: bool = Field(True, description="Without metadata `plan`, use the first turn's numbers.")
    free_text: bool = Field(
        False,
        description="Also align prose plans (no list, no numbered steps) split into sentences; noisy, see "
        "docs/audit-evaluation.md.",
    )
    write_score: bool = Field(True, description="Write the divergence back to Langfuse as a trace score.")
    score_name: str = Field("audit_plan_divergence", min_length=1, max_length=100, description="Score name.")


class ToolSequenceConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    min_tool_calls: int = Field(5, ge=1, description="Skip sessions with fewer tool calls than this.")
    session_lookback: Duration = Field(
        timedelta(hours=6),
        description="Read this far before the window so a session that began in the previous window is "
        "audited whole; sessions that ended before the window are left to the run that saw them end.",
    )
    alert_checks: list[str] = Field(
        default_factory=lambda: ["loop", "runaway"], description="Checks sent right away; others are INFO."
    )
    critical_wasted_steps: int = Field(10, ge=1, description="An alerting finding this wasteful is CRITICAL.")
    max_calls_per_session: int = Field(20000, ge=10, description="Calls audited per session (the rest counted).")
    repeat: RepeatConfig = Field(default_factory=RepeatConfig, description="Repeated identical calls.")
    loop: LoopConfig = Field(default_factory=LoopConfig, description="Cycles of 2-4 calls repeated.")
    backtrack: BacktrackConfig = Field(default_factory=BacktrackConfig, description="Contradicting operations.")
    runaway: RunawayConfig = Field(default_factory=RunawayConfig, description="Too many tool calls.")
    error_storm: ErrorStormConfig = Field(default_factory=ErrorStormConfig, description="Failures in a row.")
    plan: PlanConfig = Field(default_factory=PlanConfig, description="Plan versus actions.")

    @field_validator("alert_checks")
    @classmethod
    def _known_checks(cls, value: list[str]) -> list[str]:
        bad = [v for v in value if v not in CHECKS]
        if bad:
            raise ValueError(f"unknown check(s) {', '.join(bad)}; use one of {', '.join(CHECKS)}")
        return value


class ToolSequenceMonitor:
    name: ClassVar[str] = "audit"
    Config: ClassVar[type[BaseModel]] = ToolSequenceConfig

    def __init__(self, config: ToolSequenceConfig | None = None) -> None:
        self.config = config or ToolSequenceConfig()
        self._operations = {**operations.DEFAULT_OPERATIONS, **self.config.backtrack.operations}

    def run(self, ctx: RunContext) -> Iterator[Finding]:
        plan_key, agent_key = ctx.meta_key("plan"), ctx.meta_key("feature")
        # A session that crosses the window's start (a daily run at midnight) is read whole and audited
        # once it is in this window; the previous run saw only its first part.
        window = RunWindow(ctx.window.start - self.config.session_lookback, ctx.window.end)
        query = ObservationQuery(
            window=window, types=("TOOL", "GENERATION"), fields=_FIELDS, expand_metadata=(plan_key,)
        )
        history = _load_history(ctx)
        with SessionSpool() as spool:
            for obs in ctx.source.observations(query):
                spool.add(obs)
            ctx.count("audit.observations", spool.rows)
            for key in spool.session_keys(active_since=ctx.window.start):
                session = build_session(key, spool.observations(key), plan_key=plan_key, agent_key=agent_key)
                yield from self._session(ctx, session, history)
        ctx.state.put(HISTORY_KEY, history)

    def _session(self, ctx: RunContext, session: Session, history: dict[str, list[int]]) -> Iterable[Finding]:
        if len(session.calls) < self.config.min_tool_calls:
            ctx.count("audit.sessions_skipped_short")
            return []
        ctx.count("audit.sessions_audited")
        count = len(session.calls)
        if count > self.config.max_calls_per_session:
            ctx.count("audit.calls_not_audited", count - self.config.max_calls_per_session)
            session.calls = session.calls[: self.config.max_calls_per_session]
        findings = list(self._audit(ctx, session, count, history.get(session.agent, [])))
        _remember(history, session.agent, count, self.config.runaway.history_size)
        return findings

    def _audit(self, ctx: RunContext, session: Session, count: int, past: list[int]) -> Iterator[Finding]:
        cfg, calls = self.config, session.calls
        found: dict[str, list[checks.Issue]] = {}
        if cfg.loop.enabled:
            found["loop"] = checks.find_loops(
                calls, min_cycles=cfg.loop.min_cycles, max_period=cfg.loop.max_period, ignore=cfg.loop.ignore_tools
            )
        if cfg.repeat.enabled:
            claimed = {s for issue in found.get("loop", []) for s in issue.steps}
            found["repeat"] = checks.find_repeats(
                calls,
                window_steps=cfg.repeat.window_steps,
                window_seconds=cfg.repeat.window if session.timed else None,
                allowed_retries=cfg.repeat.allowed_retries,
                ignore=cfg.repeat.ignore_tools,
                claimed=claimed,
                operations=self._operations,
            )
        if cfg.backtrack.enabled:
            found["backtrack"] = backtrack.find_backtracking(
                calls,
                operations=self._operations,
                resource_args=tuple(cfg.backtrack.resource_args),
                reread_gap=cfg.backtrack.reread_gap,
            )
        if cfg.error_storm.enabled:
            found["error_storm"] = checks.find_error_storms(calls, min_errors=cfg.error_storm.min_errors)
        if cfg.runaway.enabled:
            usual = statistics.median(past) if len(past) >= cfg.runaway.min_history else None
            run = checks.find_runaway(
                count,
                limit=cfg.runaway.max_tool_calls,
                usual=usual,
                factor=cfg.runaway.usual_factor,
                min_excess=cfg.runaway.min_excess,
            )
            found["runaway"] = [run] if run else []
        for check, issues in found.items():
            if issues:
                yield self._finding(ctx, session, check, issues)
        if cfg.plan.enabled:
            yield from self._plan(ctx, session)

    def _severity(self, check: str, issues: list[checks.Issue]) -> Severity:
        if check not in self.config.alert_checks:
            return Severity.INFO
        wasted = len({s for issue in issues for s in issue.steps})
        return Severity.CRITICAL if wasted >= self.config.critical_wasted_steps else Severity.WARNING

    def _finding(self, ctx: RunContext, session: Session, check: str, issues: list[checks.Issue]) -> Finding:
        ctx.count(f"audit.findings.{check}")
        return build_finding(
            session,
            check,
            issues,
            severity=self._severity(check, issues),
            now=ctx.now,
            window=ctx.window,
            trace_url=ctx.source.trace_url(session.trace_id),
        )

    def _plan(self, ctx: RunContext, session: Session) -> Iterator[Finding]:
        cfg = self.config.plan
        plan = session.plan
        if plan is None and cfg.use_first_generation:
            plan = numbered_steps(session.first_generation) or None
        if plan is None:
            return
        if not cfg.free_text and not is_structured(plan):
            ctx.count("audit.plans_prose_skipped")
            return
        result = plan_divergence(
            plan,
            session.calls,
            ignore=cfg.ignore_tools,
            match_threshold=cfg.match_threshold,
            miss_weight=cfg.miss_weight,
        )
        if result is None:
            return
        ctx.count("audit.sessions_with_plan")
        if cfg.write_score:
            ctx.scores.append(_plan_score(session.trace_id, cfg.score_name, result.score, ctx))
        if result.score < cfg.threshold:
            return
        missed = [excerpt(result.steps[i].text, 60) for i in result.missed[:3]]
        head = (
            f"divergence {result.score:.2f}: {len(result.missed)} of {result.planned} planned steps never taken"
            f", {len(result.unplanned)} of {result.considered} actions outside the plan"
        )
        if missed:
            head += " (missed: " + " | ".join(missed) + ")"
        issue = checks.Issue("plan", result.unplanned, "actions outside the plan")
        ctx.count("audit.findings.plan")
        yield build_finding(
            session,
            "plan",
            [issue],
            severity=Severity.INFO if "plan" not in self.config.alert_checks else Severity.WARNING,
            now=ctx.now,
            window=ctx.window,
            trace_url=ctx.source.trace_url(session.trace_id),
            extra_evidence={"score": result.score, "planned": result.planned, "missed": len(result.missed)},
            extra_summary=head,
        )


def _plan_score(trace_id: str, name: str, value: float, ctx: RunContext) -> Score:
    # Deterministic id: a rerun overwrites the score instead of adding another.
    sid = hashlib.sha256(f"{trace_id}:{name}".encode()).hexdigest()[:32]
    return Score(id=sid, trace_id=trace_id, name=name, value=value, timestamp=ctx.now)


def _load_history(ctx: RunContext) -> dict[str, list[int]]:
    raw = ctx.state.get(HISTORY_KEY)
    if not isinstance(raw, dict):
        return {}
    return {str(k): [int(c) for c in v if isinstance(c, int)] for k, v in raw.items() if isinstance(v, list)}


def _remember(history: dict[str, list[int]], agent: str, count: int, size: int) -> None:
    if agent not in history and len(history) >= MAX_AGENTS:
        return
    history[agent] = [*history.get(agent, []), count][-size:]

"""Action-sequence audit ("audit"): loops, repeats, backtracking, runaway chains, error storms and
plan divergence in each agent session's tool calls.

Per run: stream the window's TOOL and GENERATION observations (newest first, all sessions mixed),
spill them to a temporary SQLite file keyed by session (monitors/audit/spool.py), then rebuild and
audit one session at a time, so memory holds one session even at a million observations. Sessions
with fewer than `min_tool_calls` calls are skipped and counted, except that the checks reading what the
agent says (conversation loops, claims, monologue) still run when there is enough of it. Each check
yields at most one finding per session (dedupe key `session:check`) with the wasted steps and what
they cost. Checks listed in `alert_checks` (default loop and runaway) are sent right away; the rest
are INFO for the weekly report. Per-agent tool-call counts, one per session, are kept in ctx.state
to judge what is "usual" for runaway chains (monitors/audit/usual.py). The plan-divergence score is
written back to Langfuse as a trace score when `plan.write_score` is on.

A session that straddles the window edge is audited by both runs (the second reads it whole, back to
`session_lookback`); the dedupe key keeps the second from alerting twice about the same session and
check, and the usual counts take the session once, at its latest count.
"""

from __future__ import annotations

import hashlib
import statistics
from collections.abc import Iterable, Iterator
from typing import ClassVar

from pydantic import BaseModel

from monitors.audit import backtrack, checks, claimed, conversation, operations, polling, shell
from monitors.audit.config import (
    CHECKS,
    LOOPING,
    BacktrackConfig,
    ErrorStormConfig,
    LoopConfig,
    PlanConfig,
    RepeatConfig,
    RunawayConfig,
    ToolSequenceConfig,
)
from monitors.audit.plan import is_structured, plan_divergence
from monitors.audit.report import ACTIVE, SessionState, build_finding, session_span, session_state
from monitors.audit.sequence import Session, Waste, build_session, excerpt, numbered_steps
from monitors.audit.spool import SessionSpool
from monitors.audit.text import compile_patterns
from monitors.audit.usual import HISTORY_KEY, MAX_AGENTS, UsualCounts
from monitors.contracts.findings import Finding, RunWindow, Severity
from monitors.contracts.monitor import RunContext
from monitors.contracts.records import Observation
from monitors.contracts.source import ObservationQuery, Score

__all__ = [
    "CHECKS",
    "HISTORY_KEY",
    "BacktrackConfig",
    "ErrorStormConfig",
    "LoopConfig",
    "PlanConfig",
    "RepeatConfig",
    "RunawayConfig",
    "ToolSequenceConfig",
    "ToolSequenceMonitor",
]
MAX_TOOL_NAMES = 200  # tool names kept per agent for the claims check
_FIELDS = frozenset({"core", "basic", "io", "usage", "metadata", "trace_context"})


class ToolSequenceMonitor:
    name: ClassVar[str] = "audit"
    Config: ClassVar[type[BaseModel]] = ToolSequenceConfig

    def __init__(self, config: ToolSequenceConfig | None = None) -> None:
        self.config = config or ToolSequenceConfig()
        self._operations = {**operations.DEFAULT_OPERATIONS, **self.config.backtrack.operations}
        soft = self.config.soft_failure
        self._soft_patterns = compile_patterns(soft.patterns) if soft.enabled else ()
        self._status = shell.StatusCommands(self.config.polling.status_commands)
        self._similarity: conversation.EmbeddingSimilarity | None = None
        # Tool names each agent called in this run's window: what its tools can name, for the claims
        # check (a session's own calls may never name the bags its agent could have added).
        self._toolsets: dict[str, set[str]] = {}

    def _note_tool(self, obs: Observation, agent_key: str) -> None:
        if obs.type != "TOOL" or not obs.name:
            return
        agent = str((obs.metadata or {}).get(agent_key) or obs.trace_name or "unknown")[:100]
        names = self._toolsets.get(agent)
        if names is None:
            if len(self._toolsets) >= MAX_AGENTS:
                return
            names = self._toolsets[agent] = set()
        if len(names) < MAX_TOOL_NAMES:
            names.add(obs.name)

    def run(self, ctx: RunContext) -> Iterator[Finding]:
        plan_key, agent_key = ctx.meta_key("plan"), ctx.meta_key("feature")
        # A session that crosses the window's start (a daily run at midnight) is read whole and audited
        # once it is in this window; the previous run saw only its first part.
        window = RunWindow(ctx.window.start - self.config.session_lookback, ctx.window.end)
        query = ObservationQuery(
            window=window, types=("TOOL", "GENERATION"), fields=_FIELDS, expand_metadata=(plan_key,)
        )
        history = UsualCounts(ctx.state.get(HISTORY_KEY), self.config.runaway.history_size)
        talk = self.config.conversation
        self._similarity = (
            conversation.EmbeddingSimilarity(talk.embedding_model, cache=ctx.embedding_cache)
            if talk.similarity == "embedding"
            else None
        )
        self._toolsets = {}
        with SessionSpool() as spool:
            for obs in ctx.source.observations(query):
                spool.add(obs)
                self._note_tool(obs, agent_key)
            ctx.count("audit.observations", spool.rows)
            for key in spool.session_keys(active_since=ctx.window.start):
                session = build_session(key, spool.observations(key), plan_key=plan_key, agent_key=agent_key)
                yield from self._session(ctx, session, history)
        ctx.state.put(HISTORY_KEY, history.to_json())
        if self._similarity is not None and self._similarity.loaded:
            ctx.count("audit.replies_embedded", self._similarity.embedded)

    def _session(self, ctx: RunContext, session: Session, history: UsualCounts) -> Iterable[Finding]:
        if len(session.calls) < self.config.min_tool_calls:
            # Too few calls to judge the calls, but a short session can still talk in circles or claim
            # work it did not do: what the agent says is read whenever there is enough of it.
            if not (self._talk_possible(session) or self._monologue_possible(session)):
                ctx.count("audit.sessions_skipped_short")
                return []
            ctx.count("audit.sessions_audited_talk_only")
            return list(self._talk_only(ctx, session))
        ctx.count("audit.sessions_audited")
        count = len(session.calls)
        if count > self.config.max_calls_per_session:
            ctx.count("audit.calls_not_audited", count - self.config.max_calls_per_session)
            session.calls = session.calls[: self.config.max_calls_per_session]
        findings = list(self._audit(ctx, session, count, history.past(session.agent, session.key)))
        history.remember(session.agent, session.key, count)
        return findings

    def _audit(self, ctx: RunContext, session: Session, count: int, past: list[int]) -> Iterator[Finding]:
        cfg, calls = self.config, session.calls
        found: dict[str, list[checks.Issue]] = {}
        polled = polling.find_polling(
            calls, operations=self._operations, waiting_tools=cfg.polling.waiting_tools, status=self._status
        )
        if cfg.loop.enabled:
            found["loop"] = checks.find_loops(
                calls,
                min_cycles=cfg.loop.min_cycles,
                max_period=cfg.loop.max_period,
                ignore=cfg.loop.ignore_tools,
                polling=polled.steps,
            )
        if cfg.repeat.enabled:
            claimed = {s for issue in found.get("loop", []) for s in issue.steps}
            found["repeat"] = checks.find_repeats(
                calls,
                window_steps=cfg.repeat.window_steps,
                window_seconds=cfg.repeat.window if session.timed else None,
                same_answer_steps=cfg.repeat.same_answer_steps,
                allowed_retries=cfg.repeat.allowed_retries,
                ignore=cfg.repeat.ignore_tools,
                claimed=claimed,
                operations=self._operations,
                polling=polled.steps,
            )
        if cfg.polling.enabled:
            found["polling"] = checks.find_long_polling(polled.runs, min_polls=cfg.polling.min_polls)
        if cfg.backtrack.enabled:
            found["backtrack"] = backtrack.find_backtracking(
                calls,
                operations=self._operations,
                resource_args=tuple(cfg.backtrack.resource_args),
                reread_gap=cfg.backtrack.reread_gap,
            )
            found["backtrack"] += backtrack.find_redone(calls, operations=self._operations)
        if cfg.error_storm.enabled or cfg.soft_failure.enabled:
            for issue in checks.find_failure_runs(
                calls,
                min_errors=cfg.error_storm.min_errors,
                soft_patterns=self._soft_patterns,
                operations=self._operations,
            ):
                if getattr(cfg, issue.check).enabled:
                    found.setdefault(issue.check, []).append(issue)
        found.update(self._conversation(session))
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
        if cfg.conversation.enabled:
            yield from self._monologue(ctx, session)
        if cfg.plan.enabled:
            yield from self._plan(ctx, session)

    def _conversation(self, session: Session) -> dict[str, list[checks.Issue]]:
        cfg, found, calls = self.config, {}, session.calls
        if cfg.conversation.enabled:
            similarity, threshold = self._compare()
            found["conversation_loop"] = conversation.find_conversation_loops(
                calls,
                similarity,
                threshold=threshold,
                min_replies=cfg.conversation.min_replies,
                min_repeats=cfg.conversation.min_repeats,
            )
        if cfg.claims.enabled:
            found["claimed_not_done"] = claimed.find_claimed_not_done(
                calls, operations=self._operations, toolset=self._toolsets.get(session.agent, ())
            )
        return found

    def _talk_only(self, ctx: RunContext, session: Session) -> Iterator[Finding]:
        """The checks that read what the agent says, for a session too short for the others."""
        for check, issues in self._conversation(session).items():
            if issues:
                yield self._finding(ctx, session, check, issues)
        if self.config.conversation.enabled:
            yield from self._monologue(ctx, session)

    def _talk_possible(self, session: Session) -> bool:
        """Replies to the user (conversation loops need a stretch of them; a claim needs one)."""
        cfg = self.config
        replies = conversation.longest_stretch(session.calls)
        return (cfg.conversation.enabled and replies >= cfg.conversation.min_replies) or (
            cfg.claims.enabled and replies > 0
        )

    def _compare(self, *, monologue: bool = False) -> tuple[conversation.Similarity, float]:
        """The text similarity in use and its threshold."""
        cfg = self.config.conversation
        if self._similarity is not None:
            return self._similarity, cfg.embedding_threshold
        return conversation.lexical_similarity, cfg.monologue_threshold if monologue else cfg.threshold

    def _monologue_possible(self, session: Session) -> bool:
        """Enough model turns between the same two tool calls to repeat themselves."""
        cfg = self.config.conversation
        if not cfg.enabled or len(session.generations) < cfg.min_replies:
            return False
        per_gap: dict[int, int] = {}
        for gen in session.generations:
            per_gap[gen.after_calls] = per_gap.get(gen.after_calls, 0) + 1
        return max(per_gap.values()) >= cfg.min_replies

    def _monologue(self, ctx: RunContext, session: Session) -> Iterator[Finding]:
        cfg = self.config.conversation
        if not self._monologue_possible(session):
            return
        similarity, threshold = self._compare(monologue=True)
        found = conversation.find_monologue(
            session.generations,
            similarity,
            threshold=threshold,
            min_turns=cfg.min_replies,
            min_repeats=cfg.min_repeats,
        )
        if found is None:
            return
        turns, note = found
        waste = Waste(len(turns), None, sum(g.tokens for g in turns), round(sum(g.cost for g in turns), 6))
        issue = checks.Issue("monologue", (), note)
        yield self._finding(ctx, session, "monologue", [issue], waste=waste)

    def _state(self, ctx: RunContext, session: Session) -> SessionState:
        return session_state(session, window=ctx.window, now=ctx.now, active_within=self.config.active_within)

    def _active(self, ctx: RunContext, session: Session) -> bool:
        """Still running: an observation with a real time close to the window's end."""
        return self._state(ctx, session).state == ACTIVE

    def _severity(self, ctx: RunContext, session: Session, check: str, wasted: int) -> Severity:
        if check not in self.config.alert_checks:
            return Severity.INFO
        if check in LOOPING and not self._active(ctx, session):
            return Severity.INFO  # over: a pattern for the weekly report, not a page
        if check == "claimed_not_done":
            return Severity.INFO if self._active(ctx, session) else Severity.WARNING
        return Severity.CRITICAL if wasted >= self.config.critical_wasted_steps else Severity.WARNING

    def _finding(
        self,
        ctx: RunContext,
        session: Session,
        check: str,
        issues: list[checks.Issue],
        *,
        waste: Waste | None = None,
    ) -> Finding:
        ctx.count(f"audit.findings.{check}")
        wasted = waste.steps if waste is not None else len({s for issue in issues for s in issue.steps})
        return build_finding(
            session,
            check,
            issues,
            severity=self._severity(ctx, session, check, wasted),
            now=ctx.now,
            window=session_span(session, ctx.window),
            trace_url=ctx.source.trace_url(session.trace_id),
            waste=waste,
            state=self._state(ctx, session),
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
            window=session_span(session, ctx.window),
            trace_url=ctx.source.trace_url(session.trace_id),
            extra_evidence={"score": result.score, "planned": result.planned, "missed": len(result.missed)},
            extra_summary=head,
            state=self._state(ctx, session),
        )


def _plan_score(trace_id: str, name: str, value: float, ctx: RunContext) -> Score:
    # Deterministic id: a rerun overwrites the score instead of adding another.
    sid = hashlib.sha256(f"{trace_id}:{name}".encode()).hexdigest()[:32]
    return Score(id=sid, trace_id=trace_id, name=name, value=value, timestamp=ctx.now)

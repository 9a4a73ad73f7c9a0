"""The audit's configuration (`monitors.audit` in monitors.yaml): one model per check, extra keys refused."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from monitors.audit import operations
from monitors.audit.polling import WAITING_TOOLS
from monitors.audit.shell import STATUS_COMMANDS, parse_pattern
from monitors.audit.text import SOFT_FAILURE_PATTERNS
from monitors.contracts.values import Duration

CHECKS = (
    "repeat", "loop", "backtrack", "runaway", "error_storm", "soft_failure", "plan",
    "conversation_loop", "monologue", "claimed_not_done", "polling",
)  # fmt: skip
# Checks whose findings are notes, never waste (INFO context for the weekly report): not findings when
# the audit is measured against labels.
NOTES = frozenset({"polling"})
# Checks whose findings mean "the agent is stuck in a loop": sent at once only while the session runs.
LOOPING = frozenset({"conversation_loop", "monologue"})
_OPS = frozenset({"read", "list", "stat", "search", "write", "create", "edit", "delete", "move", "undo", "exec"})


class _Check(BaseModel):
    model_config = ConfigDict(extra="forbid")
    enabled: bool = Field(True, description="Run this check.")


class RepeatConfig(_Check):
    window_steps: int = Field(5, ge=1, description="Repeats this many steps apart count (no real timestamps).")
    window: Duration = Field(timedelta(minutes=10), description="Repeats this close in time count (real timestamps).")
    same_answer_steps: int | None = Field(
        20,
        ge=1,
        description="Without real timestamps, a repeat that gets the same answer as an earlier call that worked "
        "counts this many steps apart (null: window_steps for every repeat).",
    )
    allowed_retries: int = Field(
        0, ge=0, description="Identical retries that fail the same way again before they count as waste."
    )
    ignore_tools: list[str] = Field(default_factory=list, description="Tools never reported as repeats.")


class LoopConfig(_Check):
    min_cycles: int = Field(2, ge=2, description="Times a cycle must run to be a loop (A B A B is 2).")
    max_period: int = Field(4, ge=2, le=8, description="Longest cycle looked for, in calls.")
    ignore_tools: list[str] = Field(default_factory=list, description="Tools that never form a loop.")


class PollingConfig(_Check):
    min_polls: int = Field(
        20,
        ge=2,
        description="A status read polled this many times (checked, waited, checked again) gets a note in the "
        "weekly report (INFO). Polling itself is never a loop or a repeat, whatever this says.",
    )
    waiting_tools: list[str] = Field(
        default_factory=lambda: sorted(WAITING_TOOLS),
        description="Tools that only wait (a shell command `sleep N` waits too): a read checked again after "
        "one of them is polling.",
    )
    status_commands: list[str] = Field(
        default_factory=lambda: list(STATUS_COMMANDS),
        description="Shell commands that only read a status: the program, then the words that must follow it "
        "(options and their values may come between; a word may hold * and ?, `curl *status*`). Run through a "
        "shell tool (`Bash`, `execute_bash`, ...), also under `timeout`, `watch`, `bash -c`, `VAR=x` or after "
        "`sleep N &&`, and checked again while waiting, they are polling, not a loop or a repeat. The list "
        "replaces the defaults.",
    )

    @field_validator("status_commands")
    @classmethod
    def _patterns(cls, value: list[str]) -> list[str]:
        for pattern in value:
            parse_pattern(pattern)  # ValueError names the pattern
        return value


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
    reread_gap: int = Field(
        1, ge=1, description="A delete this many steps after creating the same file is backtracking."
    )

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
    min_errors: int = Field(
        3, ge=2, description="Failing calls that make a storm, counted through replies, notes and other reads."
    )


class SoftFailureConfig(_Check):
    patterns: list[str] = Field(
        default_factory=lambda: list(SOFT_FAILURE_PATTERNS),
        description="Regular expressions (case-insensitive) matched at the start of a tool's answer that "
        "mean it failed although the call succeeded. Runs of error_storm.min_errors such failures are "
        "reported as soft_failure.",
    )

    @field_validator("patterns")
    @classmethod
    def _compiles(cls, value: list[str]) -> list[str]:
        for pattern in value:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"bad pattern {pattern!r}: {exc}") from exc
        return value


class ConversationConfig(_Check):
    similarity: Literal["lexical", "embedding"] = Field(
        "lexical",
        description="How replies are compared: 'lexical' (cosine of word and word-pair counts, no model) or "
        "'embedding' (all-MiniLM-L6-v2 sentence embeddings, loaded only when a session has enough replies in a "
        "row; several times the CPU of the rest of the audit, see docs/audit-evaluation.md).",
    )
    threshold: float = Field(
        0.4, gt=0, le=1, description="Lexical cosine at which a reply says again what an earlier one said."
    )
    embedding_threshold: float = Field(0.8, gt=0, le=1, description="The same, for similarity: embedding.")
    min_replies: int = Field(3, ge=2, description="Replies in a row (no action between) before looking for loops.")
    min_repeats: int = Field(2, ge=1, description="Repeated replies in a session that make a conversation loop.")
    monologue_threshold: float = Field(
        0.6, gt=0, le=1, description="Lexical cosine at which model turns with no tool call between repeat."
    )
    embedding_model: str | None = Field(
        None, description="Model for similarity: embedding (default: the bundled all-MiniLM-L6-v2)."
    )


class ClaimsConfig(_Check):
    pass


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

    min_tool_calls: int = Field(
        5,
        ge=1,
        description="Skip sessions with fewer tool calls than this (the conversation checks still read their replies).",
    )
    session_lookback: Duration = Field(
        timedelta(hours=6),
        description="Read this far before the window so a session that began in the previous window is "
        "audited whole; sessions that ended before the window are left to the run that saw them end.",
    )
    alert_checks: list[str] = Field(
        default_factory=lambda: ["loop", "runaway", "claimed_not_done", "conversation_loop", "monologue"],
        description="Checks sent right away; others are INFO for the weekly report. claimed_not_done is sent "
        "once the session has ended (the agent may still do the work); conversation_loop and monologue while "
        "the session is still running (afterwards they are report material).",
    )
    active_within: Duration = Field(
        timedelta(minutes=15),
        description="A session with an observation this close to the window's end is still running.",
    )
    critical_wasted_steps: int = Field(10, ge=1, description="An alerting finding this wasteful is CRITICAL.")
    max_calls_per_session: int = Field(20000, ge=10, description="Calls audited per session (the rest counted).")
    repeat: RepeatConfig = Field(default_factory=RepeatConfig, description="Repeated identical calls.")
    loop: LoopConfig = Field(default_factory=LoopConfig, description="Cycles of 2-4 calls repeated.")
    polling: PollingConfig = Field(
        default_factory=PollingConfig, description="Polling: what is not a loop, and when it is worth a note."
    )
    backtrack: BacktrackConfig = Field(default_factory=BacktrackConfig, description="Contradicting operations.")
    runaway: RunawayConfig = Field(default_factory=RunawayConfig, description="Too many tool calls.")
    error_storm: ErrorStormConfig = Field(default_factory=ErrorStormConfig, description="Failures in a row.")
    soft_failure: SoftFailureConfig = Field(
        default_factory=SoftFailureConfig, description="Answers that say the call failed although it succeeded."
    )
    conversation: ConversationConfig = Field(
        default_factory=ConversationConfig, description="Conversation loops and monologue."
    )
    claims: ClaimsConfig = Field(default_factory=ClaimsConfig, description="Replies claiming work no call did.")
    plan: PlanConfig = Field(default_factory=PlanConfig, description="Plan versus actions.")

    @field_validator("alert_checks")
    @classmethod
    def _known_checks(cls, value: list[str]) -> list[str]:
        bad = [v for v in value if v not in CHECKS]
        if bad:
            raise ValueError(f"unknown check(s) {', '.join(bad)}; use one of {', '.join(CHECKS)}")
        return value

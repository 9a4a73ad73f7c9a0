"""Turning a list of tool calls into a session: traces with generations around the calls.

A session is one agent task. Its calls are split over one to three traces (the agent's turns); each
trace opens with a planning generation and has a generation before most tool calls, the way a ReAct
loop alternates thinking and acting.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from demo_gen.base import TAGS, Ctx, ToolCall, TraceBuilder, TraceContext, encode_metadata
from monitors.contracts.records import Observation


@dataclass
class SessionSpec:
    """Who runs a session, when, and with which metadata (plain values; encoding is applied here)."""

    agent: str
    day: date
    start: datetime
    metadata: dict[str, str]
    user: str | None = None
    session_id: str | None = None
    traces: int = 1
    json_metadata: bool = False
    environment: str = "production"
    last_trace_metadata: dict[str, str] = field(default_factory=dict)  # e.g. mr_iid, known at the end


def split_calls(calls: Sequence[ToolCall], parts: int) -> list[list[ToolCall]]:
    parts = max(1, min(parts, len(calls)))
    size, extra = divmod(len(calls), parts)
    chunks, index = [], 0
    for i in range(parts):
        n = size + (1 if i < extra else 0)
        chunks.append(list(calls[index : index + n]))
        index += n
    return chunks


def build_session(
    ctx: Ctx, spec: SessionSpec, calls: Sequence[ToolCall], *, think: float = 0.6
) -> tuple[list[Observation], str]:
    """Observations of one session (not yet committed) and the user it runs as."""
    user = spec.user or ctx.pick_user(spec.agent, spec.day)
    session_id = spec.session_id or ctx.session_id(spec.agent, spec.day)
    rows: list[Observation] = []
    start = spec.start
    chunks = split_calls(calls, spec.traces) if calls else [[]] * spec.traces
    for index, chunk in enumerate(chunks):
        meta = dict(spec.metadata)
        if index == len(chunks) - 1:
            meta.update(spec.last_trace_metadata)
        tc = TraceContext(
            agent=spec.agent,
            user=user,
            session_id=session_id,
            metadata=encode_metadata(meta, json_encoded=spec.json_metadata),
            environment=spec.environment,
            tags=TAGS[spec.agent],
        )
        builder = TraceBuilder(ctx, tc, start)
        builder.agent_generation("plan")
        for call in chunk:
            if ctx.rng.random() < think:
                builder.agent_generation("think")
            builder.tool(call)
        builder.agent_generation("summarize")
        rows.extend(builder.finish(output="done" if index == len(chunks) - 1 else "continuing"))
        # The next turn starts after the agent's orchestrator picks the task up again.
        start = builder.cursor + timedelta(seconds=ctx.rng.randint(20, 240))
    return rows, user


def emit_session(ctx: Ctx, spec: SessionSpec, calls: Sequence[ToolCall], *, think: float = 0.6) -> float:
    """Build and commit a session; returns its cost."""
    rows, user = build_session(ctx, spec, calls, think=think)
    return ctx.commit(rows, day=spec.day, user=user, agent=spec.agent)


def session_of(rows: Sequence[Observation]) -> str | None:
    return rows[0].session_id if rows else None


def plan_text(steps: Sequence[str]) -> str:
    """The numbered plan an agent states before acting, one step per line, as one metadata string."""
    return "\n".join(f"{i}. {step}" for i, step in enumerate(steps, start=1))


def merge_metadata(*parts: Mapping[str, str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in parts:
        out.update(part)
    return out

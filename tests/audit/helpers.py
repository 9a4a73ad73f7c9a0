"""Builders for tool-call sequences and observation streams used by the audit tests."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from monitors.audit.sequence import ToolCall, make_call
from monitors.contracts.records import Observation

T0 = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)
TRAJECTORIES = str(Path(__file__).resolve().parents[2] / "data" / "agent_trajectories" / "trajectories.jsonl")


def seq(*specs: tuple[Any, ...], seconds: float | None = None) -> list[ToolCall]:
    """Calls from (name, args[, output[, is_error]]) tuples; timed `seconds` apart when given."""
    out = []
    for i, spec in enumerate(specs):
        name, args = spec[0], spec[1]
        output = spec[2] if len(spec) > 2 else f"ok {name}"
        error = bool(spec[3]) if len(spec) > 3 else False
        when = T0 + timedelta(seconds=seconds * i) if seconds is not None else None
        out.append(make_call(i + 1, name, args, output, time=when, is_error=error, tokens=100, cost=0.001))
    return out


def session_observations(
    session: str, names: Sequence[str], *, start: datetime = T0, agent: str = "bot", gap: float = 10.0
) -> list[Observation]:
    """A GENERATION then a TOOL per name, `gap` seconds apart, arguments varying by step."""
    trace = f"trace-{session}"
    out: list[Observation] = []
    for i, name in enumerate(names):
        when = start + timedelta(seconds=gap * i)
        meta = {"feature": agent}
        out.append(
            Observation(
                id=f"{session}-g{i}",
                trace_id=trace,
                type="GENERATION",
                start_time=when,
                session_id=session,
                trace_name=agent,
                usage={"input": 90, "output": 10, "total": 100},
                total_cost=0.002,
                metadata=meta,
            )
        )
        out.append(
            Observation(
                id=f"{session}-t{i}",
                trace_id=trace,
                type="TOOL",
                start_time=when + timedelta(seconds=1),
                end_time=when + timedelta(seconds=2),
                name=name,
                session_id=session,
                trace_name=agent,
                metadata=meta,
                input={"query": f"q{i}"},
                output=f"result {i}",
            )
        )
    return out

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


def shell_observations(
    session: str,
    steps: Sequence[tuple[Any, ...]],
    *,
    tool: str = "Bash",
    start: datetime = T0,
    gap: float = 40.0,
    agent: str = "claude-code",
) -> list[Observation]:
    """A coding agent's session as Claude Code logs it: per step the model turn that chose the call, then
        a TOOL `Bash` whose input is {"command", "description"} and whose output is what the shell printed
        (level ERROR on a non-zero exit). Steps are (command, output[, is_error[, description]]), the description
    "Run <command>" unless given; a step whose
        command is a dict is that tool input as is (OpenHands' `execute_bash` has {"command", "is_input"})."""
    out: list[Observation] = []
    meta = {"feature": agent}
    for i, spec in enumerate(steps):
        command, output = spec[0], spec[1]
        error = bool(spec[2]) if len(spec) > 2 else False
        described = spec[3] if len(spec) > 3 else f"Run {str(command)[:40]}"
        when = start + timedelta(seconds=gap * i)
        args = command if isinstance(command, dict) else {"command": command, "description": described}
        out.append(
            Observation(
                id=f"{session}-g{i}", trace_id=f"trace-{session}", type="GENERATION", start_time=when,
                end_time=when + timedelta(seconds=2), session_id=session, trace_name=agent, metadata=meta,
                usage={"input": 2400, "output": 60, "total": 2460}, total_cost=0.0081, output=f"Running step {i + 1}.",
            )
        )  # fmt: skip
        out.append(
            Observation(
                id=f"{session}-t{i}", trace_id=f"trace-{session}", type="TOOL", name=tool,
                start_time=when + timedelta(seconds=3), end_time=when + timedelta(seconds=5), session_id=session,
                trace_name=agent, metadata=meta, input=args, output=output, level="ERROR" if error else "DEFAULT",
            )
        )  # fmt: skip
    return out

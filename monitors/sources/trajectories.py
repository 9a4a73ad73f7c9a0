"""Convert the public agent trajectories (data/agent_trajectories/trajectories.jsonl) into Langfuse
observations, so the audit runs on real agent behaviour through the same replay path as live data.

Each session becomes one trace:
- a root AGENT observation carrying the session metadata (objective, plan, outcome, source);
- per step, a GENERATION (the model turn that chose the action; its output is the step's `thought`)
  with small synthetic token usage and cost, then a TOOL observation (name = tool, input = args,
  output = result, level ERROR when `is_error`).

Only the OpenHands sessions have real timestamps; for the others start times are synthesized at a
fixed cadence and the observations carry `time_synthetic: true`, so the audit reports wasted *steps*
rather than invented seconds. Token counts and costs are synthetic too (gpt-4o list prices over a
growing context) and exist only so "dollars spent on wasted steps" can be computed end to end.

Metadata follows SDK v5's propagate_attributes: the small session keys (`feature`, `plan`) are copied
onto every observation; `objective`, `outcome` and the source URL stay on the root. `args_sha1` (the
dataset's hash of the untruncated arguments, which are cut at 500 characters) rides on each TOOL.

The output is deterministic: ids are hashes of the session id and step index, times derive from a
fixed base. Malformed lines are counted in `ConvertStats` and skipped.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from monitors.contracts.records import Observation, observation_to_row, parse_observation, parse_time_or_none

BASE_TIME = datetime(2025, 6, 2, 8, 0, tzinfo=UTC)  # a Monday: replays fall in one week
SESSION_GAP = timedelta(minutes=15)  # distance between synthesized session starts
CADENCE = timedelta(seconds=20)  # one model turn plus one tool call, when the source has no times
PROJECT_ID = "trajectories"
# gpt-4o list prices (USD per token) for the synthetic generation cost.
INPUT_PRICE = 2.5e-6
OUTPUT_PRICE = 10e-6


@dataclass
class ConvertStats:
    """What a conversion read and skipped."""

    sessions: int = 0
    steps: int = 0
    malformed: int = 0
    malformed_examples: list[str] = field(default_factory=list)

    def skip(self, reason: str) -> None:
        self.malformed += 1
        if len(self.malformed_examples) < 5:
            self.malformed_examples.append(reason[:200])


def _hex(*parts: object, size: int = 32) -> str:
    return hashlib.sha1(":".join(str(p) for p in parts).encode()).hexdigest()[:size]


def agent_name(session_id: str) -> str:
    """The agent family of a session: its id prefix (`swe-agent`, `tau-bench`, ...)."""
    return session_id.split("/", 1)[0] or "unknown"


def _tokens(text: str | None) -> int:
    # ~4 characters per token is the usual rule of thumb; exactness does not matter here.
    return max(1, len(text or "") // 4)


def _step_times(steps: list[Mapping[str, Any]], start: datetime) -> tuple[list[datetime], bool]:
    """Start time of each tool call, and whether they were synthesized."""
    real = [parse_time_or_none(s.get("timestamp")) for s in steps]
    if real and all(t is not None for t in real):
        return [t for t in real if t is not None], False
    return [start + CADENCE * i + CADENCE / 2 for i in range(len(steps))], True


def _session_meta(session: Mapping[str, Any]) -> dict[str, Any]:
    shared: dict[str, Any] = {"feature": agent_name(str(session["session_id"]))}
    if isinstance(session.get("plan"), str) and session["plan"].strip():
        shared["plan"] = session["plan"]
    return shared


def _root(session: Mapping[str, Any], first: datetime, last: datetime) -> Observation:
    sid = str(session["session_id"])
    meta = _session_meta(session)
    meta.update(
        objective=session.get("objective"),
        outcome=session.get("outcome"),
        source=session.get("source"),
    )
    return Observation(
        id=_hex(sid, "root", size=16),
        trace_id=_hex(sid),
        type="AGENT",
        start_time=first,
        end_time=last,
        project_id=PROJECT_ID,
        name=agent_name(sid),
        session_id=sid,
        trace_name=agent_name(sid),
        metadata=meta,
        input=session.get("objective"),
        is_root=True,
    )


def _step_pair(
    session: Mapping[str, Any], step: Mapping[str, Any], i: int, when: datetime, synthetic: bool
) -> tuple[Observation, Observation]:
    sid = str(session["session_id"])
    trace_id, root_id = _hex(sid), _hex(sid, "root", size=16)
    shared = _session_meta(session)
    if synthetic:
        shared["time_synthetic"] = True
    thought = step.get("thought") if isinstance(step.get("thought"), str) else None
    args = step.get("args")
    # Context grows with every turn; the output is the thought plus the call itself.
    tokens_in = 800 + 150 * i
    tokens_out = _tokens(thought) + _tokens(str(args)) + 10
    gen_start = when - min(CADENCE / 2, timedelta(seconds=2))
    generation = Observation(
        id=_hex(sid, "gen", i, size=16),
        trace_id=trace_id,
        type="GENERATION",
        start_time=gen_start,
        end_time=when,
        project_id=PROJECT_ID,
        parent_id=root_id,
        name="decide",
        session_id=sid,
        trace_name=agent_name(sid),
        model="synthetic-gpt-4o",
        usage={"input": tokens_in, "output": tokens_out, "total": tokens_in + tokens_out},
        total_cost=round(tokens_in * INPUT_PRICE + tokens_out * OUTPUT_PRICE, 8),
        metadata=dict(shared, step=i),
        output=thought,
    )
    duration = step.get("duration_s")
    seconds = float(duration) if isinstance(duration, int | float) and duration >= 0 else 1.0
    tool_meta = dict(shared, step=i, kind=step.get("kind") or "tool_call")
    if step.get("args_sha1"):
        tool_meta["args_sha1"] = str(step["args_sha1"])
    tool = Observation(
        id=_hex(sid, "tool", i, size=16),
        trace_id=trace_id,
        type="TOOL",
        start_time=when,
        end_time=when + timedelta(seconds=min(seconds, 3600.0)),
        project_id=PROJECT_ID,
        parent_id=root_id,
        name=str(step.get("tool") or "unknown"),
        level="ERROR" if step.get("is_error") else "DEFAULT",
        session_id=sid,
        trace_name=agent_name(sid),
        metadata=tool_meta,
        input=args,
        output=step.get("result"),
    )
    return generation, tool


def convert_session(session: Mapping[str, Any], ordinal: int) -> list[Observation]:
    """Observations for one trajectory session; raise ValueError when it is unusable."""
    if not isinstance(session, Mapping) or not session.get("session_id"):
        raise ValueError("session_id: missing")
    steps = session.get("steps")
    if not isinstance(steps, list) or not all(isinstance(s, Mapping) for s in steps):
        raise ValueError(f"{session['session_id']}: steps must be a list of objects")
    start = BASE_TIME + SESSION_GAP * ordinal
    times, synthetic = _step_times(steps, start)
    out: list[Observation] = []
    for i, (step, when) in enumerate(zip(steps, times, strict=True)):
        out.extend(_step_pair(session, step, i, when, synthetic))
    first = min((o.start_time for o in out), default=start)
    last = max((o.end_time or o.start_time for o in out), default=start)
    return [_root(session, first - timedelta(seconds=1), last), *out]


def iter_sessions(lines: Iterable[str], stats: ConvertStats | None = None) -> Iterator[dict[str, Any]]:
    """Parsed session objects from JSONL lines; bad lines are counted and skipped."""
    stats = stats if stats is not None else ConvertStats()
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except ValueError:
            stats.skip(f"line {number}: not JSON")
            continue
        if not isinstance(value, dict):
            stats.skip(f"line {number}: not an object")
            continue
        yield value


def convert_lines(lines: Iterable[str], stats: ConvertStats | None = None) -> Iterator[Observation]:
    """Observations for every session in `lines` (JSONL), in file order."""
    stats = stats if stats is not None else ConvertStats()
    ordinal = 0
    for session in iter_sessions(lines, stats):
        try:
            observations = convert_session(session, ordinal)
        except ValueError as exc:
            stats.skip(str(exc))
            continue
        ordinal += 1
        stats.sessions += 1
        stats.steps += len(session["steps"])
        # Through the wire format and back, so in-memory use and a replay file see identical records
        # (v2 returns input/output as strings that the parser JSON-decodes).
        for obs in observations:
            yield parse_observation(observation_to_row(obs))


def convert_file(path: str | Path, stats: ConvertStats | None = None) -> Iterator[Observation]:
    """Observations for every session of a trajectories.jsonl file."""
    with open(path, encoding="utf-8") as handle:
        yield from convert_lines(handle, stats)


def write_export(observations: Iterable[Observation], path: str | Path) -> int:
    """Write observations as an export file (one Observations v2 row per line); return the count."""
    count = 0
    with open(path, "w", encoding="utf-8") as handle:
        for obs in observations:
            handle.write(json.dumps(observation_to_row(obs), ensure_ascii=False, sort_keys=True))
            handle.write("\n")
            count += 1
    return count

"""Shared pieces of the demo-data generator: calendar, agents, users, prices and the trace builder.

Everything random goes through one `random.Random(SEED)` owned by `Ctx`, and every timestamp is
derived from fixed dates, so the same code always writes the same bytes.
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from monitors.contracts.records import METADATA_VALUE_LIMIT, Observation

SEED = 20261122
PROJECT_ID = "cm3demo7p0000monitors0001"
FIRST_DAY = date(2026, 11, 2)  # 14 baseline days, then the demo week
DEMO_WEEK_START = date(2026, 11, 16)  # Monday
LAST_DAY = date(2026, 11, 22)  # Sunday; the data ends 2026-11-22T23:59Z
DAYS = tuple(FIRST_DAY + timedelta(days=i) for i in range(21))

# List prices in USD per million tokens (input, output), as Langfuse's model table has them.
PRICES: Mapping[str, tuple[float, float]] = {
    "gpt-4o": (2.50, 10.00),
    "gpt-4o-mini": (0.15, 0.60),
    "claude-sonnet-4": (3.00, 15.00),
    "claude-opus-4": (15.00, 75.00),
}

AGENTS = ("pipeline-medic", "mr-review", "llm-fix", "issue-executor", "release-notes")
TOOL_AGENTS = ("pipeline-medic", "llm-fix", "issue-executor")
HUMANS = ("alice", "bruno", "chen", "dana", "emeka", "farah")
# Who a trace runs as: the agent's service account or the person who triggered it.
USER_POOLS: Mapping[str, tuple[str, ...]] = {
    "pipeline-medic": ("svc-pipeline-medic", "alice", "bruno", "chen"),
    "mr-review": ("svc-mr-review", "dana", "emeka", "farah", "alice"),
    "llm-fix": ("svc-llm-fix", "bruno", "chen", "dana"),
    "issue-executor": ("svc-issue-executor", "emeka", "farah", "alice", "bruno"),
    "release-notes": ("svc-release-notes", "chen", "farah"),
}
TAGS: Mapping[str, tuple[str, ...]] = {
    "pipeline-medic": ("ci", "autofix"),
    "mr-review": ("review",),
    "llm-fix": ("autofix", "code-change"),
    "issue-executor": ("issues", "code-change"),
    "release-notes": ("docs",),
}
# (model, weight, input-token range, output-token range) per agent.
GEN_PROFILES: Mapping[str, tuple[tuple[str, int, tuple[int, int], tuple[int, int]], ...]] = {
    "pipeline-medic": (("gpt-4o-mini", 2, (6000, 16000), (200, 600)), ("gpt-4o", 3, (4000, 9000), (250, 700))),
    "mr-review": (("claude-sonnet-4", 1, (7000, 15000), (400, 1100)),),
    "llm-fix": (("claude-sonnet-4", 3, (5000, 11000), (250, 800)), ("gpt-4o-mini", 1, (3000, 8000), (100, 400))),
    "issue-executor": (("gpt-4o", 3, (5000, 11000), (300, 800)), ("gpt-4o-mini", 1, (3000, 9000), (150, 500))),
    "release-notes": (("gpt-4o", 1, (4000, 9000), (500, 1200)),),
}
REPOS = ("platform/api", "platform/web", "platform/billing")


def cost_of(model: str, tokens_in: int, tokens_out: int) -> float:
    price_in, price_out = PRICES[model]
    return round((tokens_in * price_in + tokens_out * price_out) / 1_000_000, 6)


def encode_metadata(meta: Mapping[str, str], *, json_encoded: bool) -> dict[str, str]:
    """Metadata as Langfuse serves it: optionally JSON-encoded (SDK v5), cut at 200 characters."""
    out: dict[str, str] = {}
    for key, value in meta.items():
        text = json.dumps(value) if json_encoded else value
        out[key] = text[:METADATA_VALUE_LIMIT]
    return out


def at(day: date, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=UTC)


@dataclass(frozen=True)
class ToolCall:
    """One planned tool call; `error` makes it a failed call (level ERROR, statusMessage)."""

    name: str
    args: Mapping[str, Any]
    result: str
    error: str | None = None


@dataclass
class Ctx:
    """The generator's state: the random stream, the rows so far and running spend per day."""

    rng: random.Random = field(default_factory=lambda: random.Random(SEED))
    observations: list[Observation] = field(default_factory=list)
    user_spend: dict[tuple[date, str], float] = field(default_factory=lambda: defaultdict(float))
    agent_spend: dict[tuple[date, str], float] = field(default_factory=lambda: defaultdict(float))
    planted: list[dict[str, Any]] = field(default_factory=list)
    sequence: int = 0

    def new_id(self, bits: int) -> str:
        return f"{self.rng.getrandbits(bits):0{bits // 4}x}"

    def session_id(self, agent: str, day: date) -> str:
        self.sequence += 1
        return f"{agent}-{day:%m%d}-{self.sequence:04d}"

    def pick_user(self, agent: str, day: date) -> str:
        """The least-spent user of the agent's pool today, so no user drifts toward the $5 budget."""
        pool = USER_POOLS[agent]
        return min(pool, key=lambda u: (round(self.user_spend[(day, u)], 6), pool.index(u)))

    def commit(self, rows: Sequence[Observation], *, day: date, user: str, agent: str) -> float:
        cost = sum(o.total_cost for o in rows)
        self.observations.extend(rows)
        self.user_spend[(day, user)] += cost
        self.agent_spend[(day, agent)] += cost
        return cost


@dataclass(frozen=True)
class TraceContext:
    """What every observation of one trace shares (SDK v5 propagates it to each observation)."""

    agent: str
    user: str
    session_id: str | None
    metadata: Mapping[str, str]
    environment: str = "production"
    tags: tuple[str, ...] = ()


class TraceBuilder:
    """Builds one trace: a root AGENT observation plus GENERATION and TOOL children in time order."""

    def __init__(self, ctx: Ctx, tc: TraceContext, start: datetime) -> None:
        self.ctx, self.tc, self.start = ctx, tc, start
        self.trace_id = ctx.new_id(128)
        self.root_id = ctx.new_id(64)
        self.cursor = start + timedelta(milliseconds=ctx.rng.randint(40, 400))
        self.children: list[Observation] = []

    def _child(self, kind: str, name: str, seconds: float, **fields: Any) -> Observation:
        begin = self.cursor + timedelta(milliseconds=self.ctx.rng.randint(20, 900))
        end = begin + timedelta(milliseconds=int(seconds * 1000))
        self.cursor = end
        obs = Observation(
            id=self.ctx.new_id(64),
            trace_id=self.trace_id,
            type=kind,
            start_time=begin,
            end_time=end,
            project_id=PROJECT_ID,
            parent_id=self.root_id,
            name=name,
            environment=self.tc.environment,
            user_id=self.tc.user,
            session_id=self.tc.session_id,
            trace_name=self.tc.agent,
            tags=self.tc.tags,
            metadata=dict(self.tc.metadata),
            is_root=False,
            **fields,
        )
        self.children.append(obs)
        return obs

    def generation(self, name: str, model: str, tokens_in: int, tokens_out: int) -> Observation:
        seconds = 0.6 + tokens_out / self.ctx.rng.uniform(40, 90)  # decode speed of a hosted model
        usage = {"input": tokens_in, "output": tokens_out, "total": tokens_in + tokens_out}
        return self._child(
            "GENERATION", name, seconds, model=model, usage=usage, total_cost=cost_of(model, tokens_in, tokens_out)
        )

    def agent_generation(self, name: str, scale: float = 1.0) -> Observation:
        """A generation drawn from the agent's usual models and prompt sizes (`scale` grows the prompt)."""
        rng = self.ctx.rng
        profiles = GEN_PROFILES[self.tc.agent]
        model, _, rin, rout = rng.choices(profiles, weights=[p[1] for p in profiles])[0]
        return self.generation(name, model, int(rng.randint(*rin) * scale), rng.randint(*rout))

    def tool(self, call: ToolCall, seconds: float | None = None) -> Observation:
        seconds = seconds if seconds is not None else self.ctx.rng.uniform(0.2, 6.0)
        return self._child(
            "TOOL",
            call.name,
            seconds,
            level="ERROR" if call.error else "DEFAULT",
            status_message=call.error,
            input=dict(call.args),
            output=call.result,
        )

    def pause(self, seconds: float) -> None:
        self.cursor += timedelta(milliseconds=int(seconds * 1000))

    def finish(self, output: str | None = None) -> list[Observation]:
        end = self.cursor + timedelta(milliseconds=self.ctx.rng.randint(30, 300))
        root = Observation(
            id=self.root_id,
            trace_id=self.trace_id,
            type="AGENT",
            start_time=self.start,
            end_time=end,
            project_id=PROJECT_ID,
            name=self.tc.agent,
            environment=self.tc.environment,
            user_id=self.tc.user,
            session_id=self.tc.session_id,
            trace_name=self.tc.agent,
            tags=self.tc.tags,
            metadata=dict(self.tc.metadata),
            input=self.tc.metadata.get("objective"),
            output=output,
            is_root=True,
        )
        return [root, *self.children]

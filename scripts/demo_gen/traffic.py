"""Normal traffic: per-agent daily spend targets, and sessions/traces that fill them.

Each (day, agent) gets a spend target; sessions are added until the next one would overshoot it, so a
day's total lands just under the sum of its targets. Planted sessions of that day count toward the
same target (they are generated first). Weekdays spend more than weekends, and spend follows working
hours (UTC), except pipeline-medic, which also fixes nightly pipelines.
"""

from __future__ import annotations

from datetime import date, datetime

from demo_gen.base import (
    DEMO_WEEK_START,
    REPOS,
    TAGS,
    TOOL_AGENTS,
    Ctx,
    TraceBuilder,
    TraceContext,
    at,
    encode_metadata,
)
from demo_gen.sessions import SessionSpec, build_session, plan_text
from demo_gen.tools import TASKS
from monitors.contracts.records import Observation

WEEKDAY = {"pipeline-medic": 5.0, "mr-review": 3.2, "llm-fix": 5.5, "issue-executor": 5.5, "release-notes": 2.0}
WEEKEND = {"pipeline-medic": 5.8, "mr-review": 2.4, "llm-fix": 5.0, "issue-executor": 5.0, "release-notes": 1.3}
TUESDAY, THURSDAY, SATURDAY = date(2026, 11, 17), date(2026, 11, 19), date(2026, 11, 21)
# Release day: everyone busier (1.5-1.7x usual, below any sane spike ratio), $34 = 85% of $40.
THURSDAY_TARGETS = {
    "pipeline-medic": 8.2,
    "mr-review": 4.8,
    "llm-fix": 8.5,
    "issue-executor": 9.3,
    "release-notes": 3.2,
}
MR_REVIEW_SPIKE = 3.0  # Tuesday: mr-review at 3x its usual weekday spend


def day_targets(ctx: Ctx, day: date) -> dict[str, float]:
    if day == THURSDAY:
        return dict(THURSDAY_TARGETS)
    rng = ctx.rng
    weekend = day.weekday() >= 5
    base = WEEKEND if weekend else WEEKDAY
    factor = rng.uniform(0.97, 1.08) if weekend else rng.uniform(0.9, 1.2)
    if day >= DEMO_WEEK_START:
        factor = 1.0 if weekend else 1.04  # the demo week's ordinary days sit at the baseline's median
    if day == TUESDAY:
        factor = 0.82  # a quiet day for the others, so only mr-review's series stands out
    targets = {agent: round(v * factor * rng.uniform(0.93, 1.07), 2) for agent, v in base.items()}
    if day == TUESDAY:
        targets["mr-review"] = round(MR_REVIEW_SPIKE * WEEKDAY["mr-review"] * 1.06, 2)
    return targets


def _hour_weight(agent: str, hour: int, weekend: bool) -> float:
    if weekend:
        return 1.0 if 8 <= hour <= 20 else 0.35
    if 8 <= hour <= 17:
        return 3.0
    if hour in (7, 18, 19):
        return 1.5
    return 0.5 if agent == "pipeline-medic" else 0.15


def sample_start(ctx: Ctx, agent: str, day: date, latest_hour: int = 22) -> datetime:
    weekend = day.weekday() >= 5
    hours = list(range(latest_hour + 1))
    hour = ctx.rng.choices(hours, weights=[_hour_weight(agent, h, weekend) for h in hours])[0]
    return at(day, hour, ctx.rng.randint(0, 59), ctx.rng.randint(0, 59))


def _environment(ctx: Ctx) -> str:
    return "staging" if ctx.rng.random() < 0.1 else "production"


def tool_session(ctx: Ctx, agent: str, day: date) -> tuple[list[Observation], str]:
    rng = ctx.rng
    repo = rng.choice(REPOS)
    task = TASKS[agent](rng, repo)
    meta = {"feature": agent, "objective": task.objective, "repo": repo}
    if task.plan and rng.random() < 0.35:
        meta["plan"] = plan_text(task.plan)
    spec = SessionSpec(
        agent=agent,
        day=day,
        start=sample_start(ctx, agent, day),
        metadata=meta,
        traces=rng.choice((1, 1, 2, 2, 3)),
        json_metadata=rng.random() < 0.15,
        environment=_environment(ctx),
    )
    return build_session(ctx, spec, task.calls)


def _single_trace(
    ctx: Ctx, agent: str, day: date, meta: dict[str, str], generations: list[str], scale: float = 1.0
) -> tuple[list[Observation], str]:
    """A trace without tool calls: review, release notes, and the lighter baseline traces."""
    user = ctx.pick_user(agent, day)
    tc = TraceContext(
        agent=agent,
        user=user,
        session_id=ctx.session_id(agent, day),
        metadata=encode_metadata(meta, json_encoded=ctx.rng.random() < 0.15),
        environment=_environment(ctx),
        tags=TAGS[agent],
    )
    builder = TraceBuilder(ctx, tc, sample_start(ctx, agent, day))
    for name in generations:
        # Baseline traces are lighter: one bigger call (scale > 1) stands for a whole agent turn.
        builder.agent_generation(name, scale=scale)
    return builder.finish(output="done"), user


def light_trace(ctx: Ctx, agent: str, day: date) -> tuple[list[Observation], str]:
    rng = ctx.rng
    repo = rng.choice(REPOS)
    if agent == "mr-review":
        meta = {"feature": agent, "repo": repo, "reviewed_mr": str(rng.randint(60, 400))}
        return _single_trace(ctx, agent, day, meta, [*["read-diff", "review"][: rng.randint(1, 2)], "comment"])
    if agent == "release-notes":
        version = f"v2.{rng.randint(10, 19)}.{rng.randint(0, 9)}"
        meta = {"feature": agent, "repo": repo, "objective": f"Draft release notes for {repo} {version}"}
        return _single_trace(ctx, agent, day, meta, ["collect-changes", "draft"][: rng.randint(1, 2)])
    task = TASKS[agent](rng, repo)
    meta = {"feature": agent, "objective": task.objective, "repo": repo}
    return _single_trace(ctx, agent, day, meta, ["plan", "act"], scale=rng.uniform(2.5, 4.0))


def fill_agent(ctx: Ctx, day: date, agent: str, target: float) -> None:
    """Add sessions until the next would overshoot `target` (three misses in a row end it)."""
    demo = day >= DEMO_WEEK_START
    spent = ctx.agent_spend[(day, agent)]
    misses = 0
    while misses < 3:
        if demo and agent in TOOL_AGENTS:
            rows, user = tool_session(ctx, agent, day)
        else:
            rows, user = light_trace(ctx, agent, day)
        cost = sum(o.total_cost for o in rows)
        if spent + cost > target:
            misses += 1
            continue
        misses = 0
        spent += ctx.commit(rows, day=day, user=user, agent=agent)

"""The events monitor's plants: background error noise, an error burst after a deploy, evaluator scores
with a failing streak. Runs after the traffic is generated and changes no spend, no tool call and no
row count: errors are set on existing GENERATION observations (level ERROR + statusMessage), and the
scores go to their own file (monitors/demo/scores.jsonl.gz, Scores v3 rows plus `traceName`).

Everything random comes from its own `random.Random`, so the rest of the demo data is byte-identical
with or without these plants.
"""

from __future__ import annotations

import dataclasses
import json
import random
from collections import defaultdict
from datetime import UTC, datetime, time, timedelta

from demo_gen.base import DEMO_WEEK_START, PROJECT_ID, Ctx
from monitors.contracts.records import Observation
from monitors.contracts.scores import ScoreRecord, score_to_row

SEED = 19_2026
SCORES_FILE = "scores.jsonl.gz"

NOISE_SHARE = 0.01  # one trace in a hundred has a failed generation
NOISE = (
    "Rate limit reached for requests: retry after {n}s (request req_{h})",
    "Request timed out after {n} ms (upstream https://api.openai.com/v1/chat/completions)",
    "Upstream connection reset by peer while streaming (trace {h})",
    "Context length exceeded: {n} tokens > {m} maximum for this model",
    "Tool call arguments were not valid JSON at position {n}",
)

# The deploy: issue-executor 2.4.0 goes out Wednesday 14:00 with a tool schema the model rejects.
BURST_AGENT = "issue-executor"
BURST_START = datetime(2026, 11, 18, 14, 0, tzinfo=UTC)
BURST_END = datetime(2026, 11, 18, 17, 0, tzinfo=UTC)
BURST_SHARE = 0.8  # of that agent's generations in those hours
BURST_MESSAGE = (
    "Invalid schema for function 'create_merge_request': In context=('properties', 'labels'), "
    "array schema missing items (request req_{h}, deployment issue-executor-2.4.0)"
)

# Evaluators (demo week only). review_helpfulness: an LLM judge on mr-review, which has a bad prompt
# from Friday 10:00 on; tests_pass on llm-fix; no_secret_leak (critical) on the code-changing agents.
STREAK_AGENT, STREAK_START = "mr-review", datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
STREAK_COMMENTS = (
    "The review restates the diff and raises no finding.",
    "Generic advice ('add tests') with no reference to the changed code.",
    "Summary only; the security-relevant change in auth.py is not mentioned.",
)


def _generations_by_trace(ctx: Ctx) -> dict[str, list[int]]:
    by_trace: dict[str, list[int]] = defaultdict(list)
    for i, obs in enumerate(ctx.observations):
        if obs.type == "GENERATION":
            by_trace[obs.trace_id].append(i)
    return by_trace


def _fail(ctx: Ctx, index: int, message: str) -> None:
    ctx.observations[index] = dataclasses.replace(ctx.observations[index], level="ERROR", status_message=message)


def _noise(rng: random.Random) -> str:
    template = rng.choice(NOISE)
    return template.format(n=rng.randint(2, 90000), m=rng.choice((128000, 200000)), h=f"{rng.getrandbits(48):012x}")


def plant_errors(ctx: Ctx, rng: random.Random) -> dict[str, int]:
    """Noise on ~1% of traces every day, then the burst; returns counts for the README."""
    roots = sorted((o for o in ctx.observations if o.type == "AGENT"), key=lambda o: (o.start_time, o.trace_id))
    gens = _generations_by_trace(ctx)
    noise = burst = 0
    for root in roots:
        if gens.get(root.trace_id) and rng.random() < NOISE_SHARE:
            _fail(ctx, rng.choice(gens[root.trace_id]), _noise(rng))
            noise += 1
    for i, obs in enumerate(ctx.observations):
        in_burst = (
            obs.type == "GENERATION" and obs.trace_name == BURST_AGENT and BURST_START <= obs.start_time < BURST_END
        )
        if in_burst and obs.level == "DEFAULT" and rng.random() < BURST_SHARE:
            _fail(ctx, i, BURST_MESSAGE.format(h=f"{rng.getrandbits(48):012x}"))
            burst += 1
    return {"noise_errors": noise, "burst_errors": burst}


def _score(root: Observation, name: str, value: float | bool, comment: str | None) -> ScoreRecord:
    end = root.end_time or root.start_time
    return ScoreRecord(
        id=f"{name}-{root.trace_id[:16]}",
        name=name,
        data_type="BOOLEAN" if isinstance(value, bool) else "NUMERIC",
        value=value,
        timestamp=end + timedelta(seconds=30),  # the evaluator runs once the trace is done
        trace_id=root.trace_id,
        comment=comment,
        environment=root.environment,
        trace_name=root.trace_name,
    )


def make_scores(ctx: Ctx, rng: random.Random) -> list[ScoreRecord]:
    week = datetime.combine(DEMO_WEEK_START, time(0), tzinfo=UTC)
    roots = sorted(
        (o for o in ctx.observations if o.type == "AGENT" and o.start_time >= week),
        key=lambda o: (o.start_time, o.trace_id),
    )
    scores = []
    for root in roots:
        agent = root.trace_name
        if agent == STREAK_AGENT:
            streak = STREAK_START <= root.start_time < STREAK_START.replace(hour=0) + timedelta(days=1)
            if streak:
                value, comment = round(rng.uniform(0.15, 0.45), 3), rng.choice(STREAK_COMMENTS)
            else:
                value = round(min(1.0, max(0.0, rng.gauss(0.8, 0.12))), 3)
                comment = "Mostly a restatement of the diff." if value < 0.5 else None
            scores.append(_score(root, "review_helpfulness", value, comment))
        if agent == "llm-fix":
            passed = rng.random() >= 0.03
            scores.append(_score(root, "tests_pass", passed, None if passed else "2 tests failed after the fix"))
        if agent in ("llm-fix", "issue-executor"):
            scores.append(_score(root, "no_secret_leak", True, None))
    return scores


def plant_events(ctx: Ctx) -> tuple[list[str], dict[str, int]]:
    """Plant the errors (in ctx.observations) and return the score file's lines and the counts."""
    rng = random.Random(SEED)
    counts = plant_errors(ctx, rng)
    scores = make_scores(ctx, rng)
    counts["scores"] = len(scores)
    lines = [
        json.dumps({**score_to_row(s), "projectId": PROJECT_ID}, separators=(",", ":"), ensure_ascii=False)
        for s in sorted(scores, key=lambda s: (s.timestamp, s.id))
    ]
    return lines, counts

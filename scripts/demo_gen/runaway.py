"""The Saturday runaway: llm-fix stuck on one failing test all day, on claude-opus-4.

It is both the cost story (about $33 on top of a normal Saturday, pushing the day past the $40 cap
and svc-llm-fix past its $5 user budget early in the morning) and the audit's runaway session.
"""

from __future__ import annotations

from datetime import date, timedelta

from demo_gen.base import Ctx, ToolCall, TraceBuilder, TraceContext, at, encode_metadata
from demo_gen.planted import T, edit_call

RUNAWAY_DAY, RUNAWAY_BUDGET = date(2026, 11, 21), 33.0
RUNAWAY_META = {
    "feature": "llm-fix",
    "objective": "Fix the failing test test_invoice_rounding in platform/billing",
    "repo": "platform/billing",
}


def _runaway_calls(ctx: Ctx, i: int) -> list[ToolCall]:
    rng, run = ctx.rng, {"command": "pytest tests/test_invoice.py -q"}
    calls = [
        edit_call("billing/invoice.py", i),
        T("run_tests", run, "1 failed, 57 passed: AssertionError: 0.30 != 0.3"),
    ]
    if rng.random() < 0.4:
        calls.insert(0, T("search_code", {"query": f"round {i % 17}"}, f"{rng.randint(1, 9)} matches"))
    elif rng.random() < 0.4:
        calls.insert(0, T("read_file", {"path": "billing/invoice.py", "offset": 40 * (i % 9)}, "40 lines"))
    return calls


def emit_runaway(ctx: Ctx) -> None:
    """llm-fix stuck on one test for a whole Saturday, on claude-opus-4, as svc-llm-fix."""
    rng, day, user = ctx.rng, RUNAWAY_DAY, "svc-llm-fix"
    session_id = ctx.session_id("llm-fix", day)
    start, spent, traces, tools = at(day, 6, 52, 10), 0.0, 0, 0
    while spent < RUNAWAY_BUDGET:
        tc = TraceContext(
            agent="llm-fix",
            user=user,
            session_id=session_id,
            tags=("autofix", "code-change"),
            metadata=encode_metadata(RUNAWAY_META, json_encoded=False),
        )
        builder = TraceBuilder(ctx, tc, start)
        builder.generation("plan", "claude-opus-4", rng.randint(13000, 19000), rng.randint(400, 900))
        for call in _runaway_calls(ctx, traces):
            builder.tool(call)
            tools += 1
        spent += ctx.commit(builder.finish(output="tests still failing"), day=day, user=user, agent="llm-fix")
        traces += 1
        start += timedelta(seconds=rng.randint(250, 330))
    ctx.planted.append(
        {
            "name": "runaway",
            "verdict": "runaway",
            "session": session_id,
            "day": day.isoformat(),
            "agent": "llm-fix",
            "tool_calls": tools,
            "traces": traces,
            "cost": round(spent, 4),
        }
    )

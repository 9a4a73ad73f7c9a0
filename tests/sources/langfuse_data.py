"""A small, trace-consistent dataset: the same traces served by every read path in these tests."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from monitors.contracts.records import Observation

T0 = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
ALL_FIELDS = frozenset({"core", "basic", "io", "metadata", "model", "usage", "trace_context"})

AGENTS = [
    # (trace name, tags, user, model, objective as SDK v5 sends it: JSON-encoded)
    ("pipeline-medic", ("prod", "ci"), "u-ci", "gpt-4o", json.dumps("fix the flaky test")),
    ("mr-review", ("prod",), "u-rev", "claude-sonnet", json.dumps("review MR !42")),
    ("llm-fix", (), None, None, None),
]


def build_dataset(traces: int = 12, tools_per_trace: int = 3) -> list[Observation]:
    """Traces over ~2 days: an AGENT root, a GENERATION and a few TOOL calls each."""
    rows: list[Observation] = []
    for t in range(traces):
        name, tags, user, model, objective = AGENTS[t % len(AGENTS)]
        start = T0 + timedelta(hours=4 * t, minutes=7 * t)
        trace_id = f"trace-{t:03d}"
        meta = {"feature": name} | ({"objective": objective, "mr_iid": json.dumps(str(40 + t))} if objective else {})
        common = dict(
            trace_id=trace_id,
            trace_name=name,
            tags=tags,
            user_id=user,
            session_id=f"sess-{t // 2}",
            environment="production",
            metadata=meta,
        )
        root = f"{trace_id}-root"
        rows.append(Observation(id=root, type="AGENT", start_time=start, is_root=True, name=name, **common))
        rows.append(
            Observation(
                id=f"{trace_id}-gen",
                type="GENERATION",
                start_time=start + timedelta(seconds=5),
                end_time=start + timedelta(seconds=9),
                parent_id=root,
                is_root=False,
                name="plan",
                model=model,
                usage={"input": 1000 + t, "output": 200, "total": 1200 + t},
                total_cost=round(0.013 * (t + 1), 6),
                input={"messages": [{"role": "user", "content": f"task {t}"}]},
                output="a plan",
                **common,
            )
        )
        for k in range(tools_per_trace):
            rows.append(
                Observation(
                    id=f"{trace_id}-tool-{k}",
                    type="TOOL",
                    start_time=start + timedelta(seconds=20 + 15 * k),
                    parent_id=root,
                    is_root=False,
                    name=["read_file", "run_tests", "edit_file"][k % 3],
                    input={"args": [f"path/{k}.py"]},
                    output="ok",
                    total_cost=0.001 * k,
                    **common,
                )
            )
    return rows

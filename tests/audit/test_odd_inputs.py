"""Odd but legal observations a real producer sends: the audit reads them without error."""

from __future__ import annotations

import json
from dataclasses import replace

from monitors.audit.monitor import ToolSequenceConfig, ToolSequenceMonitor
from monitors.audit.sequence import build_session
from monitors.contracts.findings import RunWindow
from monitors.contracts.monitor import MemoryState, RunContext
from monitors.contracts.records import parse_observation
from monitors.sources.replay import ReplaySource
from tests.audit.helpers import T0, session_observations

WINDOW = RunWindow(T0, T0.replace(year=T0.year + 1))


def _run(observations):
    source = ReplaySource.from_observations(observations, host="https://langfuse.example", project_id="proj")
    ctx = RunContext(window=WINDOW, now=WINDOW.end, source=source, state=MemoryState())
    return list(ToolSequenceMonitor(ToolSequenceConfig()).run(ctx)), ctx


def _deeply_nested(levels: int) -> object:
    """What the observation parser makes of a tool answer nested `levels` deep (it parses it whole)."""
    row = {"id": "x", "traceId": "t", "type": "TOOL", "startTime": "2025-06-02T09:00:00Z"}
    return parse_observation({**row, "output": "[" * levels + "]" * levels}).output


def test_a_tool_answer_nested_hundreds_of_levels_deep_is_audited_not_a_crash() -> None:
    # A schema, a syntax tree or a hostile tool: JSON the parser accepts at ~990 levels.
    deep = _deeply_nested(900)
    assert isinstance(deep, list)  # the parser kept it as a structure
    obs = session_observations("s", ["get_tree"] * 6)
    obs = [replace(o, input={"node": "root"}, output=deep) if o.type == "TOOL" else o for o in obs]
    findings, ctx = _run(obs)
    assert ctx.counters["audit.sessions_audited"] == 1
    # The same call with the same deep answer six times is still a repeat.
    assert [(f.kind, f.evidence["steps"]) for f in findings if f.kind == "repeat"] == [("repeat", [2, 3, 4, 5, 6])]


def test_deep_arguments_keep_their_identity() -> None:
    deep = json.loads('{"a":' * 800 + "1" + "}" * 800)
    other = json.loads('{"a":' * 800 + "2" + "}" * 800)
    obs = session_observations("s", ["walk", "walk", "walk"])
    tools = iter([deep, deep, other])
    obs = [replace(o, input=next(tools)) if o.type == "TOOL" else o for o in obs]
    calls = build_session("s", obs).calls
    assert calls[0].args_key == calls[1].args_key != calls[2].args_key


def test_deep_metadata_is_spooled_and_its_other_keys_still_read() -> None:
    deep = _deeply_nested(900)
    obs = session_observations("s", ["get_tree"] * 6, agent="tree-bot")
    obs = [replace(o, metadata={**o.metadata, "trace_blob": deep}) for o in obs]
    _, ctx = _run(obs)
    assert ctx.counters["audit.sessions_audited"] == 1
    assert ctx.state.get("agent_tool_calls") is not None and "tree-bot" in ctx.state.get("agent_tool_calls")

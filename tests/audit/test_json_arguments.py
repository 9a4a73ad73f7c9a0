"""Tool arguments logged raw as JSON text (OpenAI-style `"arguments": "{...}"`) are compared by what they say."""

from __future__ import annotations

import json
from dataclasses import replace

from monitors.audit.monitor import ToolSequenceConfig, ToolSequenceMonitor
from monitors.audit.sequence import MAX_JSON_TEXT, normalize_args
from monitors.contracts.findings import RunWindow
from monitors.contracts.monitor import MemoryState, RunContext
from monitors.sources.replay import ReplaySource
from tests.audit.helpers import T0, session_observations

# The same two calls as a model wrote them on different turns: other spacing, other key order.
SEARCH = ['{"query": "refund policy", "limit": 5}', '{"limit":5,"query":"refund policy"}']
OPEN = ['{"doc_id": "kb-112"}', '{ "doc_id":"kb-112" }']


def test_a_loop_is_found_when_the_model_respaces_and_reorders_its_json_arguments() -> None:
    names = ["search_kb", "open_doc"] * 3
    raw = [SEARCH[i // 2 % 2] if name == "search_kb" else OPEN[i // 2 % 2] for i, name in enumerate(names)]
    obs = session_observations("s", names)
    tools = iter(raw)
    obs = [
        replace(o, input={"arguments": next(tools)}, output=f"{o.name}: same answer") if o.type == "TOOL" else o
        for o in obs
    ]
    source = ReplaySource.from_observations(obs, host="https://langfuse.example", project_id="proj")
    window = RunWindow(T0, T0.replace(year=T0.year + 1))
    ctx = RunContext(window=window, now=window.end, source=source, state=MemoryState())
    findings = list(ToolSequenceMonitor(ToolSequenceConfig()).run(ctx))
    assert [(f.dedupe_key, f.evidence["steps"]) for f in findings] == [("s:loop", [3, 4, 5, 6])]


def test_json_text_reads_as_json_also_at_the_top_and_twice_encoded() -> None:
    as_dict = normalize_args({"arguments": {"query": "refund policy", "limit": 5}})
    assert normalize_args({"arguments": SEARCH[0]}) == normalize_args({"arguments": SEARCH[1]}) == as_dict
    assert normalize_args(SEARCH[0]) == normalize_args({"limit": 5, "query": "refund policy"})
    twice = json.dumps({"arguments": SEARCH[1]})
    assert normalize_args({"payload": twice}) == normalize_args({"payload": {"arguments": SEARCH[0]}})
    # Text that only looks like JSON stays text.
    assert normalize_args({"note": "[draft] {see above}"}) == '{"note":"[draft] {see above}"}'


def test_hostile_json_text_is_compared_as_text_without_error() -> None:
    deep = "[" * 5_000 + "]" * 5_000
    assert normalize_args({"arguments": deep}) == json.dumps({"arguments": deep}, separators=(",", ":"))
    too_long = [json.dumps({"data": "x" * MAX_JSON_TEXT, "n": 1}), json.dumps({"n": 1, "data": "x" * MAX_JSON_TEXT})]
    assert normalize_args({"a": too_long[0]}) != normalize_args({"a": too_long[1]})  # not parsed: text differs
    nested = json.dumps({"k": {"k": {"k": {"k": {"k": {"k": {"k": {"k": {"k": {"k": {"k": {"k": 1}}}}}}}}}}}})
    assert normalize_args({"a": nested}) == normalize_args({"a": nested.replace(" ", "")})  # 12 levels: read

"""benchmarks/audit_compare.py on a tiny week: the data it writes and one measured child run."""

from __future__ import annotations

import json

from benchmarks.audit_compare import ROOT, run_child, write_data


def test_writes_generator_and_chat_sessions_and_measures_a_child(tmp_path):
    data = tmp_path / "tiny.jsonl"
    rows = write_data(data, traces=30, chats=12)
    lines = [json.loads(line) for line in data.read_text().splitlines()]
    assert rows == len(lines) > 0
    chats = {r["sessionId"] for r in lines if str(r.get("sessionId", "")).startswith("chat-")}
    assert len(chats) == 12
    result = run_child(ROOT, data, {})
    read = sum(1 for r in lines if r["type"] in ("TOOL", "GENERATION"))  # the audit reads no spans
    assert result["observations"] == read and result["cpu_s"] > 0 and result["peak_mb"] > 0
    assert result["sessions"] >= 1

"""The trajectory converter: shape, determinism, round trip through the export format, bad lines."""

from __future__ import annotations

import json
from collections import Counter
from datetime import timedelta

import pytest

from monitors.contracts.findings import RunWindow
from monitors.contracts.records import parse_observation
from monitors.contracts.source import ObservationQuery
from monitors.sources.replay import ReplaySource
from monitors.sources.trajectories import ConvertStats, convert_file, convert_lines, write_export
from tests.audit.helpers import TRAJECTORIES


@pytest.fixture(scope="module")
def converted():
    stats = ConvertStats()
    return list(convert_file(TRAJECTORIES, stats)), stats


def test_every_session_and_step_is_converted(converted):
    obs, stats = converted
    assert (stats.sessions, stats.steps, stats.malformed) == (326, 3063, 0)
    assert Counter(o.type for o in obs) == {"AGENT": 326, "GENERATION": 3063, "TOOL": 3063}
    assert len({o.session_id for o in obs}) == 326
    assert len({o.id for o in obs}) == len(obs)


def test_tool_observations_carry_the_step(converted):
    obs, _ = converted
    sid = "tau-bench/gpt-4o-airline/task000-trial0"
    tools = sorted((o for o in obs if o.session_id == sid and o.type == "TOOL"), key=lambda o: o.start_time)
    with open(TRAJECTORIES) as handle:
        raw = next(json.loads(line) for line in handle if sid in line[:80])
    assert [t.name for t in tools] == [s["tool"] for s in raw["steps"]]
    assert [t.metadata["args_sha1"] for t in tools] == [s["args_sha1"] for s in raw["steps"]]
    assert [t.level == "ERROR" for t in tools] == [bool(s["is_error"]) for s in raw["steps"]]
    assert tools[2].input == {"user_id": "mia_li_3668"}  # JSON arguments arrive decoded, as from v2
    assert all(t.trace_name == "tau-bench" and t.metadata["time_synthetic"] for t in tools)
    root = next(o for o in obs if o.session_id == sid and o.type == "AGENT")
    assert root.metadata["objective"].startswith("You are mia_li_3668")
    assert root.metadata["outcome"] == "not resolved"


def test_openhands_keeps_real_times(converted):
    obs, _ = converted
    tools = [o for o in obs if o.session_id == "openhands/tests-runtime-trajs/basic" and o.type == "TOOL"]
    assert tools[0].start_time.isoformat() == "2025-01-27T22:45:13.764487+00:00"
    assert "time_synthetic" not in tools[0].metadata


def test_generations_have_cost(converted):
    obs, _ = converted
    gens = [o for o in obs if o.type == "GENERATION"]
    assert all(o.total_cost > 0 and o.usage["total"] > 0 for o in gens)


def test_deterministic_and_replayable(converted, tmp_path):
    obs, _ = converted
    again = list(convert_file(TRAJECTORIES))
    assert again == obs
    path = tmp_path / "export.jsonl"
    assert write_export(obs, path) == len(obs)
    replay = ReplaySource(path)
    window = RunWindow(min(o.start_time for o in obs), max(o.start_time for o in obs) + timedelta(seconds=1))
    assert list(replay.observations(ObservationQuery(window))) == obs
    assert replay.stats.malformed == 0
    assert parse_observation(json.loads(path.read_text().splitlines()[0])) == obs[0]


def test_bad_lines_are_counted_and_skipped():
    lines = [
        "not json",
        "[1, 2]",
        json.dumps({"steps": []}),
        json.dumps({"session_id": "x/1", "steps": "nope"}),
        "",
        json.dumps({"session_id": "x/2", "steps": [{"tool": "ls"}, {}]}),
    ]
    stats = ConvertStats()
    obs = list(convert_lines(lines, stats))
    assert stats.malformed == 4 and stats.sessions == 1
    assert [o.name for o in obs if o.type == "TOOL"] == ["ls", "unknown"]

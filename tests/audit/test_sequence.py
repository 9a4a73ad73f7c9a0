"""Session rebuild: ordering, cost attribution, synthetic times; the spool's one-session-at-a-time grouping."""

from __future__ import annotations

import os
import random
from dataclasses import replace
from datetime import timedelta

from monitors.audit.sequence import build_session, waste_of
from monitors.audit.spool import SessionSpool
from tests.audit.helpers import T0, seq, session_observations


def test_calls_are_ordered_and_carry_the_cost_of_the_turn_before():
    obs = session_observations("s1", ["ls", "open", "edit"])
    random.Random(3).shuffle(obs)
    session = build_session("s1", obs)
    assert [c.name for c in session.calls] == ["ls", "open", "edit"]
    assert [c.step for c in session.calls] == [1, 2, 3]
    assert [(c.tokens, c.cost) for c in session.calls] == [(100, 0.002)] * 3
    assert session.agent == "bot" and session.timed and session.trace_id == "trace-s1"


def test_generation_and_tool_at_the_same_instant_keep_turn_order():
    obs = session_observations("s1", ["ls"], gap=0)
    obs[1] = replace(obs[1], start_time=T0)
    session = build_session("s1", list(reversed(obs)))
    assert session.calls[0].tokens == 100


def test_synthetic_times_are_dropped_and_errors_read_from_level():
    obs = session_observations("s1", ["ls", "cat"])
    obs = [
        replace(
            o, metadata={"time_synthetic": True, "plan": "1. a\n2. b"}, level="ERROR" if o.name == "cat" else "DEFAULT"
        )
        for o in obs
    ]
    session = build_session("s1", obs)
    assert not session.timed
    assert [c.is_error for c in session.calls] == [False, True]
    assert session.plan == "1. a\n2. b"


def test_waste_sums_steps_and_seconds_from_the_previous_call():
    calls = seq(("a", 1), ("b", 2), ("c", 3), seconds=30)
    calls = [replace(c, end_time=c.time + timedelta(seconds=5)) for c in calls]
    w = waste_of(calls, [2, 3, 99], timed=True)
    assert (w.steps, w.tokens, w.cost) == (2, 200, 0.002)
    assert w.seconds == 60.0  # (35 - 5) + (65 - 35)
    assert waste_of(calls, [2], timed=False).seconds is None


def test_spool_groups_an_interleaved_newest_first_stream():
    a = session_observations("a", ["x1", "x2", "x3"], start=T0)
    b = session_observations("b", ["y1", "y2"], start=T0 + timedelta(seconds=5))
    stream = sorted(a + b, key=lambda o: o.start_time, reverse=True)  # what the API returns
    with SessionSpool() as spool:
        for obs in stream:
            spool.add(obs)
        path = spool.path
        groups = [(key, [o.name for o in rows if o.type == "TOOL"]) for key, rows in spool.sessions()]
        assert not os.path.exists(path)  # unlinked while open: a killed run leaves no file behind
    assert groups == [("a", ["x1", "x2", "x3"]), ("b", ["y1", "y2"])]


def test_spool_keys_by_trace_when_there_is_no_session():
    obs = [replace(o, session_id=None) for o in session_observations("s", ["a"])]
    with SessionSpool() as spool:
        for o in obs:
            spool.add(o)
        assert spool.session_keys() == ["trace-s"]

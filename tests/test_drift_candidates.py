"""Reading agent metadata for goal-drift: merge-request references, defensive decoding, did-text modes."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from monitors.contracts.forge import MergeRequestInfo
from monitors.drift.candidates import (
    MrRef,
    TraceRef,
    as_text,
    fill_from_sessions,
    fold_traces,
    from_pending,
    parse_mr_ref,
    to_pending,
)
from monitors.drift.monitor import did_text
from monitors.sources.gitlab import OfflineGitLab
from tests.test_goal_drift import commit

KEYS = {"feature": "feature", "objective": "objective", "mr": "mr_iid", "repo": "repo"}


@pytest.mark.parametrize(
    ("mr", "repo", "expected"),
    [
        (12, "group/app", MrRef("group/app", 12)),
        ("12", "group/app", MrRef("group/app", 12)),
        ('"!12"', '"group/app"', MrRef("group/app", 12)),
        ("12.0", "g/a", "cannot read"),
        (12.0, "g/a", MrRef("g/a", 12)),
        ("group/sub/app!7", None, MrRef("group/sub/app", 7)),
        ("https://gitlab.example.com/group/app/-/merge_requests/3#note_1", None, MrRef("group/app", 3)),
        ("12", None, "no repository"),
        ("12", "../../etc", "not a repository path"),
        ("12", "group/app?x=1", "not a repository path"),
        ("0", "g/a", "out of range"),
        ("99999999999", "g/a", "cannot read"),
        ("", "g/a", "empty"),
        ("see the MR", "g/a", "cannot read"),
        (True, "g/a", "cannot read"),
        ("12", "42", MrRef("42", 12)),
    ],
)
def test_parse_mr_ref(mr, repo, expected) -> None:
    result = parse_mr_ref(mr, repo)
    if isinstance(expected, MrRef):
        assert result == expected
    else:
        assert isinstance(result, str) and expected in result


def test_default_repo_fills_a_bare_iid() -> None:
    assert parse_mr_ref("!4", None, "team/svc") == MrRef("team/svc", 4)


@pytest.mark.parametrize(
    ("value", "text"),
    [('"\\"fix it\\""', "fix it"), ("  plain  ", "plain"), (7, "7"), (None, ""), ({"a": 1}, '{"a": 1}')],
)
def test_as_text_decodes_defensively(value, text: str) -> None:
    assert as_text(value) == text


def test_did_text_modes() -> None:
    data = {
        "projects": {
            "g/a": {
                "merge_requests": {
                    "1": {
                        "title": "MR title",
                        "description": "MR body",
                        "web_url": "",
                        "state": "opened",
                        "commits": [
                            commit("b", "2026-03-02T00:00:00Z", "Second\n\nbody"),
                            commit("a", "2026-03-01T00:00:00Z", "First"),
                        ],
                    }
                }
            }
        }
    }
    info = OfflineGitLab(data=data).merge_request("g/a", 1)
    assert isinstance(info, MergeRequestInfo)
    assert did_text(info, "final_commit") == "Second\n\nbody"
    assert did_text(info, "final_commit+mr") == "Second\n\nbody\n\nMR title\n\nMR body"
    assert did_text(info, "all_commits") == "Second\n\nbody\n\nFirst"


def test_fold_keeps_the_untruncated_objective_and_the_trace_start() -> None:
    from tests.test_goal_drift import obs_for_trace

    full = "Fix the login redirect " + "x" * 300
    rows = obs_for_trace("t1", "agent", {"objective": full, "mr_iid": "1", "repo": "g/a"})
    rows[1] = replace(rows[1], metadata={"objective": full[:200], "mr_iid": "1", "repo": "g/a"})
    traces = fold_traces(reversed(rows), KEYS)
    assert traces["t1"].objective == full
    assert traces["t1"].start == min(r.start_time for r in rows)
    assert traces["t1"].agent == "agent"


def test_session_fill_refuses_an_ambiguous_merge_request() -> None:
    from tests.test_goal_drift import obs_for_trace

    rows = [
        *obs_for_trace("a", "x", {"objective": "Do it"}, session="s"),
        *obs_for_trace("b", "x", {"mr_iid": "1", "repo": "g/a"}, session="s"),
        *obs_for_trace("c", "x", {"mr_iid": "2", "repo": "g/a"}, session="s"),
    ]
    traces = fold_traces(rows, KEYS)
    fill_from_sessions(traces)
    assert traces["a"].mr is None  # two MRs in the session: no guess
    assert as_text(traces["b"].objective) == as_text(traces["c"].objective) == "Do it"


def test_pending_round_trip_and_garbage_is_dropped() -> None:
    ref = TraceRef("t1", datetime(2026, 3, 1, tzinfo=UTC), "s1", "agent", "Fix it", "!3", "g/a", tries=2)
    stored = json.loads(json.dumps([to_pending(ref), {"trace_id": "x"}, "junk", None]))
    assert from_pending(stored) == [ref]
    assert from_pending("not a list") == []

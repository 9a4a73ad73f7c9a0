"""Score reads through the real Langfuse source against the fake: bad rows, rate limits, fallbacks."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from monitors.contracts.errors import SourceError
from monitors.contracts.findings import RunWindow
from monitors.contracts.records import MalformedRecord
from monitors.contracts.scores import ScoreCount, parse_score, score_to_row
from monitors.contracts.source import ScoreCountQuery, ScoreQuery
from monitors.events.tally import cover, untallied
from monitors.sources.langfuse import LangfuseSource
from monitors.support.retry import RetryPolicy
from tests.events.data import LAST_DAY, PROJECT, at, daily_scores, score, trace
from tests.fakes.langfuse_server import FakeLangfuse

DAY = RunWindow(at(LAST_DAY, 0), at(LAST_DAY, 0) + timedelta(days=1))
FAILING = ScoreQuery(DAY, "relevance", "NUMERIC", value_below=0.5)


def serve(**kw) -> FakeLangfuse:
    rows = [o for agent in ("fixer", "triage-bot") for n in range(100) for o in trace(agent, LAST_DAY, n)]
    scores = [score_to_row(s) for s in daily_scores()]
    return FakeLangfuse(rows, served_scores=scores, project_id=PROJECT, **kw)


def source_for(fake: FakeLangfuse, attempts: int = 3) -> LangfuseSource:
    retry = RetryPolicy(attempts=attempts, base_delay=0, sleep=lambda s: None)
    return LangfuseSource(fake.url, fake.public_key, fake.secret_key, retry=retry)


def test_a_malformed_score_is_counted_and_skipped() -> None:
    with serve() as fake:
        rows = [r for r in fake.served_scores if r["name"] == "relevance" and r["value"] < 0.5]
        page = [{**r, "projectId": PROJECT} for r in rows]
        page[1] = {**page[1], "value": "very bad"}  # a numeric score whose value is text
        page[2] = {k: v for k, v in page[2].items() if k != "timestamp"}
        fake.reply_next("/api/public/v3/scores", {"data": page, "meta": {"limit": 100}})
        source = source_for(fake)
        failing = list(source.read_scores(FAILING))
    assert sorted(s.id for s in failing) == sorted(rows[i]["id"] for i in (0, 3))
    assert source.stats.malformed == 2
    assert [e.split(":")[1].strip() for e in source.stats.malformed_examples] == ["value", "timestamp"]


def test_rate_limits_are_retried_and_a_dead_route_fails_the_run_cleanly() -> None:
    with serve() as fake:
        fake.fail_next("/api/public/v3/scores", 429, retry_after=0, times=2)
        source = source_for(fake)
        assert len(list(source.read_scores(FAILING))) == 4
        assert source.stats.retries == 2
        fake.fail_next("/api/public/v3/scores", 500, times=5)
        with pytest.raises(SourceError, match="v3/scores: HTTP 500; gave up after 3 attempt"):
            list(source_for(fake).read_scores(FAILING))


def test_an_older_server_is_read_through_the_legacy_routes_with_the_same_result() -> None:
    results = []
    for legacy in (False, True):
        with serve(legacy_only=legacy) as fake:
            source = source_for(fake)
            failing = sorted((s.id, s.trace_name, s.value) for s in source.read_scores(FAILING))
            counts = source.score_counts(ScoreCountQuery(DAY, ("relevance", "tone"), categorical=True))
            results.append((failing, counts))
            paths = {r.path for r in fake.requests}
        if legacy:
            assert {"/api/public/v2/scores", "/api/public/metrics"} <= paths
    assert results[0] == results[1]
    assert len(results[0][0]) == 4 and {agent for _, agent, _ in results[0][0]} == {"fixer", "triage-bot"}


@pytest.mark.parametrize("legacy", [False, True])
def test_each_score_counts_once_in_the_hour_of_its_own_timestamp(legacy: bool) -> None:
    # The score views read the trace name through a join that keeps only traces started within the
    # query's range (queryBuilder.ts buildJoins), and that range's end is inclusive. A score whose
    # trace began in the hour before (trace 004 starts 00:57, its score is at 01:01) and one exactly at
    # 01:00 must each count once, in the hour of the score.
    edge = replace(score("relevance", "fixer", LAST_DAY, 3, 0.8), id="edge", timestamp=at(LAST_DAY, 1))
    scores = [s for s in daily_scores() if s.name == "relevance" and s.trace_name == "fixer"] + [edge]
    rows = [o for n in range(100) for o in trace("fixer", LAST_DAY, n)]
    hours = [RunWindow(at(LAST_DAY, h), at(LAST_DAY, h + 1)) for h in (0, 1)]
    with FakeLangfuse(rows, served_scores=[score_to_row(s) for s in scores], legacy_only=legacy) as fake:
        source = source_for(fake)
        counted = [source.score_counts(ScoreCountQuery(hour, ("relevance",))) for hour in hours]
    expected = [[ScoreCount("relevance", "fixer", sum(h.start <= s.timestamp < h.end for s in scores))] for h in hours]
    assert counted == expected


@pytest.mark.parametrize(
    ("row", "value"),
    [
        ({"dataType": "BOOLEAN", "value": 0, "stringValue": "False"}, False),  # legacy boolean
        ({"dataType": "BOOLEAN", "value": True}, True),  # v3 boolean
        ({"dataType": "CATEGORICAL", "value": 0, "stringValue": "rude"}, "rude"),  # legacy categorical
        ({"dataType": "CATEGORICAL", "value": "rude"}, "rude"),  # v3 categorical
        ({"dataType": "NUMERIC", "value": 0.25}, 0.25),
    ],
)
def test_scores_parse_from_v3_and_legacy_rows(row: dict, value: object) -> None:
    base = {"id": "s1", "name": "x", "timestamp": "2026-11-22T10:00:00Z", "traceId": "t1"}
    assert parse_score({**base, **row}).value == value


@pytest.mark.parametrize(
    "row",
    [
        {"dataType": "NUMERIC", "value": float("nan")},
        {"dataType": "NUMERIC", "value": True},
        {"dataType": "BOOLEAN", "value": 0.5},
        {"dataType": "NUMERIC"},
        {"dataType": "NUMERIC", "value": 1, "timestamp": "yesterday"},
    ],
)
def test_bad_score_rows_are_rejected_with_a_reason(row: dict) -> None:
    base = {"id": "s1", "name": "x", "timestamp": "2026-11-22T10:00:00Z"}
    with pytest.raises(MalformedRecord):
        parse_score({**base, **row})


def test_only_the_untallied_parts_of_a_window_are_read() -> None:
    hour = timedelta(hours=1)
    start = at(LAST_DAY, 10)
    covered = cover(RunWindow(start, start + 2 * hour), None)
    later = RunWindow(start + 2 * hour, start + 3 * hour)
    assert untallied(RunWindow(start + hour, start + 3 * hour), covered) == [later]
    assert untallied(RunWindow(start - hour, start + 3 * hour), covered) == [
        RunWindow(start - hour, start),
        later,
    ]
    assert untallied(RunWindow(start, start + 2 * hour), covered) == []
    assert untallied(RunWindow(start, start + hour), ["garbage"]) == [RunWindow(start, start + hour)]

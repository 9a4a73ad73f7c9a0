"""The fake's score reads follow the official spec, and so do the requests the source sends for them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import pytest
from openapi_core import OpenAPI
from openapi_core.validation.response.exceptions import InvalidData

from monitors.contracts.findings import RunWindow
from monitors.contracts.scores import score_to_row
from monitors.contracts.source import ObservationQuery, ScoreCountQuery, ScoreQuery
from monitors.sources.langfuse import LangfuseSource
from monitors.support.retry import RetryPolicy
from tests.events.data import LAST_DAY, PROJECT, at, daily_scores, trace
from tests.fakes.langfuse_server import FakeLangfuse
from tests.test_langfuse_spec import fetch, recorded_to_mock, spec, validate_response  # noqa: F401 (fixture)

DAY = RunWindow(at(LAST_DAY, 0), at(LAST_DAY, 0) + timedelta(days=1))


def rows():
    return [o for agent in ("fixer", "triage-bot") for n in range(100) for o in trace(agent, LAST_DAY, n, error="x")]


@pytest.fixture
def fake() -> Iterator[FakeLangfuse]:
    scores = [score_to_row(s) for s in daily_scores(streak=10, critical_failure=True)]
    with FakeLangfuse(rows(), served_scores=scores, project_id=PROJECT) as server:
        yield server


SCORE_VIEW = {
    "view": "scores-numeric",
    "dimensions": [{"field": "name"}, {"field": "traceName"}],
    "metrics": [{"measure": "count", "aggregation": "count"}],
    "filters": [{"column": "name", "operator": "any of", "value": ["relevance"], "type": "stringOptions"}],
    "fromTimestamp": "2026-11-22T00:00:00Z",
    "toTimestamp": "2026-11-23T00:00:00Z",
}
RESPONSES = [
    ("/api/public/v3/scores", {"limit": 100, "fields": "details,subject", "name": "relevance"}),
    ("/api/public/v3/scores", {"dataType": "NUMERIC", "valueMax": 0.5, "limit": 5}),
    ("/api/public/v3/scores", {"dataType": "BOOLEAN", "value": "false", "fields": "subject,annotation"}),
    ("/api/public/v3/scores", {"dataType": "CATEGORICAL", "value": "rude,toxic", "fields": "details"}),
    ("/api/public/v2/scores", {"name": "tests_pass", "dataType": "BOOLEAN", "operator": "=", "value": 0}),
    ("/api/public/v2/scores", {"name": "tone", "limit": 10, "page": 2}),
    ("/api/public/v2/metrics", {"query": json.dumps(SCORE_VIEW)}),
    ("/api/public/metrics", {"query": json.dumps({**SCORE_VIEW, "view": "scores-categorical", "filters": []})}),
    ("/api/public/observations", {"level": "ERROR", "limit": 10}),
]


@pytest.mark.parametrize(("path", "params"), RESPONSES, ids=[f"{p} {sorted(q)}" for p, q in RESPONSES])
def test_fake_score_responses_follow_the_spec(spec: OpenAPI, fake: FakeLangfuse, path: str, params: dict) -> None:  # noqa: F811
    response = fetch(fake, "GET", path, params)
    assert response.status_code == 200, response.text
    assert response.json()["data"]
    validate_response(spec, response)


def test_the_spec_check_catches_a_wrong_score_value(spec: OpenAPI, fake: FakeLangfuse) -> None:  # noqa: F811
    for row in fake.served_scores:
        if row["dataType"] == "BOOLEAN":
            row["value"] = "no"  # a string where v3 returns a boolean
    response = fetch(fake, "GET", "/api/public/v3/scores", {"dataType": "BOOLEAN"})
    with pytest.raises(InvalidData):
        validate_response(spec, response)


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"limit": 101}, "limit"),
        ({"fields": "everything"}, "field group"),
        ({"value": "false"}, "dataType"),
        ({"dataType": "BOOLEAN", "valueMax": 1}, "NUMERIC"),
        ({"traceId": "a", "sessionId": "b"}, "exclusive"),
    ],
)
def test_the_fake_rejects_what_the_server_rejects(fake: FakeLangfuse, params: dict, reason: str) -> None:
    response = fetch(fake, "GET", "/api/public/v3/scores", params)
    assert response.status_code == 400 and reason in response.text


@pytest.mark.parametrize("legacy", [False, True], ids=["v2", "legacy"])
def test_requests_the_source_sends_follow_the_spec(spec: OpenAPI, legacy: bool) -> None:  # noqa: F811
    scores = [score_to_row(s) for s in daily_scores(streak=10, critical_failure=True)]
    with FakeLangfuse(rows(), served_scores=scores, project_id=PROJECT, legacy_only=legacy) as server:
        source = LangfuseSource(server.url, server.public_key, server.secret_key, retry=RetryPolicy(attempts=1))
        errors = list(source.observations(ObservationQuery(DAY, levels=("ERROR",))))
        failing = list(source.read_scores(ScoreQuery(DAY, "relevance", "NUMERIC", value_below=0.5)))
        failing += list(source.read_scores(ScoreQuery(DAY, "leaks_secret", "BOOLEAN", values=("false",))))
        failing += list(source.read_scores(ScoreQuery(DAY, "tone", "CATEGORICAL", values=("rude", "toxic"))))
        counts = source.score_counts(ScoreCountQuery(DAY, ("relevance", "tone"), categorical=True))
        source.close()
        checked = [r for r in server.requests if r.path != "/api/public/v2/observations" or not legacy]
        for recorded in checked:
            spec.validate_request(recorded_to_mock(recorded))
    assert len(errors) == 200 and {o.level for o in errors} == {"ERROR"}
    # relevance: 2 usual failures per agent + a 10-score streak for fixer; one critical leak; 4 rude tones
    assert sorted((s.name, s.trace_name) for s in failing).count(("relevance", "fixer")) == 12
    assert [(s.name, s.trace_name, s.comment) for s in failing if s.name == "leaks_secret"] == [
        ("leaks_secret", "triage-bot", "printed an API key")
    ]
    assert sum(s.name == "tone" for s in failing) == 4
    assert {(c.name, c.trace_name): c.count for c in counts} == {
        ("relevance", "fixer"): 100,
        ("relevance", "triage-bot"): 100,
        ("tone", "fixer"): 100,
        ("tone", "triage-bot"): 100,
    }

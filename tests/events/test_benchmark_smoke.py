"""The events benchmark's tools at a tiny scale: the indexed score routes answer like the tests' fake, and
a run measures. Nothing here times anything; the figures are in benchmarks/RESULTS.md."""

from __future__ import annotations

import httpx

from benchmarks.events_requests import DAY, ScoresIndexedFake, day_of_traffic, measure
from tests.fakes.langfuse_rows import stored_row
from tests.fakes.langfuse_server import FakeLangfuse


def test_indexed_score_routes_answer_like_the_tests_fake() -> None:
    rows, scores = day_of_traffic(200)
    indexed = ScoresIndexedFake.from_rows([stored_row(o, "proj-bench") for o in rows], project_id="proj-bench")
    indexed.served_scores = list(scores)
    indexed.index_scores()
    plain = FakeLangfuse(rows, served_scores=list(scores), project_id="proj-bench")
    params = {
        "name": "relevance",
        "dataType": "NUMERIC",
        "valueMax": 0.5,
        "fromTimestamp": DAY.isoformat(),
        "toTimestamp": "2026-11-18T12:00:00+00:00",
        "fields": "subject",
        "limit": 1,
    }
    answers = []
    for fake in (indexed, plain):
        with fake, httpx.Client(base_url=fake.url, auth=(fake.public_key, fake.secret_key)) as client:
            first = client.get("/api/public/v3/scores", params=params).json()
            second = client.get("/api/public/v3/scores", params={**params, "cursor": first["meta"]["cursor"]}).json()
            answers.append((first, second))
    assert answers[0] == answers[1]
    assert len(answers[0][0]["data"]) == 1 and answers[0][0]["data"] != answers[0][1]["data"]


def test_a_tiny_measurement_runs_and_counts_requests() -> None:
    result = measure(120)
    assert [run["status"] for run in result["monitor"]] == ["ok"] * 5
    assert all(run["requests"] > 0 for run in result["monitor"] + result["naive"])

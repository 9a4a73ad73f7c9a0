"""LangfuseSource under faults: rate limits, server errors, timeouts, bad bodies, looping cursors,
malformed rows, and secrets that must never leak."""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta

import httpx
import pytest

from monitors.contracts.errors import SourceError
from monitors.contracts.findings import RunWindow
from monitors.contracts.source import CostQuery, ObservationQuery, Score
from monitors.sources.langfuse import LangfuseSource
from monitors.support.retry import RetryPolicy
from tests.fakes.langfuse_server import FakeLangfuse
from tests.sources.langfuse_data import ALL_FIELDS, T0, build_dataset

V2_OBS = "/api/public/v2/observations"
WINDOW = RunWindow(T0 - timedelta(hours=2), T0 + timedelta(days=3))
DATA = build_dataset()


@pytest.fixture
def server() -> Iterator[FakeLangfuse]:
    with FakeLangfuse(DATA) as fake:
        yield fake


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def make_source(server: FakeLangfuse, sleeps: Sleeps, *, attempts: int = 5, **kwargs: object) -> LangfuseSource:
    policy = RetryPolicy(attempts=attempts, base_delay=0.01, max_delay=30, max_total_wait=100, sleep=sleeps)
    return LangfuseSource(server.url, server.public_key, server.secret_key, retry=policy, **kwargs)  # type: ignore[arg-type]


def read_all(source: LangfuseSource) -> list[object]:
    return list(source.observations(ObservationQuery(window=WINDOW, fields=ALL_FIELDS)))


def test_429_storm_is_ridden_out_within_retry_after(server: FakeLangfuse) -> None:
    server.fail_next(V2_OBS, 429, retry_after=2, times=3)
    sleeps = Sleeps()
    source = make_source(server, sleeps)
    assert len(read_all(source)) == len(DATA)
    assert sleeps == [2.0, 2.0, 2.0]
    assert source.stats.by_endpoint[V2_OBS] == 4 == len(server.requests_to(V2_OBS))
    assert source.stats.retries == 3


def test_retry_after_is_capped_by_the_policy(server: FakeLangfuse) -> None:
    server.fail_next(V2_OBS, 429, retry_after=3600, times=1)
    sleeps = Sleeps()
    assert len(read_all(make_source(server, sleeps))) == len(DATA)
    assert sleeps == [30.0]


def test_server_error_then_success(server: FakeLangfuse) -> None:
    server.fail_next("/api/public/v2/metrics", 500, times=1)
    sleeps = Sleeps()
    source = make_source(server, sleeps)
    buckets = source.costs(CostQuery(WINDOW.start, WINDOW.end, "day"))
    assert round(sum(b.cost for b in buckets), 9) == round(sum(o.total_cost for o in DATA), 9)
    assert len(sleeps) == 1 and 0 < sleeps[0] <= 0.01  # backoff, no Retry-After given
    assert source.stats.by_endpoint["/api/public/v2/metrics"] == 2


def test_persistent_errors_end_in_source_error_naming_endpoint_and_status(server: FakeLangfuse) -> None:
    server.fail_next(V2_OBS, 503, times=10)
    sleeps = Sleeps()
    source = make_source(server, sleeps, attempts=3)
    with pytest.raises(SourceError, match=r"GET /api/public/v2/observations: HTTP 503; gave up after 3"):
        read_all(source)
    assert source.stats.requests == 3 and len(sleeps) == 2


def test_malformed_json_body_is_retried(server: FakeLangfuse) -> None:
    server.malformed_next(V2_OBS, times=1)
    source = make_source(server, Sleeps())
    assert len(read_all(source)) == len(DATA)
    assert source.stats.by_endpoint[V2_OBS] == 2


def test_repeating_cursor_raises_instead_of_looping(server: FakeLangfuse) -> None:
    server.repeat_cursor = True
    source = make_source(server, Sleeps(), page_size=10)
    with pytest.raises(SourceError, match="cursor"):
        read_all(source)
    assert len(server.requests_to(V2_OBS)) == 2


def test_pages_stream_and_every_request_is_counted(server: FakeLangfuse) -> None:
    source = make_source(server, Sleeps(), page_size=25)
    stream = source.observations(ObservationQuery(window=WINDOW))
    first = next(stream)
    assert first is not None and len(server.requests_to(V2_OBS)) == 1  # one page fetched, no more
    rest = list(stream)
    pages = -(-len(DATA) // 25)
    assert 1 + len(rest) == len(DATA)
    assert source.stats.requests == pages == len(server.requests)
    cursors = [r.param("cursor") for r in server.requests_to(V2_OBS)]
    assert cursors[0] is None and None not in cursors[1:] and len(set(cursors)) == pages


def test_timeout_is_retried_then_source_error(server: FakeLangfuse) -> None:
    server.delay_next(V2_OBS, 0.5, times=2)
    sleeps = Sleeps()
    source = make_source(server, sleeps, attempts=2, timeout=0.1)
    with pytest.raises(SourceError, match="timed out"):
        read_all(source)
    assert source.stats.by_endpoint[V2_OBS] == 2 and len(sleeps) == 1


def test_malformed_rows_are_counted_and_skipped() -> None:
    bad_rows = [
        {"id": "bad-1", "traceId": "t", "type": "SPAN", "startTime": "yesterday", "projectId": "p"},
        {"id": "bad-2", "type": "SPAN", "startTime": "2026-11-20T10:00:00Z", "projectId": "p"},
        {"id": "bad-3", "traceId": "t", "type": "SPAN", "startTime": "2026-11-20T10:00:00Z", "totalCost": "lots"},
    ]
    with FakeLangfuse([*DATA, *bad_rows]) as fake:
        source = make_source(fake, Sleeps())
        assert sorted(o.id for o in read_all(source)) == sorted(o.id for o in DATA)
    assert source.stats.malformed == 3
    reasons = " | ".join(source.stats.malformed_examples)
    assert "startTime" in reasons and "traceId" in reasons and "totalCost" in reasons


def test_secret_never_in_errors_logs_or_repr(server: FakeLangfuse, caplog: pytest.LogCaptureFixture) -> None:
    server.fail_next(V2_OBS, 500, times=10)
    source = make_source(server, Sleeps(), attempts=2)
    with caplog.at_level(logging.DEBUG), pytest.raises(SourceError) as raised:
        read_all(source)
    server.faults.clear()
    wrong_key = LangfuseSource(server.url, server.public_key, "sk-lf-wrong-secret", retry=RetryPolicy(attempts=1))
    with caplog.at_level(logging.DEBUG), pytest.raises(SourceError) as unauthorized:
        read_all(wrong_key)
    assert "HTTP 401" in str(unauthorized.value)
    # Keys of another cloud region are refused alike: the error says what to check.
    assert "check langfuse.public_key and secret_key, and that langfuse.host, 127.0.0.1:" in str(unauthorized.value)
    for text in (str(raised.value), str(unauthorized.value), caplog.text, repr(source), repr(wrong_key)):
        assert server.secret_key not in text and "sk-lf-wrong-secret" not in text


def test_a_host_that_answers_with_a_web_page_fails_at_once_naming_the_setting() -> None:
    asked: list[str] = []

    def web_page(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.path)
        return httpx.Response(200, text="<html><body>Welcome</body></html>", headers={"content-type": "text/html"})

    policy = RetryPolicy(attempts=5, base_delay=0.01, sleep=Sleeps())
    source = LangfuseSource(
        "https://www.example.com", "pk-lf-1", "sk-lf-1", retry=policy, transport=httpx.MockTransport(web_page)
    )
    with pytest.raises(SourceError) as raised:
        read_all(source)
    assert len(asked) == 1  # not retried: asking the wrong host again does not help
    assert "www.example.com answered with an HTML page, not JSON: is langfuse.host the base URL" in str(raised.value)


def test_trace_url_uses_project_from_rows_or_one_projects_call(server: FakeLangfuse) -> None:
    source = make_source(server, Sleeps())
    assert source.trace_url("t1") == f"{server.url}/project/proj-fake/traces/t1"
    assert source.trace_url("t2") == f"{server.url}/project/proj-fake/traces/t2"
    assert len(server.requests_to("/api/public/projects")) == 1
    reading = make_source(server, Sleeps())
    read_all(reading)
    assert reading.trace_url("t3") == f"{server.url}/project/proj-fake/traces/t3"
    assert len(server.requests_to("/api/public/projects")) == 1  # known from the rows


SCORES = [
    Score(id="drift:trace-000", trace_id="trace-000", name="goal_drift", value=0.31, timestamp=T0, comment="low"),
    Score(id="drift:trace-001", trace_id="trace-001", name="goal_drift", value=0.82, timestamp=T0),
]


def test_scores_are_posted_one_object_each_and_a_same_day_rerun_overwrites() -> None:
    # The 2026-08 server answers the first list with 400; from then on every score goes as one object.
    with FakeLangfuse(DATA) as fake:
        source = make_source(fake, Sleeps())
        source.write_scores(SCORES)
        source.write_scores(SCORES)
        assert sorted(fake.scores) == ["drift:trace-000", "drift:trace-001"]
        assert len(fake.score_rows) == 2  # same id, name and day: overwritten
        stored = fake.scores["drift:trace-000"]
        assert (stored["traceId"], stored["name"], stored["value"], stored["dataType"]) == (
            "trace-000",
            "goal_drift",
            0.31,
            "NUMERIC",
        )
        assert stored["comment"] == "low"
        posts = fake.requests_to("/api/public/scores")
        assert [isinstance(p.body, list) for p in posts] == [True, False, False, False, False]
        assert source.score_lists is False


def test_a_newer_server_gets_one_list_per_call_and_the_same_id_and_timestamp_replace_a_score() -> None:
    with FakeLangfuse(DATA, scores_accept_list=True) as fake:
        source = make_source(fake, Sleeps())
        source.write_scores(SCORES)
        source.write_scores([replace(s, value=0.5) for s in SCORES])
        posts = fake.requests_to("/api/public/scores")
    assert source.score_lists is True
    assert [len(p.body) for p in posts] == [2, 2]
    assert {p.body[0]["timestamp"] for p in posts} == {T0.isoformat(timespec="milliseconds")}
    assert len(fake.score_rows) == 2 and {row["value"] for row in fake.score_rows.values()} == {0.5}


def test_a_score_a_server_refuses_is_reported_and_the_others_are_written() -> None:
    nan = Score(id="drift:trace-003", trace_id="trace-003", name="goal_drift", value=math.nan, timestamp=T0)
    refused = Score(id="drift:trace-002", trace_id="trace-002", name="goal_drift", value=0.1, timestamp=T0)
    for accepts_lists in (False, True):
        with FakeLangfuse(DATA, scores_accept_list=accepts_lists, refused_scores={refused.id}) as fake:
            source = make_source(fake, Sleeps())
            outcome = source.write_scores([*SCORES, refused, nan])
            assert sorted(fake.scores) == ["drift:trace-000", "drift:trace-001"], accepts_lists
            bodies = [p.body for p in fake.requests_to("/api/public/scores")]
        assert outcome.rejected == 2 and len(outcome.errors) == 2
        said = "invalid for its score config" if accepts_lists else "HTTP 400: Invalid request data"
        assert said in outcome.errors[0] and "finite" in outcome.errors[1]
        # A NaN is never sent (it is not JSON); one object each names the refused score, a 207 only counts it.
        assert "NaN" not in repr(bodies)
        assert outcome.rejected_ids == ({nan.id} if accepts_lists else {refused.id, nan.id})


def test_a_list_refused_as_a_whole_by_a_list_taking_server_is_sent_one_list_of_one_each() -> None:
    # Say a proxy or a stricter server refuses one list outright (400): the scores still keep their
    # timestamps, so each goes alone as a list of one and only the bad one is lost.
    refused = Score(id="drift:trace-002", trace_id="trace-002", name="goal_drift", value=0.1, timestamp=T0)
    with FakeLangfuse(DATA, scores_accept_list=True) as fake:
        source = make_source(fake, Sleeps())
        source.write_scores(SCORES[:1])  # the server takes lists
        fake.fail_next("/api/public/scores", 400, times=1)
        outcome = source.write_scores([SCORES[1], refused])
        bodies = [p.body for p in fake.requests_to("/api/public/scores")]
    assert (outcome.rejected, outcome.rejected_ids) == (0, set())
    assert [len(b) for b in bodies] == [1, 2, 1, 1] and all(isinstance(b, list) for b in bodies)
    assert {item["timestamp"] for b in bodies for item in b} == {T0.isoformat(timespec="milliseconds")}
    assert sorted(fake.scores) == ["drift:trace-000", "drift:trace-001", "drift:trace-002"]

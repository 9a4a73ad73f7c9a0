"""The fake Langfuse must not drift from the real API: its responses, and the requests our source
sends it, are validated against the official OpenAPI spec (reference/langfuse-openapi.yml).

/metrics/daily is not in the spec any more (removed May 2025), so it is not checked here.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from openapi_core import Config, OpenAPI
from openapi_core.testing import MockRequest, MockResponse
from openapi_core.validation.response.exceptions import InvalidData

from monitors.contracts.findings import RunWindow
from monitors.contracts.source import CostQuery, ObservationQuery, Score
from monitors.sources.langfuse import LangfuseSource
from monitors.support.retry import RetryPolicy
from tests.fakes.langfuse_server import FakeLangfuse, RecordedRequest
from tests.sources.langfuse_data import ALL_FIELDS, T0, build_dataset

SPEC_PATH = Path(__file__).resolve().parents[1] / "reference" / "langfuse-openapi.yml"
HOST = "http://langfuse.test"  # the spec declares no servers; any host will do
WINDOW = RunWindow(T0 - timedelta(hours=2), T0 + timedelta(days=3))


_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the spec is 500 kB: the C loader is much faster


@pytest.fixture(scope="module")
def spec() -> OpenAPI:
    # The spec itself uses a few 3.1 keywords (`const`) under "openapi: 3.0"; validating the document
    # would reject it, so we skip that and validate traffic against its schemas only.
    return OpenAPI.from_dict(yaml.load(SPEC_PATH.read_text(), Loader=_Loader), config=Config(spec_validator_cls=None))


@pytest.fixture
def fake() -> Iterator[FakeLangfuse]:
    with FakeLangfuse(build_dataset(traces=4)) as server:
        yield server


def fetch(
    fake: FakeLangfuse, method: str, path: str, params: dict[str, Any] | None = None, body: Any = None
) -> httpx.Response:
    with httpx.Client(base_url=fake.url, auth=(fake.public_key, fake.secret_key)) as client:
        return client.request(method, path, params=params, json=body)


def validate_response(spec: OpenAPI, response: httpx.Response) -> None:
    request = response.request
    args = {k: v for k, v in request.url.params.multi_items()}
    mock_request = MockRequest(HOST, request.method, request.url.path, args=args, data=request.content or None)
    mock_response = MockResponse(response.content, status_code=response.status_code)
    spec.validate_response(mock_request, mock_response)


V2_QUERY = {
    "view": "observations",
    "dimensions": [{"field": "traceName"}],
    "metrics": [{"measure": "totalCost", "aggregation": "sum"}, {"measure": "count", "aggregation": "count"}],
    "filters": [],
    "timeDimension": {"granularity": "day"},
    "fromTimestamp": "2026-11-19T00:00:00Z",
    "toTimestamp": "2026-11-23T00:00:00Z",
}

RESPONSES: list[tuple[str, str, dict[str, Any] | None, Any]] = [
    ("GET", "/api/public/v2/observations", {"fields": ",".join(sorted(ALL_FIELDS)), "limit": 5}, None),
    ("GET", "/api/public/v2/observations", {"fields": "core", "type": "TOOL"}, None),
    ("GET", "/api/public/v2/metrics", {"query": json.dumps(V2_QUERY)}, None),
    ("GET", "/api/public/metrics", {"query": json.dumps(V2_QUERY)}, None),
    ("GET", "/api/public/observations", {"limit": 10, "page": 1}, None),
    ("GET", "/api/public/traces", {"limit": 10}, None),
    ("GET", "/api/public/traces/trace-001", None, None),
    ("GET", "/api/public/projects", None, None),
    ("GET", "/api/public/health", None, None),
    ("POST", "/api/public/scores", None, {"id": "s-1", "traceId": "trace-001", "name": "drift", "value": 0.5}),
]


@pytest.mark.parametrize(("method", "path", "params", "body"), RESPONSES, ids=[f"{m} {p}" for m, p, *_ in RESPONSES])
def test_fake_responses_follow_the_spec(
    spec: OpenAPI, fake: FakeLangfuse, method: str, path: str, params: dict[str, Any] | None, body: Any
) -> None:
    response = fetch(fake, method, path, params, body)
    assert response.status_code == 200, response.text
    assert response.json().get("data", True)  # something was served, so the schema check had content
    validate_response(spec, response)


@pytest.mark.parametrize(
    ("path", "corrupt"),
    [
        ("/api/public/v2/observations", {"startTime": 1732000000}),  # a number where a string is required
        ("/api/public/v2/observations", {"tags": "prod"}),  # a string where an array is required
        ("/api/public/v2/observations", {"usageDetails": {"input": "many"}}),  # integers required
    ],
)
def test_the_spec_check_can_fail(spec: OpenAPI, fake: FakeLangfuse, path: str, corrupt: dict[str, Any]) -> None:
    fake.corrupt = corrupt
    response = fetch(fake, "GET", path, {"fields": ",".join(sorted(ALL_FIELDS))})
    assert response.status_code == 200
    with pytest.raises(InvalidData):
        validate_response(spec, response)


def recorded_to_mock(request: RecordedRequest) -> MockRequest:
    args = {k: v[0] for k, v in request.query.items()}
    data = json.dumps(request.body).encode() if request.body is not None else None
    # The fake answered 401 to anything without the right Basic auth; the header itself is not recorded.
    headers = {"Authorization": "Basic cGs6c2s="}
    return MockRequest(HOST, request.method, request.path, args=args, data=data, headers=headers)


def test_requests_our_source_sends_follow_the_spec(spec: OpenAPI) -> None:
    sources = []
    for legacy in (False, True):
        with FakeLangfuse(build_dataset(traces=4), legacy_only=legacy, scores_accept_list=False) as server:
            retry = RetryPolicy(attempts=1)
            source = LangfuseSource(server.url, server.public_key, server.secret_key, retry=retry, page_size=7)
            list(source.observations(ObservationQuery(window=WINDOW, fields=ALL_FIELDS, types=("TOOL",))))
            source.costs(CostQuery(WINDOW.start, WINDOW.end, "day", group_by="tags"))
            source.write_scores([Score(id="s1", trace_id="trace-000", name="drift", value=0.4, timestamp=T0)])
            sources.append(server)
            checked = [
                r
                for r in server.requests
                if r.path != "/api/public/metrics/daily" and not (r.method == "POST" and isinstance(r.body, list))
            ]
            assert len(checked) >= 3
            for recorded in checked:
                spec.validate_request(recorded_to_mock(recorded))


def test_the_fakes_list_of_scores_follows_the_sdk_5_client() -> None:
    # The 2026-08 spec has no list body; the newer server's contract is the one the SDK 5 client is
    # generated from: our list items must be its CreateScoreRequest, and the SDK must read the fake's
    # 202 and 207 as its CreateScoreBatchResponse and CreateScoreBatchResults.
    from langfuse.api.client import LangfuseAPI
    from langfuse.api.scores.types import CreateScoreBatchResponse, CreateScoreBatchResults, CreateScoreRequest

    scores = [Score(id=f"s{i}", trace_id="trace-000", name="drift", value=i / 4, timestamp=T0) for i in range(3)]
    with FakeLangfuse([], scores_accept_list=True, refused_scores={"s9"}) as server:
        source = LangfuseSource(server.url, server.public_key, server.secret_key, retry=RetryPolicy(attempts=1))
        source.write_scores(scores)
        items = [item for r in server.requests if r.method == "POST" for item in r.body]
        sdk = LangfuseAPI(base_url=server.url, username=server.public_key, password=server.secret_key)
        accepted = sdk.scores.create(request=[CreateScoreRequest(id="s8", name="drift", value=1.0, timestamp=T0)])
        partly = sdk.scores.create(request=[CreateScoreRequest(id=i, name="drift", value=0.5) for i in ("s9", "s10")])
    assert len(items) == 3
    for item in items:
        parsed = CreateScoreRequest.model_validate(item)
        assert parsed.timestamp == T0 and parsed.id in {"s0", "s1", "s2"}
    assert isinstance(accepted, CreateScoreBatchResponse)
    assert isinstance(partly, CreateScoreBatchResults) and (partly.accepted, partly.rejected) == (1, 1)
    assert "s8" in server.scores and "s10" in server.scores and "s9" not in server.scores

"""Smoke tests of the benchmark tools at a tiny scale: the generator, the indexed fake, the baseline, the meter.

Nothing here times anything; the figures live in benchmarks/RESULTS.md.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from benchmarks.generate import WEEK_END, WEEK_START, generate
from benchmarks.measure import busiest_minute, run_measured
from benchmarks.naive import Client, naive_audit, naive_cost
from benchmarks.score_writes import measure
from benchmarks.server import IndexedFakeLangfuse, read_rows
from tests.fakes.langfuse_server import FakeLangfuse

TRACES = 40


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("bench")
    data, fixture = folder / "obs.jsonl", folder / "gitlab.json"
    generate(TRACES, data, fixture, seed=3)
    return data, fixture


def test_generator_is_deterministic_and_counts_what_it_wrote(dataset: tuple[Path, Path], tmp_path: Path) -> None:
    data, fixture = dataset
    generate(TRACES, tmp_path / "again.jsonl", tmp_path / "again.json", seed=3)
    assert (tmp_path / "again.jsonl").read_bytes() == data.read_bytes()
    assert (tmp_path / "again.json").read_bytes() == fixture.read_bytes()
    rows = list(read_rows(data))
    meta = json.loads(data.with_suffix(".meta.json").read_text())
    assert meta["observations"] == len(rows)
    assert meta["traces"] == len({r["traceId"] for r in rows}) == TRACES
    assert all(WEEK_START.isoformat()[:10] <= r["startTime"][:10] < WEEK_END.isoformat()[:10] for r in rows)


def test_every_merge_request_named_in_metadata_is_in_the_gitlab_fixture(dataset: tuple[Path, Path]) -> None:
    data, fixture = dataset
    projects = json.loads(fixture.read_text())["projects"]
    named = {(r["metadata"]["repo"], r["metadata"]["mr_iid"]) for r in read_rows(data) if "mr_iid" in r["metadata"]}
    assert named, "the tiny dataset should still hold a coding session"
    for repo, iid in named:
        assert projects[repo]["merge_requests"][iid]["commits"]
    coding = [r for r in read_rows(data) if r["traceName"] in ("llm-fix", "issue-executor", "pipeline-medic")]
    assert all(r["metadata"]["objective"] and r["metadata"]["repo"] for r in coding)
    tools = Counter(r["type"] for r in read_rows(data))
    assert tools["TOOL"] == tools["GENERATION"] and tools["SPAN"] == TRACES


REQUESTS: list[tuple[str, dict[str, Any]]] = [
    (
        "/api/public/v2/observations",
        {
            "limit": 7,
            "fields": "core,basic,usage,metadata",
            "filter": json.dumps(
                [
                    {"type": "datetime", "column": "startTime", "operator": ">=", "value": "2026-11-17T00:00:00Z"},
                    {"type": "datetime", "column": "startTime", "operator": "<", "value": "2026-11-21T00:00:00Z"},
                    {"type": "stringOptions", "column": "type", "operator": "any of", "value": ["TOOL", "GENERATION"]},
                ]
            ),
        },
    ),
    (
        "/api/public/v2/metrics",
        {
            "query": json.dumps(
                {
                    "view": "observations",
                    "metrics": [{"measure": "totalCost", "aggregation": "sum"}],
                    "dimensions": [{"field": "traceName"}],
                    "timeDimension": {"granularity": "day"},
                    "fromTimestamp": "2026-11-16T00:00:00Z",
                    "toTimestamp": "2026-11-23T00:00:00Z",
                }
            )
        },
    ),
    (
        "/api/public/traces",
        {"fromTimestamp": "2026-11-18T00:00:00Z", "toTimestamp": "2026-11-22T00:00:00Z", "limit": 5},
    ),
]


def _rounded(value: Any) -> Any:
    # Sums depend on the order rows are added in; the two fakes store rows in different orders.
    if isinstance(value, float):
        return round(value, 9)
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return value


def _pages(client: httpx.Client, path: str, params: dict[str, Any]) -> list[Any]:
    bodies, cursor, page = [], None, 1
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {}), **({"page": page} if "limit" in params else {})}
        body = client.get(path, params=query).raise_for_status().json()
        bodies.append(body)
        cursor = (body.get("meta") or {}).get("cursor")
        if path.endswith("/traces") and page < body["meta"]["totalPages"]:
            page += 1
        elif not cursor:
            return bodies


def test_indexed_fake_answers_exactly_like_the_tests_fake(dataset: tuple[Path, Path]) -> None:
    rows = list(read_rows(dataset[0]))
    with FakeLangfuse(rows) as plain, IndexedFakeLangfuse.from_rows(rows) as fast:
        auth = (plain.public_key, plain.secret_key)
        with httpx.Client(base_url=plain.url, auth=auth) as a, httpx.Client(base_url=fast.url, auth=auth) as b:
            for path, params in REQUESTS:
                expected = _rounded(_pages(a, path, params))
                assert _rounded(_pages(b, path, params)) == expected
                assert expected[0]["data"], f"{path}: the comparison should not be between two empty answers"
            some_trace = rows[5]["traceId"]
            path = f"/api/public/traces/{some_trace}"
            assert b.get(path).json() == a.get(path).json()
        assert len(fast.arrivals) == len(fast.requests) > len(REQUESTS)


def test_naive_cost_reads_every_trace_of_the_day_and_sums_its_rows(dataset: tuple[Path, Path]) -> None:
    rows = list(read_rows(dataset[0]))
    day = max(r["startTime"][:10] for r in rows)
    until = WEEK_END - timedelta(minutes=1)
    traces = {r["traceId"] for r in rows if r["startTime"][:10] == day and r["isRootObservation"]}
    want = sum(r["totalCost"] for r in rows if r["traceId"] in traces)
    with IndexedFakeLangfuse.from_rows(rows) as fake:
        client = Client(fake.url, (fake.public_key, fake.secret_key))
        result = naive_cost(client, until - timedelta(minutes=15), until)
    assert result["today_total"] == pytest.approx(want)
    assert result["traces"] == len(traces)
    assert client.requests == len(traces) + max(1, -(-len(traces) // 50))


def test_naive_audit_finds_the_generated_loop(tmp_path: Path) -> None:
    # Enough traces that the 5% of coding sessions that loop include one.
    data, fixture = tmp_path / "obs.jsonl", tmp_path / "gitlab.json"
    generate(300, data, fixture, seed=3)
    with IndexedFakeLangfuse.from_jsonl(data) as fake:
        client = Client(fake.url, (fake.public_key, fake.secret_key))
        result = naive_audit(client, WEEK_START, WEEK_END)
    assert result["traces"] == 300
    assert result["records"] == sum(1 for _ in read_rows(data))
    assert result["findings"] >= 1


def test_busiest_minute_counts_the_densest_60_seconds() -> None:
    assert busiest_minute([]) == 0
    assert busiest_minute([0, 10, 59.9, 60, 61, 200]) == 4  # 10..61 (59.9 ≤ 60 s apart from 10)
    assert busiest_minute([0, 100, 200]) == 1


@pytest.mark.slow
def test_run_measured_attributes_a_childs_requests_and_memory(dataset: tuple[Path, Path]) -> None:
    rows = list(read_rows(dataset[0]))
    with IndexedFakeLangfuse.from_rows(rows) as fake:
        fake.requests.clear()
        code = (
            "import httpx,sys; a=(sys.argv[2],sys.argv[3])\n"
            "for p in ['/api/public/projects','/api/public/health','/api/public/v2/metrics']:\n"
            "    httpx.get(sys.argv[1]+p, auth=a)\n"
            "x = bytearray(64*1024*1024)"
        )
        cmd = [sys.executable, "-c", code, fake.url, fake.public_key, fake.secret_key]
        result = run_measured("child", cmd, fake)
    assert result.exit_code == 0, result.stderr_tail
    assert (result.general, result.metrics, result.scores) == (2, 1, 0)
    assert result.peak_mb > 64  # the child's own peak, including the 64 MiB it allocated


@pytest.mark.slow
def test_a_childs_peak_memory_is_not_the_runners() -> None:
    ballast = b"x" * (400 * 1024 * 1024)  # the runner holds a big dataset, as with a million rows
    result = run_measured("small child", [sys.executable, "-c", "pass"])
    assert len(ballast) and result.exit_code == 0
    assert result.peak_mb < 100, "a bare interpreter was charged with the runner's memory"


def test_score_writes_benchmark_counts_requests_on_both_servers(tmp_path: Path) -> None:
    single = measure(60, 0.0, lists=False, work=tmp_path)
    lists = measure(60, 0.0, lists=True, work=tmp_path)
    # The next day has no new score: on the 2026-08 server the list of one is a changed score, sent again
    # after the DELETE (one POST more); a list-taking server replaces it and spends no DELETE.
    assert [r["requests"] for r in single["runs"]] == [{"POST": 61}, {"DELETE": 6, "POST": 8}]
    assert [r["requests"] for r in lists["runs"]] == [{"POST": 3}, {"POST": 2}]
    assert single["rows"] == lists["rows"] == 60  # no duplicate on either
    assert all(r["pending"] == 0 for r in single["runs"] + lists["runs"])

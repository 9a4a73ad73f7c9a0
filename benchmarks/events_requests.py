"""Requests per run of the events monitor at 1k, 10k and 100k traces a day, next to a naive poller.

    .venv/bin/python -m benchmarks.events_requests --scales 1k,10k,100k --out benchmarks/results/results-events.json

Per scale: one UTC day of traffic, spread evenly over the hours (a root and a generation per trace; 1
trace in 100 has a failed generation with a varied message), two evaluators scoring every trace (2%
failing), served on 127.0.0.1 by the benchmarks' indexed fake Langfuse (benchmarks/server.py) extended
with indexed score routes (the tests' handlers applied to a time slice, so the replies are the same).
The monitor runs as a schedule would (one first run that also reads the 14 baseline days, then hourly
runs from the watermark) through the real source and pipeline; requests come from the fake's own log.
The naive poller is what people write by hand: every run reads the window's observations and scores in
full and filters them locally (pages of 1000 observations and 100 scores, the servers' maximums),
measured against the same fake in the same run.
"""

from __future__ import annotations

import argparse
import bisect
import json
import tempfile
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from benchmarks.server import IndexedFakeLangfuse, _IndexedHandler
from monitors.contracts.findings import RunWindow
from monitors.contracts.records import Observation
from monitors.contracts.scores import ScoreRecord, score_to_row
from monitors.contracts.source import ObservationQuery
from monitors.engine.config import settings_from_dict
from monitors.engine.pipeline import RunDeps, run_once
from monitors.sources.langfuse import LangfuseSource
from monitors.store.store import Store
from monitors.support.retry import RetryPolicy
from tests.fakes import langfuse_events_endpoints as events_ep
from tests.fakes.langfuse_endpoints import Reply
from tests.fakes.langfuse_filters import BadRequest, parse_ts
from tests.fakes.langfuse_rows import stored_row
from tests.fakes.langfuse_server import FakeLangfuse
from tests.fakes.scripted_monitor import RecordingNotifier

SCALES = {"1k": 1_000, "10k": 10_000, "100k": 100_000}
DAY = datetime(2026, 11, 18, tzinfo=UTC)
FIRST_END = DAY + timedelta(hours=10)  # the first run covers 00:00-10:00 (and the baseline days)
HOURLY_RUNS = 4  # then 10:00-11:00 ... 13:00-14:00
DELAY = timedelta(minutes=15)
AGENTS = ("triage-bot", "fixer", "reviewer", "release-notes")
MESSAGES = (
    "Rate limit reached: retry after {n}s (request req_{h})",
    "Request timed out after {n} ms",
    "Tool call arguments were not valid JSON at position {n}",
)
CONFIG = {
    "channels": {"ops": {"kind": "stdout"}},
    "default_route": {"channels": ["ops"], "min_severity": "warning"},
    "monitors": {
        "events": {"evaluators": [{"name": "relevance", "below": 0.5}, {"name": "tests_pass", "fail_on_false": True}]}
    },
}


class ScoresIndexedFake(IndexedFakeLangfuse):
    """The indexed fake plus Scores v3 and the Metrics score views answered from a time-sorted index."""

    def index_scores(self) -> None:
        self.served_scores.sort(key=lambda r: (r["timestamp"], r["id"]))
        self._score_times = [parse_ts(r["timestamp"]).timestamp() for r in self.served_scores]
        self._score_cache: dict[Any, list[dict[str, Any]]] = {}
        self._score_lock = threading.Lock()

    def score_slice(self, start: str | None, end: str | None) -> list[dict[str, Any]]:
        lo = 0 if start is None else bisect.bisect_left(self._score_times, parse_ts(start).timestamp())
        hi = len(self._score_times) if end is None else bisect.bisect_left(self._score_times, parse_ts(end).timestamp())
        return self.served_scores[lo:hi]

    def _handler_base(self) -> type[_IndexedHandler]:
        return _ScoresHandler


def _v3_scores(fake: ScoresIndexedFake, request: Any) -> Reply:
    key = tuple(sorted((k, v[0]) for k, v in request.query.items() if k != "cursor"))
    with fake._score_lock:
        rows = fake._score_cache.get(key)
    if rows is None:
        rows = fake.score_slice(request.param("fromTimestamp"), request.param("toTimestamp"))
        with fake._score_lock:
            fake._score_cache = {key: rows}  # one query at a time: its cursor pages are slices
    return events_ep.v3_scores(SimpleNamespace(served_scores=rows, project_id=fake.project_id), request)


def _score_metrics(fake: ScoresIndexedFake, request: Any) -> Reply | None:
    query = json.loads(request.param("query") or "{}")
    if query.get("view") not in events_ep.SCORE_VIEWS:
        return None
    rows = fake.score_slice(query.get("fromTimestamp"), query.get("toTimestamp"))
    return Reply(
        200, {"data": events_ep._score_view_rows(SimpleNamespace(served_scores=rows, traces=fake.traces), query)}
    )


class _ScoresHandler(_IndexedHandler):
    fake: ScoresIndexedFake

    def _fast_route(self, method: str, path: str, request: Any) -> Reply:
        if method == "GET" and self.fake._authorized(self.headers.get("Authorization")):
            try:
                if path == "/api/public/v3/scores":
                    return _v3_scores(self.fake, request)
                if path == "/api/public/v2/metrics" and (reply := _score_metrics(self.fake, request)):
                    return reply
            except BadRequest as exc:
                return Reply(400, {"message": "Invalid request data", "error": str(exc)})
        return super()._fast_route(method, path, request)


def day_of_traffic(traces: int) -> tuple[list[Observation], list[dict[str, Any]]]:
    step = timedelta(days=1) / traces
    rows: list[Observation] = []
    scores: list[dict[str, Any]] = []
    for n in range(traces):
        start, agent, trace_id = DAY + n * step, AGENTS[n % len(AGENTS)], f"t{n:07d}"
        failed = n % 100 == 37
        common = dict(trace_id=trace_id, trace_name=agent, project_id="proj-bench")
        rows.append(Observation(id=f"{trace_id}-r", type="AGENT", start_time=start, is_root=True, **common))
        rows.append(
            Observation(
                id=f"{trace_id}-g",
                type="GENERATION",
                start_time=start + timedelta(seconds=1),
                parent_id=f"{trace_id}-r",
                is_root=False,
                level="ERROR" if failed else "DEFAULT",
                status_message=MESSAGES[n % 3].format(n=n % 997, h=f"{n * 7919:08x}") if failed else None,
                **common,
            )
        )
        bad = n % 50 == 11
        for name, value in (("relevance", 0.2 if bad else 0.8), ("tests_pass", not bad)):
            record = ScoreRecord(
                id=f"{name}-{trace_id}",
                name=name,
                data_type="BOOLEAN" if isinstance(value, bool) else "NUMERIC",
                value=value,
                timestamp=start + timedelta(seconds=30),
                trace_id=trace_id,
                trace_name=agent,
            )
            scores.append(score_to_row(record))
    return rows, scores


def windows() -> list[tuple[datetime | None, datetime]]:
    """(since, end) of each run: the first from midnight, then hourly from the watermark."""
    runs: list[tuple[datetime | None, datetime]] = [(DAY, FIRST_END)]
    runs += [(None, FIRST_END + timedelta(hours=h + 1)) for h in range(HOURLY_RUNS)]
    return runs


def monitor_runs(fake: FakeLangfuse, work: Path) -> list[dict[str, Any]]:
    store = Store.open(f"sqlite:///{work / 'events.db'}")
    settings = settings_from_dict(CONFIG, env={})
    out = []
    for since, end in windows():
        before = len(fake.requests)
        source = LangfuseSource(fake.url, fake.public_key, fake.secret_key, retry=RetryPolicy(attempts=1))
        summary = run_once(
            "events", settings, RunDeps(source, store, {"ops": RecordingNotifier()}), now=end + DELAY, since=since
        )
        source.close()
        by_path = Counter(r.path for r in fake.requests[before:])
        out.append(
            {
                "window": str(summary.window),
                "status": summary.status,
                "requests": summary.requests,
                "findings": summary.findings,
                "by_endpoint": dict(sorted(by_path.items())),
            }
        )
    store.close()
    return out


def naive_runs(fake: FakeLangfuse) -> list[dict[str, Any]]:
    """Every observation and every score of each window, read in full."""
    out = []
    for since, end in windows()[1:]:  # the hourly runs
        start = since or end - timedelta(hours=1)
        source = LangfuseSource(fake.url, fake.public_key, fake.secret_key, retry=RetryPolicy(attempts=1))
        before = len(fake.requests)
        errors = sum(o.level == "ERROR" for o in source.observations(ObservationQuery(RunWindow(start, end))))
        scores = _all_scores(source, start, end)
        source.close()
        out.append(
            {
                "window": f"{start:%H:%M}..{end:%H:%M}",
                "requests": len(fake.requests) - before,
                "errors_seen": errors,
                "scores_seen": scores,
            }
        )
    return out


def _all_scores(source: LangfuseSource, start: datetime, end: datetime) -> int:
    seen, cursor = 0, None
    params = {"limit": 100, "fromTimestamp": start.isoformat(), "toTimestamp": end.isoformat()}
    while True:
        body = source.session.get_json("/api/public/v3/scores", {**params, "cursor": cursor})
        seen += len(body["data"])
        cursor = body["meta"].get("cursor")
        if not cursor:
            return seen


def measure(traces: int) -> dict[str, Any]:
    rows, scores = day_of_traffic(traces)
    fake = ScoresIndexedFake.from_rows([stored_row(o, "proj-bench") for o in rows], project_id="proj-bench")
    fake.served_scores = scores
    fake.index_scores()
    with tempfile.TemporaryDirectory() as tmp, fake:
        monitor = monitor_runs(fake, Path(tmp))
        naive = naive_runs(fake)
    return {"traces_per_day": traces, "monitor": monitor, "naive": naive}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", default="1k,10k,100k")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    results = {scale: measure(SCALES[scale]) for scale in args.scales.split(",")}
    print("scale | monitor requests per run (first, then hourly) | naive requests per run")
    for scale, r in results.items():
        mon = [run["requests"] for run in r["monitor"]]
        naive = [run["requests"] for run in r["naive"]]
        print(f"{scale} | {mon} | {naive}")
    if args.out:
        args.out.write_text(json.dumps(results, indent=1, default=str) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

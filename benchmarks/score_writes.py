"""Writing a week of drift scores back to Langfuse: lists of 50 where the server takes them, one each where not.

    .venv/bin/python -m benchmarks.score_writes --scores 3902 --latency 0.05 --out benchmarks/results/score-writes.json

3,902 is what the drift benchmark's week at 10k traces writes. Both runs go through the real source and
write-back (`monitors.engine.score_writes.write_back`, a SQLite store) to the tests' fake Langfuse on
127.0.0.1, which takes `--latency` seconds per request: once as the 2026-08 server (one object per
request, a list is a 400; the baseline, and what every score cost before lists), once as a newer server
that takes lists. Then a second run on the next day with every tenth score changed, to show what a
change costs on each (a DELETE and a POST per changed score on the older server). Requests come from
the fake's own log. "Minutes at 30 a minute" is the time those requests take under Langfuse Cloud's
Hobby limit on the general API (the client's own limiter would space them so).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from monitors.contracts.source import Score
from monitors.engine.score_writes import write_back
from monitors.sources.langfuse import LangfuseSource
from monitors.store.store import Store
from monitors.support.retry import RetryPolicy
from tests.fakes.langfuse_server import FakeLangfuse

NOW = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)
HOBBY_PER_MINUTE = 30


def week_of_scores(n: int, changed_every: int = 0) -> list[Score]:
    """n drift scores as the drift monitor writes them; with changed_every, every such one has a new value."""
    return [
        Score(
            id=f"drift:trace-{i:05d}",
            trace_id=f"trace-{i:05d}",
            name="goal_drift",
            value=round((0.9 if changed_every and i % changed_every == 0 else -0.4) + i / 100_000, 6),
            timestamp=NOW - timedelta(days=7) + timedelta(minutes=i),
            comment=f"objective vs what !{i} changed up to 0a1b2c3d4e5f; threshold -0.550",
        )
        for i in range(n)
    ]


def measure(n: int, latency: float, *, lists: bool, work: Path) -> dict[str, Any]:
    store = Store.open(f"sqlite:///{work / ('lists' if lists else 'single')}.db")
    runs = []
    with FakeLangfuse([], scores_accept_list=lists, latency=latency) as fake:
        for day, batch in ((0, week_of_scores(n)), (1, week_of_scores(n, changed_every=10))):
            now = NOW + timedelta(days=day)
            fake.clock = lambda now=now: now
            seen = len(fake.requests)
            source = LangfuseSource(fake.url, fake.public_key, fake.secret_key, retry=RetryPolicy(attempts=2))
            started = time.perf_counter()
            result = write_back(source, store, "drift", batch, now)
            wall = time.perf_counter() - started
            methods = Counter(r.method for r in fake.requests[seen:])
            requests = sum(methods.values())
            runs.append(
                {
                    "run": "first" if day == 0 else "next day, every tenth score changed",
                    "written": result.written,
                    "unchanged": result.unchanged,
                    "pending": result.pending,
                    "requests": dict(sorted(methods.items())),
                    "wall_s": round(wall, 2),
                    "minutes_at_30_a_minute": round(requests / HOBBY_PER_MINUTE, 1),
                }
            )
        stored = len(fake.score_rows)
    store.close()
    return {"server": "takes lists" if lists else "one object per request (2026-08)", "runs": runs, "rows": stored}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scores", type=int, default=3902, help="scores in the first run (default: 3902)")
    parser.add_argument("--latency", type=float, default=0.05, help="seconds the fake takes per request")
    parser.add_argument("--out", type=Path, help="write the figures here as JSON")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as work:
        results = [measure(args.scores, args.latency, lists=lists, work=Path(work)) for lists in (False, True)]
    document = {"scores": args.scores, "latency_s": args.latency, "results": results}
    for result in results:
        for run in result["runs"]:
            print(
                f"{result['server']:<36} {run['run']:<38} {sum(run['requests'].values()):>5} requests "
                f"{run['requests']}  {run['wall_s']:>7.1f} s  {run['minutes_at_30_a_minute']:>6.1f} min at 30/min"
            )
        print(f"{result['server']:<36} score rows on the server: {result['rows']}")
    if args.out:
        args.out.write_text(json.dumps(document, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

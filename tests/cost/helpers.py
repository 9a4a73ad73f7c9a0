"""Builders and a request-counting source for the cost monitor tests."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from monitors.contracts.findings import Finding, RunWindow
from monitors.contracts.monitor import MemoryState, RunContext
from monitors.contracts.records import CostBucket, Observation
from monitors.contracts.source import CostQuery, ObservationQuery
from monitors.cost.monitor import CostConfig, CostSpikeMonitor
from monitors.sources.replay import ReplaySource

PAGE = 1000  # Observations v2 page size
_ids = itertools.count()


def at(text: str) -> datetime:
    """'2026-11-20 13:00' as an aware UTC datetime."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def obs(
    when: datetime | str,
    cost: float,
    *,
    agent: str = "coder",
    user: str | None = "u1",
    model: str = "gpt-4o",
    trace: str | None = None,
    tags: Sequence[str] = (),
    metadata: dict[str, Any] | None = None,
) -> Observation:
    n = next(_ids)
    return Observation(
        id=f"o{n}",
        trace_id=trace or f"t{n}",
        type="GENERATION",
        start_time=at(when) if isinstance(when, str) else when,
        project_id="proj1",
        trace_name=agent,
        user_id=user,
        model=model,
        tags=tuple(tags),
        total_cost=cost,
        metadata=metadata or {},
    )


def spread(day: str, total: float, n: int = 24, **kw: Any) -> list[Observation]:
    """`n` observations evenly over the UTC day `day` ('2026-11-20') summing to `total`."""
    start = at(f"{day} 00:00")
    step = timedelta(days=1) / n
    return [obs(start + step * i + timedelta(minutes=1), total / n, **kw) for i in range(n)]


class CountingSource(ReplaySource):
    """A replay that counts requests the way the Langfuse source does: one per page of 1000 rows
    (at least one per query) and one per Metrics v2 query."""

    def __init__(self, observations: Sequence[Observation]) -> None:
        super().__init__(observations=observations, host="https://lf.example", project_id="proj1")
        self.queries: list[Any] = []

    def observations(self, query: ObservationQuery) -> Iterator[Observation]:
        self.queries.append(query)
        rows = sorted(super().observations(query), key=lambda o: o.start_time, reverse=True)  # newest first
        self.stats.count_request("observations")
        for n, row in enumerate(rows):
            if n and n % PAGE == 0:
                self.stats.count_request("observations")  # the next page is fetched only when read
            yield row

    def costs(self, query: CostQuery) -> list[CostBucket]:
        self.queries.append(query)
        self.stats.count_request("metrics")
        return super().costs(query)

    def reset(self) -> None:
        self.stats.requests = 0
        self.stats.by_endpoint.clear()
        self.queries.clear()


def monitor(**config: Any) -> CostSpikeMonitor:
    return CostSpikeMonitor(CostConfig.model_validate(config))


def run(
    mon: CostSpikeMonitor,
    source: CountingSource,
    state: MemoryState,
    start: datetime | str,
    end: datetime | str,
) -> list[Finding]:
    """One run over [start, end), `now` 15 minutes after the end as the pipeline would."""
    start = at(start) if isinstance(start, str) else start
    end = at(end) if isinstance(end, str) else end
    ctx = RunContext(window=RunWindow(start, end), now=end + timedelta(minutes=15), source=source, state=state)
    return list(mon.run(ctx))


def keys(findings: Sequence[Finding]) -> set[tuple[str, int]]:
    return {(f.fingerprint, f.rank) for f in findings}


def pipeline_settings(cost: dict[str, Any]) -> Any:
    """Settings with `cost` as monitors.cost and every alert of warning and above to channel "ops"."""
    from monitors.engine.config import settings_from_dict

    raw = {
        "channels": {"ops": {"kind": "stdout"}},
        "default_route": {"channels": ["ops"], "min_severity": "warning"},
        "monitors": {"cost": cost},
    }
    return settings_from_dict(raw, env={})


def pipeline_run(
    settings: Any, source: Any, store: Any, notifier: Any, since: datetime | str, until: datetime | str
) -> list[Any]:
    """One cost run through the real pipeline (run_once: dedupe, store, outbox, delivery) over
    [since, until), `now` 15 minutes after; the messages `notifier` received in it (the run's summary,
    with its counters, is kept as `notifier.last_summary`)."""
    from monitors.engine.pipeline import RunDeps, run_once

    since = at(since) if isinstance(since, str) else since
    until = at(until) if isinstance(until, str) else until
    before = len(notifier.messages)
    deps = RunDeps(source, store, {"ops": notifier})
    summary = run_once("cost", settings, deps, now=until + timedelta(minutes=15), since=since, until=until)
    assert summary.status == "ok", summary.error
    notifier.last_summary = summary
    return notifier.messages[before:]

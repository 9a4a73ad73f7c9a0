"""Every series we export, in one table, and the prometheus-client collector that fills them.

The collector reads the store on each collection (a scrape of the scheduler's /metrics, a push, a
textfile write), so the three outputs always say the same thing and a restarted process loses
nothing: the runs, findings, outbox and cost ledger are in the store already. The dashboard in
deploy/grafana and the rules in deploy/prometheus use only names from SERIES (a test checks).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from monitors.contracts.errors import StoreError
from monitors.engine.config import Settings
from monitors.metrics.readings import (
    MonitorReading,
    last_given_up_by_channel,
    monitor_readings,
    outbox_by_channel,
)
from monitors.metrics.spend import SpendReading, read_spend
from monitors.store.store import Store

log = logging.getLogger("monitors.metrics")

PREFIX = "langfuse_monitors_"
RUN_STATUSES = ("ok", "failed", "delivery_failed", "skipped", "nothing_to_do")
# Run summaries stored before forge requests were counted by endpoint hold one total per forge:
# those export under the forge's name.
FORGE_TOTALS = {"gitlab_requests": "gitlab", "github_requests": "github"}
MAX_ENDPOINTS = 20  # label values per monitor in last_run_requests; the rest are summed into "other"
_VERSION = re.compile(r"v\d+")


@dataclass(frozen=True)
class Series:
    kind: str  # gauge | counter
    help: str
    labels: tuple[str, ...]


SERIES: dict[str, Series] = {
    "store_up": Series("gauge", "1 when the state store could be read for these series, 0 when it could not.", ()),
    "last_run_timestamp_seconds": Series("gauge", "When the monitor's last run finished (Unix time).", ("monitor",)),
    "last_success_timestamp_seconds": Series(
        "gauge", "When the monitor's last run with status ok finished (Unix time).", ("monitor",)
    ),
    "last_run_duration_seconds": Series("gauge", "How long the monitor's last run took.", ("monitor",)),
    "last_run_status": Series(
        "gauge", "1 for the status of the monitor's last run, 0 for the other statuses.", ("monitor", "status")
    ),
    "runs": Series("counter", "Runs recorded in the store, by status.", ("monitor", "status")),
    "last_run_records": Series("gauge", "Records (observations) the monitor's last run read.", ("monitor",)),
    "last_run_findings": Series(
        "gauge", "Findings the monitor's last run produced, by check and severity.", ("monitor", "kind", "severity")
    ),
    "last_run_requests": Series(
        "gauge",
        "Requests the monitor's last run made, by Langfuse API path (/api/public/...) and by forge endpoint "
        "(gitlab:mr, gitlab:mr_commits, gitlab:mr_diffs, github:pr, github:pr_commits, github:pr_files, "
        "github:commit, github:app_token).",
        ("monitor", "endpoint"),
    ),
    "scores_pending": Series(
        "gauge",
        "Scores a run could not write back to Langfuse (rate limit, deadline, server down), waiting for the "
        "monitor's next run, which sends them first.",
        ("monitor",),
    ),
    "outbox_messages": Series(
        "gauge",
        "Alert messages in the outbox by channel and status: pending (waiting for delivery now); sent, "
        "failed (given up: permanent error or attempts exhausted) and unconfirmed (given up unanswered) within "
        "store.outbox_retention (default 30 days), after which they are pruned.",
        ("channel", "status"),
    ),
    "outbox_last_given_up_timestamp_seconds": Series(
        "gauge",
        "When a message for this channel was last given up (failed: permanent error or attempts exhausted), "
        "Unix time; no series for a channel with none within store.outbox_retention.",
        ("channel",),
    ),
    "spend_today_usd": Series(
        "gauge", "Spend of the budget day (cost monitor's time zone) as of the cost monitor's last run, USD.", ()
    ),
    "spend_as_of_timestamp_seconds": Series(
        "gauge", "The end of the cost monitor's last window: the spend series are as of this time (Unix time).", ()
    ),
    "budget_cap_usd": Series("gauge", "Daily cap of each budget (per value for per_value budgets), USD.", ("budget",)),
    "budget_spend_usd": Series(
        "gauge",
        'The budget day\'s spend per budget and value, USD; value="*" for a budget over all spend, value="other" sums '
        "the values past metrics.max_values_per_dimension.",
        ("budget", "scope", "value"),
    ),
    "budget_ratio": Series(
        "gauge",
        'Today\'s spend divided by the cap (1 = at the cap); for value="other" the highest ratio of the folded values.',
        ("budget", "scope", "value"),
    ),
    "budget_projected_usd": Series(
        "gauge",
        "Today's spend projected to the end of the day at today's pace (the cost monitor's projection); "
        'absent until enough of a usual day has passed, and for value="other".',
        ("budget", "scope", "value"),
    ),
    "budget_values": Series(
        "gauge",
        'Distinct values of a budget today: exported as their own label value, or folded into value="other" '
        "(values the cost ledger folded itself, past monitors.cost.max_values_per_dimension, are not counted).",
        ("budget", "state"),
    ),
    "budget_values_over_cap": Series(
        "gauge", "Values of a budget at or past their cap today, folded ones included.", ("budget",)
    ),
}


def full_name(short: str) -> str:
    return PREFIX + short


def _family(short: str) -> Metric:
    spec = SERIES[short]
    cls = CounterMetricFamily if spec.kind == "counter" else GaugeMetricFamily
    return cls(full_name(short), spec.help, labels=list(spec.labels))


class StoreCollector(Collector):
    """Builds the series from the store at each collection.

    `monitors` limits the per-monitor series (a push groups by monitor); `spend` and `outbox` switch
    those parts on. A store that cannot be read raises StoreError: callers decide what that means.
    """

    def __init__(
        self,
        store: Store,
        settings: Settings,
        *,
        monitors: list[str] | None = None,
        spend: bool = True,
        outbox: bool = True,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.settings = settings
        self.monitors = monitors
        self.spend = spend
        self.outbox = outbox
        self.clock = clock

    def describe(self) -> Iterable[Metric]:
        return []  # dynamic: nothing is collected at registration

    def collect(self) -> Iterator[Metric]:
        up = _family("store_up")
        try:
            readings = monitor_readings(self.store, self.monitors)
            families = list(run_families(readings.values()))
            pending = self.store.pending_score_counts()
            if self.monitors is not None:
                pending = {m: n for m, n in pending.items() if m in self.monitors}
            families += score_families(pending, self.monitors if self.monitors is not None else readings)
            if self.outbox:
                settled_since = self.clock() - self.settings.store.outbox_retention
                families += outbox_families(outbox_by_channel(self.store, settled_since))
                families += given_up_families(last_given_up_by_channel(self.store))
            reading = self._spend() if self.spend else None
            if reading is not None:
                families += spend_families(reading)
        except StoreError as exc:
            # Like mysqld_exporter's mysql_up: the endpoint answers, and says the store did not.
            log.warning("metrics: %s", exc)
            up.add_metric([], 0.0)
            yield up
            return
        up.add_metric([], 1.0)
        yield up
        yield from families

    def _spend(self) -> SpendReading | None:
        cost_config = self.settings.monitor_configs.get("cost")
        if cost_config is None or "cost" in self.settings.disabled_monitors:
            return None
        # The ledger holds spend up to the end of the cost monitor's last committed window: "today" and
        # the projection are as of then, not as of the scrape.
        as_of = self.store.watermark("cost") or self.clock()
        state = self.store.load_state("cost")
        return read_spend(state, cost_config, as_of, max_values=self.settings.metrics.max_values_per_dimension)


def run_families(readings: Iterable[MonitorReading]) -> Iterator[Metric]:
    fams = {name: _family(name) for name in SERIES if name.startswith(("last_run", "last_success", "runs"))}
    for r in sorted(readings, key=lambda x: x.monitor):
        m = r.monitor
        for status in sorted(set(RUN_STATUSES) | set(r.runs_by_status)):
            fams["runs"].add_metric([m, status], r.runs_by_status.get(status, 0))
        if r.last_success is not None:
            fams["last_success_timestamp_seconds"].add_metric([m], r.last_success.timestamp())
        if r.last is None:
            continue
        fams["last_run_timestamp_seconds"].add_metric([m], r.last.finished_at.timestamp())
        fams["last_run_duration_seconds"].add_metric([m], r.last.duration_seconds)
        for status in sorted(set(RUN_STATUSES) | {r.last.status}):
            fams["last_run_status"].add_metric([m, status], 1.0 if status == r.last.status else 0.0)
        fams["last_run_records"].add_metric([m], _number(r.last.summary.get("records")))
        for (kind, severity), count in sorted(r.findings.items()):
            fams["last_run_findings"].add_metric([m, kind, severity], count)
        for endpoint, count in sorted(_requests(r.last.summary).items()):
            fams["last_run_requests"].add_metric([m, endpoint], count)
    yield from fams.values()


def _requests(summary: dict[str, Any]) -> dict[str, float]:
    out: dict[str, float] = {}
    for endpoint, count in [*_items(summary.get("requests_by_endpoint")), *_forge_requests(summary)]:
        route = endpoint_route(str(endpoint))
        out[route] = out.get(route, 0.0) + _number(count)
    if len(out) > MAX_ENDPOINTS:
        ranked = sorted(out.items(), key=lambda kv: (-kv[1], kv[0]))
        out = dict(ranked[: MAX_ENDPOINTS - 1]) | {"other": sum(v for _, v in ranked[MAX_ENDPOINTS - 1 :])}
    return out


def _forge_requests(summary: dict[str, Any]) -> list[tuple[Any, Any]]:
    if "forge_requests_by_endpoint" in summary:
        return _items(summary["forge_requests_by_endpoint"])
    counters = summary.get("counters")
    totals = counters if isinstance(counters, dict) else {}
    return [(forge, totals[key]) for key, forge in FORGE_TOTALS.items() if _number(totals.get(key))]


def _items(value: Any) -> list[tuple[Any, Any]]:
    return list(value.items()) if isinstance(value, dict) else []


def endpoint_route(path: str) -> str:
    """'/api/public/traces/7f3e9a...' -> '/api/public/traces/{id}': one label value per route, not per
    trace (the legacy source fetches traces by id). A segment holding a digit or an escape is an id,
    except API versions such as v2."""
    parts = [
        "{id}" if ("%" in p or any(c.isdigit() for c in p)) and not _VERSION.fullmatch(p) else p
        for p in path.split("?", 1)[0].split("/")
    ]
    return "/".join(parts)


def _number(value: Any) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


def score_families(pending: dict[str, int], monitors: Iterable[str]) -> Iterator[Metric]:
    family = _family("scores_pending")
    # Every monitor gets a value, 0 included, so a rule on it sees 0 rather than no series.
    for monitor in sorted(set(monitors) | set(pending)):
        family.add_metric([monitor], pending.get(monitor, 0))
    yield family


def outbox_families(counts: dict[tuple[str, str], int]) -> Iterator[Metric]:
    family = _family("outbox_messages")
    channels = sorted({channel for channel, _ in counts})
    for channel in channels:
        # pending and failed are always present, so a rule on them sees 0 rather than no series.
        for status in sorted({"pending", "sent", "failed"} | {s for c, s in counts if c == channel}):
            family.add_metric([channel, status], counts.get((channel, status), 0))
    yield family


def given_up_families(last: dict[str, datetime]) -> Iterator[Metric]:
    family = _family("outbox_last_given_up_timestamp_seconds")
    for channel in sorted(last):
        family.add_metric([channel], _utc(last[channel]).timestamp())
    yield family


def _utc(when: datetime) -> datetime:
    # SQLite hands back naive datetimes; the store writes them in UTC.
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def spend_families(reading: SpendReading) -> Iterator[Metric]:
    names = ("spend_today_usd", "budget_cap_usd", "budget_spend_usd", "budget_ratio", "budget_projected_usd")
    fams = {
        name: _family(name)
        for name in (*names, "spend_as_of_timestamp_seconds", "budget_values", "budget_values_over_cap")
    }
    fams["spend_today_usd"].add_metric([], reading.total)
    fams["spend_as_of_timestamp_seconds"].add_metric([], reading.as_of.timestamp())
    for b in reading.budgets:
        fams["budget_cap_usd"].add_metric([b.budget], b.cap)
        for v in b.values:
            labels = [b.budget, b.scope, v.value]
            fams["budget_spend_usd"].add_metric(labels, v.spend)
            fams["budget_ratio"].add_metric(labels, v.ratio)
            if v.projected is not None:
                fams["budget_projected_usd"].add_metric(labels, v.projected)
        fams["budget_values"].add_metric([b.budget, "exported"], b.exported)
        fams["budget_values"].add_metric([b.budget, "folded"], b.folded)
        fams["budget_values_over_cap"].add_metric([b.budget], b.over_cap)
    yield from fams.values()

"""Cost monitor ("cost"): daily budgets at 80%/100%, end-of-day projection and spikes, with the why.

Budgets cap the spend of a local day (configured timezone) for everything, one agent, tag, user, model,
environment or metadata value, or every value of one of those. Spend comes from a ledger in the run
state: new observation rows each run, Metrics v2 aggregates rationed to `metrics_requests_per_day`
(see monitors/cost/sync.py and docs/cost-query-plan.md for the query plan and its request arithmetic).
Every local day the run window touches is evaluated, so missed runs catch up and yesterday's final
figure is checked once the day has settled.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import ClassVar
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator

from monitors.contracts.findings import Finding
from monitors.contracts.monitor import RunContext
from monitors.contracts.values import Duration
from monitors.cost.budgets import (
    AGGREGATE_DIMENSIONS,
    METADATA_PREFIX,
    SCOPES,
    BudgetConfig,
    ProjectionConfig,
    SpikeConfig,
    check_unique_names,
)
from monitors.cost.evaluate import EvalSettings, build_findings, resolved_findings
from monitors.cost.explain import prune_cache
from monitors.cost.ledger import Ledger, days_between, local_date
from monitors.cost.sync import Rationing, Tracking, sync
from monitors.cost.upgrade import caps_keyed_before, save_caps_keyed_before
from monitors.support.zones import known_zone


class CostConfig(BaseModel):
    """`monitors.cost:` in monitors.yaml."""

    model_config = ConfigDict(extra="forbid")

    timezone: str = Field(default="UTC", description="IANA timezone whose midnight starts a budget day.")
    budgets: list[BudgetConfig] = Field(default_factory=list, description="Daily caps; see BudgetConfig.")
    spike: SpikeConfig = Field(default_factory=SpikeConfig, description="Spike detection under the cap.")
    projection: ProjectionConfig = Field(default_factory=ProjectionConfig, description="Early warning.")
    metrics_requests_per_day: int = Field(
        default=40,
        ge=0,
        le=10000,
        description="Metrics v2 requests allowed per rolling 24h (Hobby allows 100); 0 reads rows only.",
    )
    settle_delay: Duration = Field(
        default=timedelta(minutes=30), description="Wait this long after midnight before closing a day."
    )
    contributors: list[str] = Field(
        default_factory=lambda: ["agent", "model", "user"],
        description="Dimensions listed as top contributors in alerts.",
    )
    top_traces: int = Field(default=3, ge=0, le=20, description="Costliest traces linked from an alert.")
    explain_max_rows: int = Field(
        default=1000, ge=1, le=100000, description="Rows read at most to find the costliest traces."
    )
    explain_max_queries: int = Field(default=10, ge=0, le=1000, description="Trace look-ups per run at most.")
    max_values_per_dimension: int = Field(
        default=500,
        ge=10,
        le=100000,
        description="Distinct values kept per dimension and day; the rest are summed and get no per-value budget.",
    )

    @field_validator("timezone")
    @classmethod
    def _check_tz(cls, name: str) -> str:
        if known_zone(name) is None:
            raise ValueError(f"unknown timezone {name!r}; use an IANA name such as Europe/Paris")
        return name

    @field_validator("budgets")
    @classmethod
    def _check_budgets(cls, budgets: list[BudgetConfig]) -> list[BudgetConfig]:
        return check_unique_names(budgets)

    @field_validator("contributors")
    @classmethod
    def _check_contributors(cls, dims: list[str]) -> list[str]:
        for dim in dims:
            if dim == "none" or (dim not in SCOPES and not dim.startswith(METADATA_PREFIX)):
                raise ValueError(f"unknown dimension {dim!r}")
        return list(dict.fromkeys(dims))

    def history_days(self) -> int:
        spike = max(self.spike.baseline_days, 7 * self.spike.weekday_weeks if self.spike.weekday_aware else 0)
        return max(spike, self.projection.profile_days)


def tracking(config: CostConfig) -> Tracking:
    scoped = [b.scope for b in config.budgets if b.scope != "none"]
    row_dims = tuple(dict.fromkeys([*scoped, *config.contributors]))
    cross = {scope: [c for c in config.contributors if c != scope] for scope in dict.fromkeys(scoped)}
    agg = tuple(d for d in row_dims if d in AGGREGATE_DIMENSIONS)
    return Tracking(row_dims, agg, cross, config.max_values_per_dimension)


class CostSpikeMonitor:
    """Daily budgets, projections and spikes over the spend ledger."""

    name: ClassVar[str] = "cost"
    Config: ClassVar[type[CostConfig]] = CostConfig

    def __init__(self, config: CostConfig) -> None:
        self.config = config
        self.tz = ZoneInfo(config.timezone)
        self.track = tracking(config)

    def run(self, ctx: RunContext) -> Iterable[Finding]:
        cfg = self.config
        ledger = Ledger.load(ctx.state, self.tz)
        had_ledger = bool(ledger.days())
        ration = Rationing(cfg.metrics_requests_per_day, cfg.settle_delay)
        report = sync(ctx, ledger, self.track, ration, cfg.history_days())
        ctx.count("cost.rows", report.rows)
        ctx.count("cost.days_closed", len(report.closed))
        ctx.count("cost.days_backfilled", len(report.backfilled))
        ctx.count("cost.refreshed", int(report.refreshed))
        if ledger.dropped:
            ctx.count("cost.state_days_dropped", ledger.dropped)
        if ledger.overflow:
            ctx.count("cost.values_folded", ledger.overflow)
        for what in report.skipped_for_budget:
            ctx.count(f"cost.{what}_deferred_for_metrics_budget")
        if report.budget_back_in is not None:
            ctx.count("cost.metrics_budget_back_in_min", -int(-report.budget_back_in.total_seconds() // 60))
        today = local_date(ctx.window.end - timedelta(microseconds=1), self.tz)
        days = sorted(set(days_between(ctx.window.start, ctx.window.end, self.tz)) | set(report.closed))
        keys_before_caps = caps_keyed_before(ctx.state, cfg.budgets, {*ledger.days(), *days}, had_ledger=had_ledger)
        settings = EvalSettings(
            cfg.budgets,
            cfg.spike,
            cfg.projection,
            cfg.contributors,
            cfg.top_traces,
            cfg.explain_max_rows,
            cfg.explain_max_queries,
            keys_before_caps,
        )
        findings = build_findings(ctx, ledger, settings, days, today) if cfg.budgets else []
        ctx.resolved.extend(resolved_findings(ctx, ledger, settings, report.closed))
        keep_from = min(days[0], today) - timedelta(days=cfg.history_days() + 1)
        ledger.prune(keep_from)
        prune_cache(ctx, keep_from)
        save_caps_keyed_before(ctx.state, keys_before_caps, keep_from)
        ledger.save(ctx.state)
        return findings

"""Budget, spike and projection config for the cost monitor, and how a budget's scope maps onto spend.

A budget is a daily cap on the spend of one scope: everything (`none`), one agent (trace name), tag,
user, model, environment or metadata value (`metadata:feature`). `value` picks one value of the scope;
`per_value: true` gives every distinct value its own cap ("every user gets $5/day").
"""

from __future__ import annotations

import json
import math
import re
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from monitors.contracts.records import Observation
from monitors.contracts.values import Money

SCOPES = ("none", "agent", "tag", "user", "model", "environment")
METADATA_PREFIX = "metadata:"
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_META_KEY = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")
VALUE_LIMIT = 200  # Langfuse cuts metadata values at 200 characters; keep our keys as short

# Scopes that Metrics v2 can group by, and the source's name for each. Tags are not exploded by
# Metrics v2 and users are not groupable at all, so those come from observation rows only.
AGGREGATE_DIMENSIONS = {"agent": "traceName", "model": "model", "environment": "environment"}


class BudgetConfig(BaseModel):
    """One daily cap."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="Unique name, used in alerts and dedupe keys (letters, digits, _ . -).")
    daily_cap: Money = Field(description="Cap in USD per local day, e.g. 50 or '$12.50'.")
    scope: str = Field(
        default="none",
        description="none (all spend), agent, tag, user, model, environment or metadata:<key>.",
    )
    value: str | None = Field(default=None, description="The one scope value this cap applies to.")
    per_value: bool = Field(default=False, description="Give every distinct scope value its own cap.")
    thresholds: list[float] = Field(
        default_factory=lambda: [0.8, 1.0],
        description="Fractions of the cap that alert; below 1.0 warns, 1.0 and above pages.",
    )

    @field_validator("name")
    @classmethod
    def _check_name(cls, name: str) -> str:
        if not _NAME.match(name):
            raise ValueError("use 1-64 letters, digits, '_', '.' or '-'")
        return name

    @field_validator("daily_cap")
    @classmethod
    def _check_cap(cls, cap: Decimal) -> Decimal:
        if cap <= 0:
            raise ValueError("must be greater than 0")
        return cap

    @field_validator("scope")
    @classmethod
    def _check_scope(cls, scope: str) -> str:
        scope = scope.strip()
        if scope.startswith(METADATA_PREFIX):
            if not _META_KEY.match(scope.removeprefix(METADATA_PREFIX)):
                raise ValueError("metadata:<key> needs a key of letters, digits, '_', '.' or '-'")
            return scope
        if scope not in SCOPES:
            raise ValueError(f"unknown scope {scope!r}; expected one of {', '.join(SCOPES)}, metadata:<key>")
        return scope

    @field_validator("thresholds")
    @classmethod
    def _check_thresholds(cls, values: list[float]) -> list[float]:
        if not values:
            raise ValueError("give at least one threshold")
        for value in values:
            if not 0 < value <= 2:
                raise ValueError(f"{value} is outside (0, 2]; thresholds are fractions of the cap")
        if len({round(v * 100) for v in values}) != len(values):
            raise ValueError("thresholds must differ by at least 0.01")
        return sorted(values)

    @model_validator(mode="after")
    def _check_value(self) -> BudgetConfig:
        if self.scope == "none":
            if self.value is not None or self.per_value:
                raise ValueError("scope none takes neither value nor per_value")
        elif (self.value is None) == (not self.per_value):
            raise ValueError(f"scope {self.scope} needs exactly one of value or per_value: true")
        return self

    @property
    def cap(self) -> float:
        return float(self.daily_cap)


def check_unique_names(budgets: list[BudgetConfig]) -> list[BudgetConfig]:
    seen: set[str] = set()
    for budget in budgets:
        if budget.name in seen:
            raise ValueError(f"budget name {budget.name!r} is used twice")
        seen.add(budget.name)
    return budgets


def clip_value(value: Any) -> str:
    """A scope value as a plain string key ("" when absent), JSON for non-strings, clipped."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    return text[:VALUE_LIMIT]


def dimension_values(obs: Observation, dim: str) -> tuple[str, ...]:
    """The values of dimension `dim` (a scope name) that `obs` counts towards."""
    if dim == "agent":
        return (clip_value(obs.trace_name),)
    if dim == "model":
        return (clip_value(obs.model),)
    if dim == "environment":
        return (clip_value(obs.environment),)
    if dim == "user":
        return (clip_value(obs.user_id),)
    if dim == "tag":
        # An observation with two tags counts fully towards both tag budgets, as Langfuse's filters do.
        return tuple(dict.fromkeys(clip_value(t) for t in obs.tags)) or ("",)
    if dim.startswith(METADATA_PREFIX):
        return (clip_value(obs.metadata.get(dim.removeprefix(METADATA_PREFIX))),)
    raise ValueError(f"unknown dimension {dim!r}")


def series_spend(budget: BudgetConfig, total: float, dims: dict[str, dict[str, float]]) -> dict[str, float]:
    """Spend per scope value that `budget` caps on one day: {value: usd}; "*" stands for everything."""
    if budget.scope == "none":
        return {"*": total}
    values = dims.get(budget.scope, {})
    if budget.per_value:
        # Spend with no value for the scope (no user set...) is nobody's: it is not a fan-out series.
        return {v: c for v, c in values.items() if v != ""}
    assert budget.value is not None
    return {budget.value: values.get(budget.value, 0.0)}


def display_value(value: str) -> str:
    return "(none)" if value == "" else value


def usd(amount: float) -> str:
    """An amount for an alert: cents, except below half a cent, where cents would say "$0.00" of a
    trace or model that did cost something (small calls cost fractions of a cent)."""
    if amount == 0 or abs(amount) >= 0.005:
        return f"${amount + 0.0:,.2f}"  # + 0.0 turns -0.0 into 0.0: never "$-0.00"
    if abs(amount) < 0.0001:
        return "under $0.0001"
    return f"${amount:.2g}"


def whole_percent(spend: float, cap: float) -> str:
    """`spend` as a whole percent of `cap`, rounded down: a warning at 99.6% must not read "(100%)", as
    if the cap it has not reached had been reached."""
    return f"{math.floor(spend / cap * 100 + 1e-9)}%"


class SpikeConfig(BaseModel):
    """Spend well above a robust baseline, even while under the cap."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(default=True, description="Check each budget's series for spikes.")
    baseline_days: int = Field(default=14, ge=3, le=60, description="Days of history in the baseline.")
    min_history_days: int = Field(default=7, ge=2, le=60, description="Fewer closed days: no spike check.")
    mad_multiplier: float = Field(default=4.0, gt=0, le=100, description="Spike above median + k * MAD.")
    min_dollars: Money = Field(
        default=Decimal("1"), description="A spike must also exceed the median by this many USD."
    )
    min_ratio: float = Field(
        default=2.0, ge=1, le=100, description="A spike must also be at least this multiple of the usual spend."
    )
    weekday_aware: bool = Field(default=True, description="Compare with the same weekday when possible.")
    weekday_weeks: int = Field(default=4, ge=2, le=8, description="Weeks of same-weekday history to use.")


class ProjectionConfig(BaseModel):
    """Early warning: today's pace projected to the end of the day."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(default=True, description="Warn when the projected day passes the cap.")
    min_elapsed_fraction: float = Field(
        default=0.25,
        gt=0,
        lt=1,
        description="Project only once this share of a usual day's spend should have happened.",
    )
    profile_days: int = Field(default=14, ge=1, le=60, description="Closed days that shape the hourly profile.")
    min_overshoot: float = Field(
        default=1.2,
        ge=1,
        le=10,
        description="Warn only when the projected day reaches this multiple of the cap (early projections swing).",
    )

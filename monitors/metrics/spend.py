"""Today's spend per budget and value, from the cost monitor's ledger in the store, with capped labels.

The ledger (monitors/cost/ledger.py) is what the cost monitor's last run saw: spend per local day in
its time zone, per tracked dimension. Each budget becomes one series per value it caps. A `per_value`
budget over users could have thousands of values; a Prometheus label value each would make thousands of
series, so only the `max_values` costliest values are exported and the rest are summed into one
`value="other"`. Values of one budget share its cap, so the costliest values are also those nearest or
furthest past it: nothing that matters more than a kept value is folded. `other` carries the summed
spend, the highest ratio among the folded values, and no projection; `..._budget_values{state}` and
`..._budget_values_over_cap` count every value, folded or not, so the fold is never silent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from monitors.contracts.monitor import MemoryState
from monitors.cost.baseline import expected_fraction, hourly_profile, project
from monitors.cost.budgets import BudgetConfig, series_spend
from monitors.cost.ledger import OTHER, Ledger, day_bounds, local_date

OTHER_LABEL = "other"
GLOBAL_LABEL = "*"  # series_spend's value for a budget over all spend


@dataclass(frozen=True)
class BudgetValue:
    value: str
    spend: float
    ratio: float
    projected: float | None


@dataclass
class BudgetSeries:
    budget: str
    scope: str
    cap: float
    values: list[BudgetValue] = field(default_factory=list)
    exported: int = 0  # distinct real values exported as their own label value
    folded: int = 0  # distinct values summed into `other` here (the ledger's own fold is not countable)
    over_cap: int = 0  # values at or past the cap, folded ones included


@dataclass
class SpendReading:
    day: date
    as_of: datetime
    timezone: str
    total: float
    budgets: list[BudgetSeries]


def read_spend(state: dict[str, Any], cost_config: Any, now: datetime, *, max_values: int) -> SpendReading | None:
    """Spend of the day of `now` (the cost monitor's time zone) per budget, projected to the day's end as
    of `now`; None when no budget is configured."""
    budgets: list[BudgetConfig] = list(getattr(cost_config, "budgets", []) or [])
    if not budgets:
        return None
    tz = ZoneInfo(cost_config.timezone)
    ledger = Ledger.load(MemoryState(state), tz)
    today = local_date(now, tz)
    record = ledger.get(today) or {"total": 0.0, "dims": {}}
    fraction = _elapsed_fraction(ledger, cost_config, today, now)
    min_fraction = cost_config.projection.min_elapsed_fraction
    series = [
        _budget_series(b, series_spend(b, record["total"], record["dims"]), fraction, min_fraction, max_values)
        for b in budgets
    ]
    return SpendReading(today, now, tz.key, float(record["total"]), series)


def _elapsed_fraction(ledger: Ledger, cost_config: Any, today: date, now: datetime) -> float:
    """The share of a usual day's spend that has happened by now: the cost monitor's own projection."""
    days = cost_config.projection.profile_days
    closed = [r for i in range(1, days + 1) if (r := ledger.get(today - timedelta(days=i))) and r.get("closed")]
    start = day_bounds(today, ledger.tz)[0]
    return expected_fraction(hourly_profile([r["hours"] for r in closed]), now.astimezone(ledger.tz), start)


def _budget_series(
    budget: BudgetConfig, spend: dict[str, float], fraction: float, min_fraction: float, max_values: int
) -> BudgetSeries:
    cap = budget.cap
    out = BudgetSeries(budget.name, budget.scope, cap)
    ledger_other = spend.pop(OTHER, None)  # values the ledger itself already folded (its own cap)
    ranked = sorted(_encodable(spend).items(), key=lambda kv: (-kv[1], kv[0]))
    kept, rest = ranked[:max_values], ranked[max_values:]
    for value, usd in kept:
        label = GLOBAL_LABEL if budget.scope == "none" else value
        out.values.append(BudgetValue(label, usd, usd / cap, project(usd, fraction, min_fraction)))
    out.exported = len(kept)
    out.folded = len(rest)
    out.over_cap = sum(1 for _, usd in ranked if usd >= cap)
    if rest or ledger_other is not None:
        folded_spend = sum(usd for _, usd in rest) + (ledger_other or 0.0)
        # The ledger's own fold is a sum of unknown values: its highest single ratio is unknown, so it
        # cannot raise `other`'s ratio above what the named folded values show.
        top = max((usd for _, usd in rest), default=0.0)
        out.values.append(BudgetValue(OTHER_LABEL, folded_spend, top / cap, None))
    return out


def _encodable(spend: dict[str, float]) -> dict[str, float]:
    """Values as label values the exposition can encode: a lone surrogate (half an emoji, which JSON
    carries and the store keeps) becomes U+FFFD, and values that then read the same are one."""
    out: dict[str, float] = {}
    for value, usd in spend.items():
        label = "".join("\ufffd" if "\ud800" <= ch <= "\udfff" else ch for ch in value)
        out[label] = out.get(label, 0.0) + usd
    return out

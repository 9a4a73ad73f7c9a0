"""Per-day spend kept in the run state (`ctx.state`), so the monitor reads each closed day once.

One JSON document under `cost.ledger` holds, per local day (in the configured timezone): the total,
the total per local hour (for the usual spread of spend over the day), spend per scope value for each
tracked dimension (agent, model, user, tag, metadata:<key>...), and for scoped budgets a cross-tab of
their values against the contributor dimensions (so "which agent drove alice's spend" needs no extra
query). It also holds the read cursor for observation rows and the log of Metrics v2 requests made in
the last 24 hours. The pipeline commits the state with the alerts, so a crashed run re-reads instead of
double counting, and a dry run leaves it untouched.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from monitors.contracts.findings import utc
from monitors.contracts.monitor import KeyValueState
from monitors.contracts.records import Observation

STATE_KEY = "cost.ledger"
VERSION = 1
OTHER = "\x00other"  # spend of values past the per-day cap on distinct values; never a fan-out series

log = logging.getLogger(__name__)


def local_date(when: datetime, tz: ZoneInfo) -> date:
    return utc(when).astimezone(tz).date()


def day_bounds(day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """[start, end) of a local day in UTC (23 or 25 hours long on DST changes)."""
    start = datetime.combine(day, time(0), tzinfo=tz)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)
    return utc(start), utc(end)


def days_between(start: datetime, end: datetime, tz: ZoneInfo) -> list[date]:
    """Local days overlapping [start, end); at least the day of `start`."""
    first, last = local_date(start, tz), local_date(max(start, end - timedelta(microseconds=1)), tz)
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def _iso(when: datetime) -> str:
    return utc(when).isoformat()


def _parse(text: Any) -> datetime | None:
    try:
        return utc(datetime.fromisoformat(text)) if isinstance(text, str) else None
    except ValueError:
        return None


def new_day() -> dict[str, Any]:
    return {"total": 0.0, "hours": [0.0] * 24, "dims": {}, "cross": {}, "closed": False, "rows_from": None}


def _well_formed(record: Any) -> bool:
    if not isinstance(record, dict) or not isinstance(record.get("total"), int | float):
        return False
    hours = record.get("hours")
    if not isinstance(hours, list) or len(hours) != 24 or not all(isinstance(h, int | float) for h in hours):
        return False
    for key in ("dims", "cross"):
        table = record.get(key)
        if not isinstance(table, dict) or not all(isinstance(v, dict) for v in table.values()):
            return False
    return all(isinstance(v, int | float) for t in record["dims"].values() for v in t.values())


class Ledger:
    """The cost monitor's persisted state; see the module docstring for what it holds."""

    def __init__(self, data: dict[str, Any], tz: ZoneInfo) -> None:
        self.data = data
        self.tz = tz
        self.overflow = 0  # observations with spend folded into OTHER during this run (each once)
        self.dropped = 0  # malformed day records dropped on load

    @classmethod
    def load(cls, state: KeyValueState, tz: ZoneInfo) -> Ledger:
        data = state.get(STATE_KEY)
        ok = isinstance(data, dict) and data.get("v") == VERSION and data.get("tz") == tz.key
        if not ok or not isinstance(data.get("days"), dict):
            if data is not None:
                # Day boundaries moved (timezone change) or an old format: start over, re-read history.
                log.info("cost ledger reset (format or timezone changed)")
            data = {"v": VERSION, "tz": tz.key, "cursor": None, "days": {}, "metrics": [], "refreshed": None}
        ledger = cls(data, tz)
        ledger.dropped = ledger._drop_malformed_days()
        return ledger

    def _drop_malformed_days(self) -> int:
        """Forget day records that are not the shape we write (hand-edited or corrupted state);
        a forgotten past day is simply backfilled again."""
        bad = [k for k, v in self.data["days"].items() if not _well_formed(v)]
        for key in bad:
            del self.data["days"][key]
        return len(bad)

    def save(self, state: KeyValueState) -> None:
        state.put(STATE_KEY, self.data)

    # --- cursor and Metrics v2 rationing -------------------------------------------------------

    @property
    def cursor(self) -> datetime | None:
        return _parse(self.data.get("cursor"))

    @cursor.setter
    def cursor(self, when: datetime) -> None:
        self.data["cursor"] = _iso(when)

    @property
    def refreshed(self) -> datetime | None:
        return _parse(self.data.get("refreshed"))

    @refreshed.setter
    def refreshed(self, when: datetime) -> None:
        self.data["refreshed"] = _iso(when)

    def metrics_used(self, now: datetime) -> int:
        """Metrics v2 requests made in the 24 hours before `now` (Langfuse's window is a day)."""
        since = utc(now) - timedelta(days=1)
        kept = [t for t in self.data.get("metrics", []) if (ts := _parse(t)) is not None and ts > since]
        self.data["metrics"] = kept
        return len(kept)

    def record_metrics(self, now: datetime, requests: int) -> None:
        self.data.setdefault("metrics", []).extend([_iso(now)] * requests)

    # --- days ----------------------------------------------------------------------------------

    def has(self, day: date) -> bool:
        return day.isoformat() in self.data["days"]

    def day(self, day: date) -> dict[str, Any]:
        """The record of `day`, created empty when missing."""
        return self.data["days"].setdefault(day.isoformat(), new_day())

    def get(self, day: date) -> dict[str, Any] | None:
        record = self.data["days"].get(day.isoformat())
        return record if isinstance(record, dict) else None

    def days(self) -> list[date]:
        out = []
        for key in self.data["days"]:
            try:
                out.append(date.fromisoformat(key))
            except ValueError:
                continue
        return sorted(out)

    def first_spend(self) -> date | None:
        """The first day the ledger saw any spend."""
        return next((d for d in self.days() if (self.get(d) or {}).get("total", 0) > 0), None)

    def rows_complete(self, day: date) -> bool:
        """True when observation rows were read from the very start of `day` (row-only dims are whole)."""
        record = self.get(day)
        started = _parse(record.get("rows_from")) if record else None
        return started is not None and started <= day_bounds(day, self.tz)[0]

    def note_rows_read(self, start: datetime, end: datetime) -> None:
        """Record that rows of [start, end) were read, for every local day it overlaps."""
        for day in days_between(start, end, self.tz):
            record = self.day(day)
            begin = max(start, day_bounds(day, self.tz)[0])
            known = _parse(record.get("rows_from"))
            if known is None or begin < known:
                record["rows_from"] = _iso(begin)

    def prune(self, keep_from: date) -> None:
        for key in [k for k in self.data["days"] if k < keep_from.isoformat()]:
            del self.data["days"][key]

    # --- adding spend --------------------------------------------------------------------------

    @staticmethod
    def _bump(table: dict[str, float], value: str, cost: float, max_values: int) -> bool:
        """Add `cost` to `value`, or to OTHER when the table is full; True when it was folded."""
        folded = value not in table and len(table) >= max_values
        key = OTHER if folded else value
        table[key] = table.get(key, 0.0) + cost
        return folded

    def add_observation(
        self, obs: Observation, dims: dict[str, tuple[str, ...]], cross: dict[str, list[str]], max_values: int
    ) -> None:
        """Add one cost-bearing observation: `dims` are its values per tracked dimension, `cross`
        maps each scoped-budget dimension to the contributor dimensions tallied inside it."""
        local = obs.start_time.astimezone(self.tz)
        record = self.day(local.date())
        cost = obs.total_cost
        record["total"] += cost
        record["hours"][local.hour] += cost
        folded = False
        for dim, values in dims.items():
            table = record["dims"].setdefault(dim, {})
            for value in values:
                folded |= self._bump(table, value, cost, max_values)
        for scope_dim, contributor_dims in cross.items():
            scope_table = record["cross"].setdefault(scope_dim, {})
            for value in dims[scope_dim]:
                if value not in scope_table and len(scope_table) >= max_values:
                    continue  # already folded into OTHER above; no breakdown for it
                inner = scope_table.setdefault(value, {})
                for cdim in contributor_dims:
                    for cvalue in dims[cdim]:
                        folded |= self._bump(inner.setdefault(cdim, {}), cvalue, cost, max_values)
        # One observation folded in several tables (its user and its agent) is one observation folded.
        if folded:
            self.overflow += 1

    def replace_totals(self, day: date, total: float, hours: list[float]) -> None:
        record = self.day(day)
        record["total"], record["hours"] = total, hours

    def replace_dim(self, day: date, dim: str, values: dict[str, float], max_values: int) -> None:
        """Replace a dimension's table with aggregates, keeping at most `max_values` values as rows do: the
        ones the table already names first (a value alerted on from rows keeps its series), then the
        costliest; the rest is summed into OTHER."""
        known = self.day(day)["dims"].get(dim, {})
        order = sorted(values, key=lambda v: (v == OTHER or v not in known, -values[v], v))
        kept = {v: values[v] for v in order[:max_values] if v != OTHER}
        folded = [values[v] for v in values if v not in kept]
        if folded:
            kept[OTHER] = sum(folded)
        self.day(day)["dims"][dim] = kept

    def close(self, day: date) -> None:
        self.day(day)["closed"] = True

    def is_closed(self, day: date) -> bool:
        record = self.get(day)
        return bool(record and record.get("closed"))

"""Monitor health for the report: last success, runs and failures in the week, stale monitors.

Runs are attributed to the week by the data window they read (like findings), so a run that finished
just after midnight on Monday counts for the week its window covered. Failed runs carry the source
error in their summary; those become the "could not run" lines of the digest.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from monitors.contracts.findings import utc
from monitors.report.period import ReportWeek

FAILED = ("failed", "delivery_failed")
# How long after the week's end a run may still be reading that week (catch-up, a slow daily job).
RUN_GRACE = timedelta(days=2)


@dataclass
class MonitorHealth:
    monitor: str
    last_ok: datetime | None = None
    runs: int = 0
    failures: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    stale: str | None = None  # the scheduler's explanation when the monitor is stale

    @property
    def healthy(self) -> bool:
        return not self.failures and self.stale is None and self.last_ok is not None


def _window(summary: Mapping[str, Any]) -> tuple[datetime, datetime] | None:
    window = summary.get("window")
    if not isinstance(window, Mapping):
        return None
    try:
        return utc(datetime.fromisoformat(str(window["start"]))), utc(datetime.fromisoformat(str(window["end"])))
    except (KeyError, ValueError):
        return None


def gather_health(
    monitors: Sequence[str],
    runs: Iterable[Mapping[str, Any]],
    last_runs: Mapping[str, Mapping[str, Any]],
    week: ReportWeek,
    *,
    stale: Mapping[str, str] | None = None,
) -> list[MonitorHealth]:
    """Health of `monitors` (plus any other that ran) from `Store.runs_between` rows and `last_runs()`."""
    health = {name: MonitorHealth(name) for name in monitors}
    for run in runs:
        summary = run.get("summary") if isinstance(run.get("summary"), Mapping) else {}
        window = _window(summary)
        if window is None or not (window[0] < week.end and window[1] > week.start):
            continue
        entry = health.setdefault(str(run.get("monitor")), MonitorHealth(str(run.get("monitor"))))
        entry.runs += 1
        if run.get("status") in FAILED:
            entry.failures += 1
            entry.errors[str(summary.get("error") or run.get("status"))[:300]] += 1
    for name, entry in health.items():
        last_ok = (last_runs.get(name) or {}).get("last_ok")
        entry.last_ok = utc(last_ok) if isinstance(last_ok, datetime) else None
        entry.stale = (stale or {}).get(name)
    return sorted(health.values(), key=lambda h: h.monitor)


def runs_range(week: ReportWeek, now: datetime) -> tuple[datetime, datetime]:
    """The finished_at range of runs that may have read the week."""
    return week.start, max(week.start, min(utc(now), week.end + RUN_GRACE)) + timedelta(microseconds=1)

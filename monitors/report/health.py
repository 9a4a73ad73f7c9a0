"""Monitor health for the report: runs and failures in the week, how far its data was checked, stale monitors.

Runs are attributed to every week their data window overlaps (findings to one week each, by the middle
of their window: monitors/report/findings.py), so a run that finished just after midnight on Monday
counts for the week its window covered. Everything shown is about the
report's week: `checked_through` is the end of the latest successful run's window within the week (not
a run that happened after it). Failed runs carry the source error in their summary; those become the
"could not run" lines of the digest. The report's own earlier runs for the week (a retry after Langfuse
did not answer) are left out: the run being built replaces them, and is not a monitor of the week.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from monitors.contracts.findings import utc
from monitors.report.period import ReportWeek

FAILED = ("failed", "delivery_failed")
REPORT = "report"  # the name report runs are recorded under (monitors/report/run.py)


@dataclass
class MonitorHealth:
    monitor: str
    checked_through: datetime | None = None  # end of the week's data its successful runs read
    runs: int = 0
    failures: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    stale: str | None = None  # the scheduler's explanation when the monitor is stale

    @property
    def healthy(self) -> bool:
        return not self.failures and self.stale is None and self.checked_through is not None


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
    week: ReportWeek,
    *,
    stale: Mapping[str, str] | None = None,
) -> list[MonitorHealth]:
    """Health of `monitors` (plus any other that ran in the week) from `Store.runs_between` rows."""
    health = {name: MonitorHealth(name) for name in monitors}
    for run in runs:
        summary = run.get("summary") if isinstance(run.get("summary"), Mapping) else {}
        window = _window(summary)
        if run.get("monitor") == REPORT or window is None or not (window[0] < week.end and window[1] > week.start):
            continue
        entry = health.setdefault(str(run.get("monitor")), MonitorHealth(str(run.get("monitor"))))
        entry.runs += 1
        if run.get("status") in FAILED:
            entry.failures += 1
            entry.errors[str(summary.get("error") or run.get("status"))[:300]] += 1
        elif run.get("status") == "ok":
            through = min(window[1], week.end)
            entry.checked_through = max(entry.checked_through or through, through)
    for name, entry in health.items():
        entry.stale = (stale or {}).get(name)
    return sorted(health.values(), key=lambda h: h.monitor)


def runs_range(week: ReportWeek) -> tuple[datetime, datetime]:
    """The finished_at range of runs that may have read the week: from its start to the present.

    Attribution is by window (above), so this only bounds the read. Runs record their finish on the
    wall clock, which is why the end is the present and not the report's `now`: a report built for
    another time (the demo's simulated Thursday, a week re-reported later) still finds its runs.
    """
    return week.start, max(week.start, datetime.now(UTC)) + timedelta(microseconds=1)

"""The report's entry points: gather a week from settings, store and source; build the digest; write files.

    report = build_week_report(store, source, settings, week, now=now, schedules=schedules)
    paths = write_full_report(report, output_dir)            # Markdown + HTML
    message = build_digest_message(report, full_report=...)  # what goes to chat

`build_digest(store, source, settings, week_start, now)` does the first and last step in one call, for
callers (the demo) that only want the chat message.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from monitors.contracts.message import Message
from monitors.contracts.source import TraceSource
from monitors.engine.config import Settings
from monitors.engine.schedule_config import Schedules
from monitors.report.data import DEFAULT_DELAY, WeekReport, gather_week
from monitors.report.digest import build_digest_message
from monitors.report.period import ReportWeek, week_of
from monitors.support.files import write_private_text


def report_tz(settings: Settings) -> ZoneInfo:
    return ZoneInfo(settings.report.timezone)


def global_cap(settings: Settings) -> float | None:
    """The daily cap of the cost monitor's budget over all spend (drawn on the daily chart, and days above it
    are over budget). None when the cost monitor's days are not the report's: the chart's days would not
    be the days the cap applies to."""
    config = settings.monitor_configs.get("cost")
    if getattr(config, "timezone", settings.report.timezone) != settings.report.timezone:
        return None
    for budget in getattr(config, "budgets", None) or ():
        if budget.scope == "none" and budget.value is None and not budget.per_value:
            return float(budget.daily_cap)
    return None


def stale_lines(schedules: Schedules | None, store: Any, now: datetime) -> dict[str, str]:
    if schedules is None:
        return {}
    from monitors.engine.schedules import stale_monitors

    stale = stale_monitors(schedules, store.last_runs(), now, watching_since=store.created_at())
    return {s.monitor: s.line(now) for s in stale}


def build_week_report(
    store: Any,
    source: TraceSource,
    settings: Settings,
    week: ReportWeek,
    *,
    now: datetime,
    schedules: Schedules | None = None,
) -> WeekReport:
    """Everything the digest and the full report show for `week`; never re-runs a monitor."""
    delay = settings.langfuse.query_delay if settings.langfuse else DEFAULT_DELAY
    monitors = [m for m in settings.enabled_monitors()]
    return gather_week(
        store,
        source,
        week,
        now=now,
        monitors=monitors,
        cap=global_cap(settings),
        delay=delay if isinstance(delay, timedelta) else DEFAULT_DELAY,
        stale=stale_lines(schedules, store, now),
    )


def build_digest(
    store: Any,
    source: TraceSource,
    settings: Settings,
    week_start: datetime,
    now: datetime,
    *,
    full_report: str | None = None,
) -> Message:
    """The chat digest for the ISO week containing `week_start` (in report.timezone)."""
    tz = report_tz(settings)
    week = week_of(week_start.astimezone(tz).date(), tz)
    report = build_week_report(store, source, settings, week, now=now)
    return build_digest_message(report, full_report=full_report)


def report_paths(output_dir: Path, week: ReportWeek) -> tuple[Path, Path]:
    """Where the Markdown and HTML reports of `week` go."""
    stem = f"report-{week.label}"
    return output_dir / f"{stem}.md", output_dir / f"{stem}.html"


def write_full_report(report: WeekReport, output_dir: Path) -> tuple[Path, Path]:
    """Write the Markdown and HTML reports (atomically: a reader never sees half a file)."""
    from monitors.report.full import render_html, render_markdown

    output_dir.mkdir(parents=True, exist_ok=True)
    md_path, html_path = report_paths(output_dir, report.week)
    for path, text in ((md_path, render_markdown(report)), (html_path, render_html(report))):
        write_private_text(path, text)  # 0600, never through a planted symlink
    return md_path, html_path

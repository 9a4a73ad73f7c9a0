"""One report run: gather the week, write the full report, post the digest to chat, record the run.

The digest is not a finding: it bypasses dedupe and the outbox and goes straight through each
channel's notifier; a channel that fails is reported (exit 1) and the others still get it. A dry run
prints the digest to the terminal and writes nothing (no files, no run record).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from monitors.contracts.errors import ConfigError
from monitors.contracts.message import Message
from monitors.contracts.source import TraceSource
from monitors.engine.config import Settings
from monitors.engine.schedule_config import Schedules
from monitors.report.build import build_week_report, write_full_report
from monitors.report.data import WeekReport
from monitors.report.digest import build_digest_message
from monitors.report.period import ReportWeek

log = logging.getLogger("monitors.report")


@dataclass
class ReportRun:
    """What a report run did; printed as one summary line."""

    week: str
    status: str = "ok"
    spend: float | None = 0.0  # None: the week's spend could not be read
    findings: int = 0
    channels: list[str] = field(default_factory=list)
    delivered: int = 0
    failed: int = 0
    errors: dict[str, str] = field(default_factory=dict)
    requests: int = 0
    markdown: str | None = None
    html: str | None = None
    dry_run: bool = False

    @property
    def exit_code(self) -> int:
        return 1 if self.failed else 0

    def to_dict(self) -> dict[str, Any]:
        return dict(vars(self))

    def line(self) -> str:
        parts = [f"monitor=report status={self.status} week={self.week} spend={_dollars(self.spend)}"]
        parts.append(f"findings={self.findings} channels={len(self.channels)}")
        parts.append(f"delivered={self.delivered} failed={self.failed} requests={self.requests}")
        if self.html:
            parts.append(f"html={self.html} markdown={self.markdown}")
        if self.dry_run:
            parts.append("dry_run=true")
        parts += [f"error[{channel}]={reason!r}" for channel, reason in self.errors.items()]
        return " ".join(parts)


def _dollars(value: float | None) -> str:
    return "unknown" if value is None else f"${value:.2f}"


def digest_channels(settings: Settings, available: Mapping[str, Any]) -> list[str]:
    """report.channels, or every configured channel; an unknown name is a config error."""
    wanted = settings.report.channels if settings.report.channels is not None else list(available)
    unknown = [c for c in wanted if c not in available]
    if unknown:
        where = settings.source_file or "monitors.yaml"
        raise ConfigError(f"{where}: report.channels: unknown channel(s) {', '.join(map(repr, unknown))}")
    return list(dict.fromkeys(wanted))


def full_report_ref(html_path: Path | None, base_url: str | None) -> str | None:
    """What the digest points at: a URL under base_url when given, else the file path."""
    if html_path is None:
        return None
    if base_url:
        return f"{base_url.rstrip('/')}/{html_path.name}"
    return str(html_path)


def run_report(
    settings: Settings,
    store: Any,
    source: TraceSource,
    notifiers: Mapping[str, Any],
    week: ReportWeek,
    *,
    now: datetime,
    output_dir: Path,
    dry_run: bool = False,
    schedules: Schedules | None = None,
    base_url: str | None = None,
    printer: Any = None,
) -> tuple[ReportRun, WeekReport, Message]:
    """Build and deliver the report of `week`. `printer` is the notifier a dry run prints with."""
    report = build_week_report(store, source, settings, week, now=now, schedules=schedules)
    spend = round(report.spend.total, 2) if report.spend.known else None
    result = ReportRun(week.label, spend=spend, findings=len(report.findings), dry_run=dry_run)
    result.requests = report.spend.requests
    html_path = None
    if not dry_run:
        md_path, html_path = write_full_report(report, output_dir)
        result.markdown, result.html = str(md_path), str(html_path)
    message = build_digest_message(report, full_report=full_report_ref(html_path, base_url))
    if dry_run:
        if printer is not None:
            printer.deliver(message)
        return result, report, message
    result.channels = digest_channels(settings, notifiers)
    for channel in result.channels:
        outcome = notifiers[channel].deliver(message)
        if outcome.ok:
            result.delivered += 1
        else:
            result.failed += 1
            result.errors[channel] = outcome.reason
    result.status = "delivery_failed" if result.failed else "ok"
    _record(store, week, now, result)
    return result, report, message


def _record(store: Any, week: ReportWeek, now: datetime, result: ReportRun) -> None:
    """The report's own heartbeat, so `status` and the next report can tell when it last worked."""
    summary = {
        "monitor": "report",
        "status": result.status,
        "window": {"start": week.start.isoformat(), "end": week.end.isoformat()},
        "delivered": result.delivered,
        "failed": result.failed,
        "requests": result.requests,
        "error": json.dumps(result.errors) if result.errors else None,
    }
    store.record_run("report", started=now, finished=datetime.now(UTC), status=result.status, summary=summary)

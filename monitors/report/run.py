"""One report run: gather the week, write the full report, post the digest to chat, record the run.

The digest is not a finding: it bypasses dedupe and the outbox and goes straight through each
channel's notifier; a channel that fails is reported (exit 1) and the others still get it. A week whose
spend Langfuse did not answer is still posted, saying so, and the run fails (exit 1) so the CronJob and
the alert rules see it. A rerun for the same week posts only where the digest is missing or was
incomplete (`monitors.report.sent`), unless asked to resend. The digest of a week still in progress
counts as incomplete, so the scheduled report after the week still posts; a week that has not begun
is refused (exit 2). A dry run prints the digest to the
terminal and writes nothing (no files, no run record).
"""

from __future__ import annotations

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
from monitors.report.health import REPORT
from monitors.report.period import ReportWeek, require_begun
from monitors.report.sent import COMPLETE, INCOMPLETE, needs_digest, read_sent

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
    already_sent: list[str] = field(default_factory=list)  # channels an earlier run of the week covered
    errors: dict[str, str] = field(default_factory=dict)  # channel -> why it failed
    langfuse_errors: list[str] = field(default_factory=list)  # spend queries Langfuse did not answer
    requests: int = 0
    markdown: str | None = None
    html: str | None = None
    dry_run: bool = False

    @property
    def exit_code(self) -> int:
        return 1 if self.status in ("failed", "delivery_failed") else 0

    def to_dict(self) -> dict[str, Any]:
        return dict(vars(self))

    def line(self) -> str:
        parts = [f"monitor=report status={self.status} week={self.week} spend={_dollars(self.spend)}"]
        parts.append(f"findings={self.findings} channels={len(self.channels)}")
        parts.append(f"delivered={self.delivered} failed={self.failed} requests={self.requests}")
        if self.already_sent:
            parts.append(f"already_sent={','.join(self.already_sent)}")
        if self.html:
            parts.append(f"html={self.html} markdown={self.markdown}")
        if self.dry_run:
            parts.append("dry_run=true")
        parts += [f"error[{channel}]={reason!r}" for channel, reason in self.errors.items()]
        if self.langfuse_errors:
            parts.append(f"langfuse_error={'; '.join(self.langfuse_errors)!r}")
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
    resend: bool = False,
) -> tuple[ReportRun, WeekReport, Message]:
    """Build and deliver the report of `week`. `printer` is the notifier a dry run prints with;
    `resend` posts to every channel even if an earlier run of the week already did."""
    require_begun(week, now)
    report = build_week_report(store, source, settings, week, now=now, schedules=schedules)
    spend = round(report.spend.total, 2) if report.spend.known else None
    result = ReportRun(week.label, spend=spend, findings=len(report.findings), dry_run=dry_run)
    result.requests = report.spend.requests
    result.langfuse_errors = list(report.spend.errors)
    if result.langfuse_errors:
        result.status = "failed"
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
    complete = not result.langfuse_errors and not report.in_progress
    earlier = {} if resend else read_sent(store, week, now)
    sent: dict[str, str] = {}
    for channel in result.channels:
        if not needs_digest(channel, earlier, complete=complete):
            result.already_sent.append(channel)
            continue
        outcome = notifiers[channel].deliver(message)
        if outcome.ok:
            result.delivered += 1
            sent[channel] = COMPLETE if complete else INCOMPLETE
        else:
            result.failed += 1
            result.errors[channel] = outcome.reason
    if complete:
        result.status = "delivery_failed" if result.failed else "ok"
    _record(store, week, now, result, sent)
    return result, report, message


def _record(store: Any, week: ReportWeek, now: datetime, result: ReportRun, sent: dict[str, str]) -> None:
    """The report's own heartbeat, so `status` and the next report can tell when it last worked."""
    summary = {
        "monitor": REPORT,
        "status": result.status,
        "window": {"start": week.start.isoformat(), "end": week.end.isoformat()},
        "delivered": result.delivered,
        "failed": result.failed,
        "requests": result.requests,
        "error": _error_text(result),
        "sent": sent,
    }
    store.record_run(REPORT, started=now, finished=datetime.now(UTC), status=result.status, summary=summary)


def _error_text(result: ReportRun) -> str | None:
    """The run's error as the digest's "could not run" lines show it: Langfuse first, then channels."""
    parts = [f"could not read Langfuse: {e}" for e in result.langfuse_errors]
    parts += [f"{channel}: {reason}" for channel, reason in result.errors.items()]
    return "; ".join(parts) or None

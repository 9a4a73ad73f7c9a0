"""run_once: the one entry point that runs one monitor over one window (DESIGN.md section 1).

The CLI, the APScheduler runner and the Kubernetes CronJob all call this. Order matters: findings are
queued in the outbox and the watermark advances in ONE transaction, and only then is the outbox
delivered, so a run killed at any point loses no alert and the next run sends what is pending.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TextIO

from monitors.contracts.errors import MonitorsError, SourceError
from monitors.contracts.findings import Finding, RunWindow
from monitors.contracts.monitor import MemoryState, RunContext
from monitors.contracts.records import Observation
from monitors.contracts.source import ObservationQuery, TraceSource
from monitors.engine.config import Settings
from monitors.engine.dedupe import Decision, decide_all
from monitors.engine.delivery import deliver_exclusively, show_what_would_be_sent
from monitors.engine.registry import monitor_class
from monitors.engine.routing import plan_resolved, rows_for
from monitors.engine.score_writes import write_back
from monitors.engine.wiring import github_factory
from monitors.store.rows import RunCommit
from monitors.store.store import Store
from monitors.store.watermarks import choose_window, next_watermark, trusted_watermark
from monitors.support.deadline import run_deadline
from monitors.support.safe_text import plain

log = logging.getLogger("monitors.engine.pipeline")


@dataclass
class RunSummary:
    """What one run did; printed as one line and stored as the run's heartbeat."""

    monitor: str
    window: RunWindow | None = None
    status: str = "ok"  # ok | failed | delivery_failed | skipped | nothing_to_do
    records: int = 0
    findings: int = 0
    suppressed: int = 0
    queued: int = 0
    delivered: int = 0
    failed: int = 0
    requests: int = 0
    malformed: int = 0
    dry_run: bool = False
    error: str | None = None
    counters: dict[str, int] = field(default_factory=dict)
    requests_by_endpoint: dict[str, int] = field(default_factory=dict)  # source requests per API path
    forge_requests_by_endpoint: dict[str, int] = field(default_factory=dict)  # e.g. "github:pr_files"
    decisions: list[Decision] = field(default_factory=list, repr=False)

    @property
    def exit_code(self) -> int:
        return 1 if self.status in ("failed", "delivery_failed") else 0

    def to_dict(self) -> dict[str, Any]:
        window = {"start": self.window.start.isoformat(), "end": self.window.end.isoformat()} if self.window else None
        data = {k: v for k, v in vars(self).items() if k not in ("decisions", "window")}
        return {"window": window, **data}

    def line(self) -> str:
        parts = [
            f"monitor={self.monitor}",
            f"status={self.status}",
            f"window={self.window or '-'}",
            *(f"{k}={getattr(self, k)}" for k in ("records", "findings", "suppressed", "queued", "delivered")),
            f"failed={self.failed}",
            f"requests={self.requests}",
        ]
        if self.malformed:
            parts.append(f"malformed={self.malformed}")
        parts += [f"{k}={v}" for k, v in sorted(self.counters.items())]
        if self.dry_run:
            parts.append("dry_run=true")
        if self.error:
            parts.append(f"error={self.error!r}")
        return " ".join(parts)


PROGRESS_EVERY = 5000  # records between progress updates on a terminal


class CountingSource:
    """Wraps a TraceSource to count the records a monitor read, with progress on a terminal."""

    def __init__(self, inner: TraceSource, *, progress: TextIO | None = None, label: str = "") -> None:
        self.inner = inner
        self.stats = inner.stats
        self.records = 0
        self.progress = progress
        self.label = label
        # One source serves every monitor of `run-monitor all`: its counters are cumulative, so each
        # run reports the difference from where they stood when it began.
        self.requests_before = inner.stats.requests
        self.malformed_before = inner.stats.malformed
        self.by_endpoint_before = dict(getattr(inner.stats, "by_endpoint", {}))

    def observations(self, query: ObservationQuery) -> Iterator[Observation]:
        for obs in self.inner.observations(query):
            self.records += 1
            if self.progress is not None and self.records % PROGRESS_EVERY == 0:
                self.progress.write(f"\r{self.label}: read {self.records:,} records ({self.stats.requests} requests)…")
                self.progress.flush()
            yield obs

    def end_progress(self) -> None:
        if self.progress is not None and self.records >= PROGRESS_EVERY:
            self.progress.write("\r\033[K")  # clear the line; the summary line follows
            self.progress.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@dataclass
class RunDeps:
    """What a run talks to. The CLI builds these from settings; tests pass their own."""

    source: TraceSource
    store: Store
    notifiers: Mapping[str, Any]
    gitlab_factory: Callable[[], Any] | None = None
    github_factory: Callable[[], Any] | None = None  # None: built from settings.github, if configured


def run_once(
    monitor_name: str,
    settings: Settings,
    deps: RunDeps,
    *,
    now: datetime | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    dry_run: bool = False,
    deadline: timedelta | None = None,
) -> RunSummary:
    """Run one monitor over one window; never raises for source or delivery failures (see status).

    `deadline` bounds the run: every request, retry wait and delivery fits in it (see
    monitors.support.deadline); a run that reaches it ends `failed`, saying where it stopped.
    """
    now = now or datetime.now(UTC)
    summary = RunSummary(monitor_name, dry_run=dry_run)
    store = deps.store
    lease = settings.store.lock_lease
    if not dry_run and not store.acquire_lock(monitor_name, now=now, lease=lease):
        holder = (store.lock_holders().get(monitor_name) or {}).get("holder", "unknown")
        summary.status, summary.error = "skipped", f"held back: another run of this monitor holds its lock ({holder})"
        # Recorded, so `status` can show a monitor that is being held back instead of running.
        finished = datetime.now(UTC)
        store.record_run(monitor_name, started=now, finished=finished, status="skipped", summary=summary.to_dict())
        log.warning("%s", summary.line())
        return summary
    try:
        with run_deadline(deadline.total_seconds() if deadline is not None else None):
            _run(monitor_name, settings, deps, summary, now=now, since=since, until=until, dry_run=dry_run)
    except BaseException as exc:  # Ctrl-C, SIGTERM turned into SystemExit, a bug: never recorded as `ok`
        summary.status = "failed"
        summary.error = summary.error or f"interrupted ({type(exc).__name__}); nothing after that point was done"
        raise
    finally:
        if not dry_run:
            try:
                store.record_run(
                    monitor_name,
                    started=now,
                    finished=datetime.now(UTC),
                    status=summary.status,
                    summary=summary.to_dict(),
                )
            finally:
                # Even when the store refused the record (locked, gone): a lock kept here would hold the
                # monitor back for the life of a scheduler process, its heartbeat renewing it forever.
                store.release_lock(monitor_name)
    log.info("%s", summary.line())
    return summary


def _run(
    name: str,
    settings: Settings,
    deps: RunDeps,
    summary: RunSummary,
    *,
    now: datetime,
    since: datetime | None,
    until: datetime | None,
    dry_run: bool,
) -> None:
    monitor = _build_monitor(name, settings)
    delay = settings.langfuse.query_delay if settings.langfuse else timedelta(minutes=15)
    watermark = trusted_watermark(deps.store.watermark(name), now)
    window = choose_window(watermark, now, delay, since, until)
    summary.window = window
    # Long reads show progress on a terminal and stay quiet in a CronJob's log.
    source = CountingSource(deps.source, progress=sys.stderr if sys.stderr.isatty() else None, label=name)
    state = MemoryState(deps.store.load_state(name))
    ctx = RunContext(
        window=window,
        now=now,
        source=source,
        state=state,
        embedding_cache=deps.store,
        gitlab_factory=deps.gitlab_factory,
        github_factory=deps.github_factory or github_factory(settings),
        change_cache=deps.store,
        metadata_keys=settings.metadata_keys.model_dump(),
        log=logging.getLogger(f"monitors.{name}"),
    )
    try:
        findings = list(monitor.run(ctx))
    except SourceError as exc:
        source.end_progress()
        summary.status, summary.error = "failed", str(exc)
        _fill_source_stats(summary, source, ctx)
        return
    source.end_progress()
    _fill_source_stats(summary, source, ctx)
    summary.findings = len(findings)
    records = deps.store.finding_records(f.fingerprint for f in [*findings, *ctx.resolved])
    silences = deps.store.silences(now=now)
    decisions = decide_all(findings, records, silences, now=now, realert=settings.alerting.realert)
    summary.decisions = decisions
    commit = _plan_commit(name, settings, decisions, now, state, deps.store, window)
    commit.watermark = next_watermark(watermark, window, since, until)
    sent = {d.finding.fingerprint for d in decisions if d.send}
    resolved = plan_resolved(ctx.resolved, sent, records, silences, settings, deps.store, now)
    commit.outbox.extend(resolved.rows)
    commit.resolved.extend([*resolved.resolved, *resolved.unnotified])
    # Logged beside the sightings, their decision starting RESOLUTION_DECISION: the Alertmanager sync ends
    # such an alert at once rather than at its expiry; the report and the findings counts skip them.
    for finding, reason in resolved.events:
        commit.events.append(finding_event(name, finding, reason, window))
    if resolved.resolved:
        summary.counters["resolved"] = len(resolved.resolved)
    if resolved.gone:
        summary.counters["resolve_channel_gone"] = total = sum(resolved.gone.values())
        log.warning(
            "%d resolved notice(s) not sent: channel(s) %s got the alert but are no longer configured; "
            "close the incident(s) there by hand", total, ", ".join(sorted(resolved.gone)),
        )  # fmt: skip
    summary.suppressed = sum(not d.send for d in decisions)
    summary.queued = len(commit.outbox)
    for decision in decisions:
        log.debug("%s %s: %s", "send" if decision.send else "hold", decision.finding.fingerprint, decision.reason)
    if dry_run:
        show_what_would_be_sent(commit.outbox, deps.notifiers)
        return
    if not deps.store.commit_run(commit, fenced=True):
        # Another run took the lock over (this one stalled past its lease): it owns the window now.
        summary.status, summary.error = "failed", "lost the run lock to another run; nothing committed or sent"
        return
    if not deps.store.lock_still_held(name):
        # Taken over since the commit: the new holder delivers what is queued; two senders would duplicate.
        summary.status, summary.error = "failed", "lost the run lock to another run after queuing; it delivers"
        return
    _deliver(settings, deps, summary, now)
    try:
        summary.counters.update(write_back(deps.source, deps.store, name, ctx.scores, now).counters())
    except MonitorsError as exc:  # the store failed around the write-back: the alerts are out, as before
        log.warning("could not write %d scores back to Langfuse: %s", len(ctx.scores), exc)
        summary.counters["scores_failed"] = len(ctx.scores)


def _build_monitor(name: str, settings: Settings) -> Any:
    cls = monitor_class(name)
    config = settings.monitor_configs.get(name)
    if config is None:
        config = cls.Config()
    return cls(config)


def _fill_source_stats(summary: RunSummary, source: CountingSource, ctx: RunContext) -> None:
    summary.records = source.records
    summary.requests = source.stats.requests - source.requests_before
    summary.requests_by_endpoint = {
        path: count - source.by_endpoint_before.get(path, 0)
        for path, count in getattr(source.stats, "by_endpoint", {}).items()
        if count > source.by_endpoint_before.get(path, 0)
    }
    summary.malformed = source.stats.malformed - source.malformed_before
    if summary.malformed:
        # The summary line has only the count; say why once, so a bad export or a server change is findable.
        log.warning(
            "%s: skipped %d malformed record(s); the last: %s",
            summary.monitor,
            summary.malformed,
            plain(getattr(source.stats, "last_malformed", "") or "(no reason given)", 200),
        )
    summary.counters = dict(ctx.counters)
    summary.forge_requests_by_endpoint = dict(sorted(ctx.forge_requests.items()))


def finding_to_dict(finding: Finding) -> dict[str, Any]:
    return {
        "monitor": finding.monitor,
        "dedupe_key": finding.dedupe_key,
        "kind": finding.kind,
        "severity": finding.severity.label,
        "rank": finding.rank,
        "title": finding.title,
        "summary": finding.summary,
        "observed_at": finding.observed_at.isoformat(),
        "fields": [list(f) for f in finding.fields],
        "evidence": dict(finding.evidence),
        "links": [{"label": link.label, "url": link.url} for link in finding.links],
    }


def _plan_commit(
    name: str,
    settings: Settings,
    decisions: list[Decision],
    now: datetime,
    state: MemoryState,
    store: Store,
    window: RunWindow,
) -> RunCommit:
    commit = RunCommit(monitor=name, now=now, watermark=None, seen=[], outbox=[], events=[], state=state.dirty)
    for decision in decisions:
        finding = decision.finding
        channels = settings.channel_routes(name, finding.kind, finding.severity) if decision.send else {}
        reason = decision.reason if not decision.send or channels else "no route matches"
        if decision.send and channels:
            commit.outbox.extend(rows_for(finding, channels, store, now))
        commit.seen.append((finding.fingerprint, finding.rank if decision.send and channels else None))
        commit.events.append(finding_event(name, finding, reason, window))
    return commit


def finding_event(name: str, finding: Finding, decision: str, run_window: RunWindow) -> dict[str, Any]:
    """The `finding_events` row of one finding of a run. Its window is the data the finding is about (the
    weekly report's week is chosen by it): the finding's own (a cost budget's day), else what the run read;
    `observed_at` is only when the run found it, which for a late or catch-up run is another week."""
    about = finding.window or run_window
    return {
        "monitor": name,
        "fingerprint": finding.fingerprint,
        "kind": finding.kind or "-",
        "severity": finding.severity.label,
        "observed_at": finding.observed_at,
        "decision": decision[:200],
        "finding": _jsonable(finding_to_dict(finding)),
        "window_start": about.start,
        "window_end": about.end,
    }


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def _deliver(settings: Settings, deps: RunDeps, summary: RunSummary, now: datetime) -> None:
    result = deliver_exclusively(
        deps.store,
        deps.notifiers,
        now=now,
        lease=settings.store.lock_lease,
        max_attempts=settings.alerting.max_attempts,
        retention=settings.store.outbox_retention,
        resolving_channels=settings.resolving_channels(),
    )
    if result is None:
        log.warning("another run kept delivering the outbox; this run's alerts are left to it or the next run")
        summary.counters["delivery_left_to_another_run"] = 1
        return
    summary.delivered = result.delivered
    summary.failed = result.failed + result.deferred + result.unconfirmed
    if result.unconfirmed:
        summary.counters["unconfirmed"] = result.unconfirmed
    if result.pruned:
        summary.counters["outbox_pruned"] = result.pruned
    if result.out_of_time:
        summary.counters["left_at_deadline"] = result.out_of_time
        summary.error = summary.error or "run deadline reached before every alert was delivered"
    if summary.failed and summary.status == "ok":
        summary.status = "delivery_failed"


__all__ = ["RunDeps", "RunSummary", "choose_window", "finding_event", "run_once"]

"""run-monitor status: each monitor's last run, stale monitors, alerts and scores waiting to go out."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click

from monitors.app.cli.common import (
    SCHEDULES_DEFAULT,
    SCHEDULES_ENV,
    STORE_ONLY,
    config_option,
    format_option,
    load_settings,
    schedules_path,
    store_for,
)
from monitors.app.cli.errors import exit_codes
from monitors.contracts.values import format_duration


def _when(value: datetime | None) -> str:
    """A stored time as a person reads it: 2026-11-23 08:45:12Z (or 'never')."""
    return f"{value.astimezone(UTC):%Y-%m-%d %H:%M:%S}Z" if isinstance(value, datetime) else "never"


def _json_value(value: object) -> str:
    """A value json cannot write itself: a time as ISO 8601 UTC with Z (one format in the whole document)."""
    return f"{value.astimezone(UTC):%Y-%m-%dT%H:%M:%S}Z" if isinstance(value, datetime) else str(value)


def _how_to_give_schedules(looked_at: Path) -> str:
    return f"pass -s schedules.yaml, set {SCHEDULES_ENV}, or put it at {looked_at}"


# Outbox row states in the order a reader wants them, as words: the store's own names mean little outside.
_OUTBOX_STATES = {
    "pending": "waiting to be sent",
    "sent": "sent",
    "failed": "given up",
    "unconfirmed": "given up unanswered (may have arrived)",
}


def outbox_line(counts: dict[str, int], retention: timedelta) -> str:
    """'outbox: 1 waiting to be sent (in the last 30d: 2 sent)' from `outbox_counts`: every pending message,
    and the others settled within the retention (older ones are pruned), in words, not a dict's repr."""
    waiting = f"outbox: {counts.get('pending', 0)} waiting to be sent"
    parts = [
        f"{counts[state]} {words}"
        for state, words in _OUTBOX_STATES.items()
        if state != "pending" and counts.get(state)
    ]
    parts += [f"{n} {state}" for state, n in sorted(counts.items()) if state not in _OUTBOX_STATES and n]
    return f"{waiting} (in the last {format_duration(retention)}: {', '.join(parts)})" if parts else waiting


def _not_run_yet(plan: Any, runs: dict[str, Any], stale: set[str], now: datetime) -> list[dict[str, Any]]:
    """Scheduled monitors with no run at all that are not yet stale (a fresh install): when they run next."""
    from monitors.engine.schedules import next_fire

    return [
        {"monitor": job.monitor, "job": job.name, "next": next_fire(job, plan, now)}
        for job in plan.jobs
        if job.monitor not in runs and job.monitor not in stale
    ]


def register(cli: click.Group) -> None:
    @cli.command()
    @config_option
    @click.option(
        "--schedules",
        "-s",
        type=click.Path(dir_okay=False, path_type=Path),
        help=f"schedules.yaml, to flag stale monitors ({SCHEDULES_DEFAULT}, if there).",
    )
    @format_option(
        '{"runs", "outbox", "outbox_settled_since", "scores_pending", "stale", "not_run_yet"}; every time '
        'as 2026-11-23T08:45:12Z; "stale" and "not_run_yet" are null without schedules (not known)'
    )
    @click.option("--dry-run", is_flag=True, help="Read the store without upgrading its schema.")
    @exit_codes
    def status(config: str | None, schedules: Path | None, fmt: str, dry_run: bool) -> None:
        """Each monitor's last run and last success, monitors gone stale, alerts waiting to be sent, and scores
        waiting to be written back to Langfuse.

        A monitor whose latest runs were all skipped because another run holds its lock is shown as
        HELD BACK. Exits 1 when a scheduled monitor has not succeeded within twice its interval (for probes);
        on a fresh install, a monitor that has not run yet counts from when the store was created.
        """
        import json

        from monitors.engine.schedule_config import load_schedules
        from monitors.engine.schedules import stale_monitors

        settings = load_settings(config, False, needs=STORE_ONLY)
        store = store_for(settings, dry_run=dry_run)
        now = datetime.now(UTC)
        retention = settings.store.outbox_retention
        settled_since = now - retention  # older settled rows are pruned (the ones kept for a resolve are not counted)
        runs, scores_pending = store.last_runs(), store.pending_score_counts()
        outbox = store.outbox_counts(settled_since=settled_since)
        path, named = schedules_path(schedules, settings.source_file)
        schedules = path if named or path.exists() else None
        plan = load_schedules(schedules) if schedules else None
        stale = stale_monitors(plan, runs, now, watching_since=store.created_at()) if plan else []
        if fmt == "json":
            # Without schedules neither is known: null, not an empty list that reads as "none".
            waiting = _not_run_yet(plan, runs, {s.monitor for s in stale}, now) if plan else None
            document = {"runs": runs, "outbox": outbox, "outbox_settled_since": settled_since}
            document |= {"scores_pending": scores_pending, "not_run_yet": waiting}
            document |= {"stale": [s.monitor for s in stale] if plan else None}
            click.echo(json.dumps(document, default=_json_value))
        else:
            for monitor, entry in sorted(runs.items()):
                last = entry.get("last") or {}
                click.echo(
                    f"{monitor}: last={last.get('status')} at {_when(last.get('finished_at'))} "
                    f"last_ok={_when(entry['last_ok'])} failures={entry['failures']}"
                )
                if held := entry.get("held_back"):
                    click.echo(
                        f"{monitor}: HELD BACK since {held['since']}: {held['skipped']} run(s) skipped, "
                        f"{held['reason'] or 'another run holds its lock'}"
                    )
            for monitor, n in sorted(scores_pending.items()):
                click.echo(f"{monitor}: {n} score(s) waiting to be written back to Langfuse (its next run sends them)")
            for item in stale:
                click.echo(item.line(now))
            for job in _not_run_yet(plan, runs, {s.monitor for s in stale}, now) if plan else []:
                click.echo(f"{job['monitor']}: no run yet; next scheduled {_when(job['next'])} (job {job['job']})")
            stale_count = len(stale) if schedules else f"unknown (no schedules: {_how_to_give_schedules(path)})"
            click.echo(f"{outbox_line(outbox, retention)}; stale monitors: {stale_count}")
        sys.exit(1 if stale else 0)

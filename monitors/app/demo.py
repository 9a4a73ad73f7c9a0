"""`run-monitor all --demo`: every monitor over the bundled sample week, alerts on the terminal.

No credentials and no network: traces are replayed from monitors/demo/observations.jsonl.gz, merge
requests come from monitors/demo/gitlab.json, the store is a throwaway SQLite file. The monitors run
through the week as schedules.yaml has them: cost and events every hour, so you see a budget warn at 80% and page
at 100% once each, audit once a day, drift once over the week; alerts appear in the order a channel would get them,
grouped by agent and day as monitors/demo/monitors.yaml routes them.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from monitors.app.cli.common import terminal_alerts_to_stderr
from monitors.app.cli.output import RunOutput
from monitors.contracts.findings import RunWindow
from monitors.contracts.source import ObservationQuery
from monitors.engine.config import load_config
from monitors.engine.pipeline import RunDeps, RunSummary, run_once
from monitors.engine.wiring import build_notifiers, demo_path, gitlab_factory
from monitors.sources.replay import ReplaySource
from monitors.store.store import Store

DEMO_START = datetime(2026, 11, 16, tzinfo=UTC)
DEMO_END = datetime(2026, 11, 23, tzinfo=UTC)
COST_STEP = timedelta(hours=1)
DAILY_HOUR = 7  # audit runs daily at 07:15 (schedules.yaml: 06:45), after the night's agent runs


def load_demo_source() -> ReplaySource:
    """The sample traces, parsed once and held in memory so repeated runs are fast."""
    from_file = ReplaySource(demo_path("observations.jsonl.gz"))
    everything = RunWindow(datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))
    source = ReplaySource(
        observations=list(from_file.observations(ObservationQuery(everything))),
        host="https://langfuse.example.com",
        # Like live Langfuse, return only the field groups a query asks for.
        strict_fields=True,
        scores_path=demo_path("scores.jsonl.gz"),  # the evaluators' scores, read on first use
    )
    source.stats.malformed = from_file.stats.malformed
    source.stats.malformed_examples = from_file.stats.malformed_examples
    return source


def run_demo(
    names: Sequence[str],
    *,
    fmt: str,
    echo: Callable[[str], None],
    note: Callable[[str], None] | None = None,
    dry_run: bool = False,
    store_dir: Path | None = None,
    output: RunOutput | None = None,
) -> int:
    """Run `names` over the sample week; `echo` gets the summaries, `note` (default: echo) the rest.

    The demo is always dry: its store is a temporary file and its only channel the terminal. With
    `dry_run` the summaries say so, as a dry run of a configured monitor does.
    With fmt="json", alerts are written to stderr so that stdout holds only the JSON document `output`
    prints (default: one summary, or {"runs": [...]} for several monitors).
    """
    note = note or echo
    output = output or RunOutput(fmt, echo, several=len(names) > 1)
    settings = load_config(demo_path("monitors.yaml"), env={})
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.open(f"sqlite:///{Path(store_dir or tmp) / 'demo.db'}")
        notifiers = terminal_alerts_to_stderr(build_notifiers(settings), fmt)
        deps = RunDeps(load_demo_source(), store, notifiers, gitlab_factory(settings))
        delay = settings.langfuse.query_delay if settings.langfuse else timedelta(minutes=15)
        note(
            f"Demo: sample week {DEMO_START:%Y-%m-%d}..{DEMO_END - timedelta(days=1):%Y-%m-%d} "
            f"({len(deps.source._observations or [])} observations, replayed; no network)"
        )
        summaries = _week(names, settings, deps, delay)
        for summary in summaries:
            summary.dry_run = dry_run
            output.run(summary)
        output.close()
        if {"cost", "drift", "audit"} <= set(names):
            _weekly_digest(settings, deps, delay, note)
        store.close()
    return max((s.exit_code for s in summaries), default=0)


def _week(names: Sequence[str], settings, deps: RunDeps, delay: timedelta) -> list[RunSummary]:
    """Run the monitors through the week as a schedule would and fold each one's runs: cost hourly,
    audit daily after the night's agent runs (as schedules.yaml has it) and once more at the end.
    Drift runs once over the whole week: its score is normalised against the window's other
    objectives, and the demo shows it over the week's 27 merge requests."""
    totals = {name: RunSummary(name, window=RunWindow(DEMO_START, DEMO_END)) for name in names}
    tick = DEMO_START + COST_STEP
    while tick <= DEMO_END:
        for name in names:
            daily = tick.hour == DAILY_HOUR or tick == DEMO_END
            if (name == "audit" and not daily) or (name == "drift" and tick != DEMO_END):
                continue
            first = totals[name].counters.get("runs", 0) == 0
            summary = run_once(name, settings, deps, now=tick + delay, since=DEMO_START if first else None)
            _fold(totals[name], summary)
        tick += COST_STEP
    return list(totals.values())


def _fold(total: RunSummary, summary: RunSummary) -> None:
    for key in ("records", "findings", "suppressed", "queued", "delivered", "failed", "requests"):
        setattr(total, key, getattr(total, key) + getattr(summary, key))
    total.malformed = max(total.malformed, summary.malformed)
    for key, value in summary.counters.items():
        total.counters[key] = total.counters.get(key, 0) + value
    total.counters["runs"] = total.counters.get("runs", 0) + 1
    if summary.status not in ("ok", "nothing_to_do", "skipped"):
        total.status, total.error = summary.status, summary.error


def _weekly_digest(settings, deps: RunDeps, delay: timedelta, echo: Callable[[str], None]) -> None:
    """End the demo the way the week ends: with the Thursday digest, built from what the runs stored."""
    from monitors.report.build import build_digest

    echo("\nThe weekly digest these runs add up to (run-monitor report --demo writes the full HTML report):")
    digest = build_digest(deps.store, deps.source, settings, DEMO_START, DEMO_END + delay)
    for notifier in deps.notifiers.values():
        notifier.deliver(digest)

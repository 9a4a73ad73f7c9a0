"""run-monitor report: the weekly digest in chat plus the full Markdown/HTML report.

run-monitor report -c monitors.yaml                 # last complete ISO week in report.timezone
run-monitor report -c monitors.yaml --week 2026-W47 --dry-run
run-monitor report --demo                           # the bundled sample week, no credentials
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import click

from monitors.app.cli.common import config_option, format_option, terminal_alerts_to_stderr
from monitors.app.cli.errors import exit_codes

# Options that pick another config or data, which the demo's fixed sample week cannot honour.
DEMO_CONFLICTS = (("-c/--config", "config"), ("--source", "source_file"), ("-s/--schedules", "schedules"))

# The demo's report is read on the Thursday after the sample week, as the default schedule would.
DEMO_READ_AT = timedelta(days=3, hours=8)


def register(cli: click.Group) -> None:
    @cli.command()
    @config_option
    @click.option("--week", help="ISO week, e.g. 2026-W47 (default: the last complete week).")
    @click.option(
        "--demo",
        is_flag=True,
        help="Run the monitors over the bundled sample week, then report it: the digest goes to the terminal "
        "and the full report to report.output_dir (./reports), unless --dry-run.",
    )
    @click.option("--dry-run", is_flag=True, help="Print the digest here; post nothing, write nothing.")
    @click.option("--output-dir", type=click.Path(file_okay=False, path_type=Path), help="Overrides report.output_dir.")
    @format_option("the run's summary, its keys listed above (a dry run's digest goes to stderr)")
    @click.option(
        "--source",
        "source_file",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Read spend from an export file instead of Langfuse; reports on the last week whose Sunday it "
        "reaches unless --week says otherwise.",
    )
    @click.option("--schedules", "-s", type=click.Path(dir_okay=False), help="schedules.yaml, for stale monitors.")
    @click.option("--base-url", help="Where output_dir is served; the digest then links the HTML report.")
    @click.option(
        "--resend",
        is_flag=True,
        help="Post to every channel, even those an earlier run already gave this week's complete digest.",
    )
    def report(**opts: Any) -> None:
        """Post the weekly digest (spend, drift, audit, errors, monitor health); write the full report.

        A rerun for the same week (a CronJob retry, say) posts only to the channels that do not have
        it yet, or whose copy was incomplete because Langfuse did not answer; --resend posts to all.
        Exit 1 when a channel failed or the week's spend could not be read (the digest is still
        posted, saying so); exit 2 on a bad config or --week.

        --format json keys: week; status (ok, failed: Langfuse did not answer, delivery_failed);
        spend (the week's USD, null when it could not be read); findings (the week's findings);
        channels (posted to); delivered, failed (channels); already_sent (channels an earlier run
        gave this week's digest); errors (channel: why it failed); langfuse_errors (spend queries
        Langfuse did not answer); requests (to Langfuse); markdown, html (the files written, null in
        a dry run); dry_run (true when nothing was written or posted).
        """
        conflicting = [flag for flag, key in DEMO_CONFLICTS if opts["demo"] and opts[key]]
        if conflicting:
            raise click.UsageError(
                f"--demo reports on the bundled sample week with its own config; drop {', '.join(conflicting)}"
            )
        sys.exit(exit_codes(_demo if opts["demo"] else _configured)(opts))


def _week(opts: dict[str, Any], settings: Any, now: datetime) -> Any:
    from monitors.report.period import last_complete_week, parse_week

    tz = ZoneInfo(settings.report.timezone)
    return parse_week(opts["week"], tz) if opts["week"] else last_complete_week(now, tz)


def _replay_week(source: Any, path: Path, tz: ZoneInfo) -> str | None:
    """The week a replay reports by default: the last one whose Sunday the file reaches, said on stderr.

    The live default (the last complete week before today) would usually miss an export of a past week
    and print "Quiet week ... Spend $0.00" as if nothing had happened.
    """
    from monitors.report.period import week_of

    span = source.span()
    if span is None:
        click.echo(f"note: {path} holds no readable observations", err=True)
        return None
    last_day = (span.end - timedelta(microseconds=1)).astimezone(tz).date()
    week = week_of(last_day if last_day.isoweekday() == 7 else last_day - timedelta(days=7), tz)
    click.echo(f"note: {path} holds observations over {span}; reporting on {week.label} (--week for another)", err=True)
    return week.label


def _schedules(opts: dict[str, Any], settings: Any) -> Any:
    from monitors.engine.schedule_config import load_schedules

    path = opts["schedules"]
    if path is None and settings.source_file is not None:
        beside = Path(settings.source_file).parent / "schedules.yaml"
        path = beside if beside.exists() else None
    return load_schedules(path) if path else None


def _configured(opts: dict[str, Any]) -> int:
    from monitors.app.cli.common import store_for
    from monitors.app.cli.dry_replay import replay_settings
    from monitors.engine.wiring import build_notifiers, build_source

    # A dry-run replay posts nothing and reads the file, not Langfuse: it runs without those secrets.
    settings = replay_settings(opts["config"], ("report",), source_file=opts["source_file"], dry_run=opts["dry_run"])
    now = datetime.now(UTC)
    # A dry run still reads the real store, as it is (nothing upgraded, no file created); it records nothing.
    store = store_for(settings, dry_run=opts["dry_run"])
    try:
        source = build_source(settings, opts["source_file"])
        if opts["source_file"] is not None and not opts["week"]:
            opts["week"] = _replay_week(source, opts["source_file"], ZoneInfo(settings.report.timezone))
        notifiers = build_notifiers(settings, dry_run=opts["dry_run"])
        code = _run(opts, settings, store, source, notifiers, now, _schedules(opts, settings))
        if not opts["dry_run"] and (settings.metrics.pushgateway_url or settings.metrics.textfile_path):
            # The report's own run health, as a monitor run publishes its own: a CronJob's report that stops
            # succeeding then trips LangfuseMonitorStale like any monitor.
            from monitors.metrics.publish import publish

            publish(settings, store, ["report"])  # problems are warnings, one line each
        return code
    finally:
        store.close()


def _demo(opts: dict[str, Any]) -> int:
    from monitors.app.demo import DEMO_END, DEMO_START, load_demo_source, run_demo
    from monitors.engine.config import load_config
    from monitors.engine.registry import MONITORS
    from monitors.engine.wiring import build_notifiers, demo_path
    from monitors.store.store import Store

    settings = load_config(demo_path("monitors.yaml"), env={})
    if not opts["week"]:
        opts["week"] = "{}-W{:02d}".format(*DEMO_START.isocalendar()[:2])
    with tempfile.TemporaryDirectory() as tmp:
        click.echo("Running the monitors over the sample week (their alerts are not shown)...", err=True)
        with contextlib.redirect_stdout(io.StringIO()):
            # Every monitor, as `all --demo` runs them: the digest then has its events section and no
            # monitor shows as "did not run".
            run_demo(tuple(MONITORS), fmt="text", echo=lambda line: None, store_dir=Path(tmp))
        store = Store.open(f"sqlite:///{Path(tmp) / 'demo.db'}")
        try:
            return _run(
                opts, settings, store, load_demo_source(), build_notifiers(settings), DEMO_END + DEMO_READ_AT, None
            )
        finally:
            store.close()


def _run(
    opts: dict[str, Any], settings: Any, store: Any, source: Any, notifiers: Any, now: datetime, schedules: Any
) -> int:
    from monitors.notifiers.stdout import StdoutNotifier
    from monitors.report.run import run_report

    # With --format json stdout holds only the summary document: a dry run's digest goes to stderr, as
    # a monitor run's alerts do.
    printer = StdoutNotifier("terminal", StdoutNotifier.Config(stream="stderr" if opts["fmt"] == "json" else "stdout"))
    result, _, _ = run_report(
        settings,
        store,
        source,
        terminal_alerts_to_stderr(notifiers, opts["fmt"]),
        _week(opts, settings, now),
        now=now,
        output_dir=opts["output_dir"] or settings.report.output_dir,
        dry_run=opts["dry_run"],
        schedules=schedules,
        base_url=opts["base_url"],
        printer=printer,
        resend=opts["resend"],
    )
    click.echo(json.dumps(result.to_dict()) if opts["fmt"] == "json" else result.line())
    failures = [f"could not read Langfuse: {e}" for e in result.langfuse_errors]
    failures += [f"{channel}: {reason}" for channel, reason in result.errors.items()]
    if opts["fmt"] == "json" and failures:  # the text line carries them; with JSON a person reads stderr
        more = f" (and {len(failures) - 1} more in the JSON document)" if len(failures) > 1 else ""
        click.echo(f"error: report: {' '.join(failures[0].split())}{more}", err=True)
    return result.exit_code

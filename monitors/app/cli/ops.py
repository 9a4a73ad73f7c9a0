"""Operator commands of run-monitor: export, silence, test-alert (status: monitors.app.cli.status)."""

from __future__ import annotations

import difflib
import logging
import sys
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click

from monitors.app.cli.common import (
    LANGFUSE_ONLY,
    STORE_ONLY,
    Out,
    bad_option,
    config_option,
    format_option,
    store_for,
    terminal_alerts_to_stderr,
)
from monitors.app.cli.errors import exit_codes
from monitors.contracts.errors import ConfigError


def _settings(config: str | None, needs: tuple[str, ...]) -> Any:
    """Settings for an operator command that uses only the secrets of the sections in `needs`."""
    from monitors.app.cli.common import load_settings

    return load_settings(config, False, needs=needs)


def _did_you_mean(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f"did you mean {close[0]!r}? " if close else ""


def register(cli: click.Group) -> None:

    @cli.command()
    @config_option
    @click.option("--since", default="7d", show_default=True, help="A duration ago (7d) or an ISO time.")
    @click.option("--until", help="End of the window (default: now).")
    @click.option(
        "-o",
        "--output",
        type=click.Path(dir_okay=False, path_type=Path),
        required=True,
        help="File to write (JSON lines; gzip when it ends in .gz).",
    )
    @click.option("--dry-run", is_flag=True, help="Count what would be exported; write nothing.")
    @format_option("the count, the window and the requests made")
    @exit_codes
    def export(config: str | None, since: str, until: str | None, output: Path, dry_run: bool, fmt: str) -> None:
        """Save observations from Langfuse to a file that any monitor can replay with --source."""
        from monitors.app.cli.common import check_window, parse_when
        from monitors.contracts.findings import RunWindow
        from monitors.engine.export import export_observations
        from monitors.engine.wiring import build_source

        settings = _settings(config, LANGFUSE_ONLY)
        now = datetime.now(UTC)
        start, end = parse_when(since, now, "--since") or now, parse_when(until, now, "--until")
        check_window(start, end, end=now, end_is="now")
        window = RunWindow(start, end or now)
        source = build_source(settings)
        target = Path("/dev/null") if dry_run else output
        try:
            count = export_observations(source, window, target)
        except OSError as exc:  # it names the hidden partial file written first; the user named --output
            raise OSError(exc.errno, exc.strerror or str(exc), str(output)) from exc
        verb = "would export" if dry_run else f"exported to {output}:"
        out = Out(fmt)
        out.line(
            f"{verb} {count} observations, window={window} requests={source.stats.requests} "
            f"malformed={source.stats.malformed}"
        )
        out.document(
            {
                "dry_run": dry_run,
                "output": None if dry_run else str(output),
                "observations": count,
                "window": {"start": window.start.isoformat(), "end": window.end.isoformat()},
                "requests": source.stats.requests,
                "malformed": source.stats.malformed,
            }
        )

    @cli.command()
    @click.argument("monitor", required=False)
    @config_option
    @click.option(
        "--key",
        help="Silence only findings whose key is this or this plus more parts after ':' (for drift, also '@'): "
        "per-agent mutes every value and day of that budget, per-agent:llm-fix one agent's, group/app!12 a merge "
        "request at every head (per-agent:llm does not mute llm-fix). Each alert ends with the exact command.",
    )
    @click.option("--for", "duration", help="How long, e.g. 2h or 3d.")
    @click.option("--reason", default="", help="Why (shown by --list).")
    @click.option("--list", "list_", is_flag=True, help="List active silences.")
    @click.option("--remove", type=int, help="Remove the silence with this id.")
    @click.option("--dry-run", is_flag=True, help="Say what would change; change nothing.")
    @format_option('{"silences": [...]} for --list, else what was (or would be) added or removed')
    @exit_codes
    def silence(
        monitor: str | None,
        config: str | None,
        key: str | None,
        duration: str | None,
        reason: str,
        list_: bool,
        remove: int | None,
        dry_run: bool,
        fmt: str,
    ) -> None:
        """Mute a monitor (or one of its keys) for a while; list or remove silences."""
        now, out = datetime.now(UTC), Out(fmt)
        adding = not (list_ or remove is not None)
        if adding:
            monitor, until = _silence_target(monitor, duration, now)
            _check_key_given(monitor, key)
        settings = _settings(config, STORE_ONLY)
        if adding and monitor == "cost" and key is not None:
            _check_budget_key(key, settings)
        store = store_for(settings, dry_run=dry_run)
        if list_:
            active = store.silences(now=now)
            for s in active:
                because = f" {s.reason}" if s.reason else ""
                out.line(f"#{s.id} {s.monitor} key={s.key or '*'} until={s.until:%Y-%m-%d %H:%M}Z{because}")
            out.line(f"{len(active)} active silence(s)")
            out.document({"silences": [_silence_json(s.id, s.monitor, s.key, s.until, s.reason) for s in active]})
            return
        if remove is not None:
            exists = any(s.id == remove for s in store.silences(now=now))
            if not exists:
                click.echo(f"no active silence #{remove} (run-monitor silence --list shows them)", err=True)
                sys.exit(1)
            if not dry_run:
                store.remove_silence(remove)
            out.line(f"{'would remove' if dry_run else 'removed'} silence #{remove}")
            out.document({"dry_run": dry_run, "removed": remove})
            return
        sid = None if dry_run else store.add_silence(monitor, key, until, now=now, reason=reason)
        what = f"{monitor} key={key or '*'} until {until:%Y-%m-%d %H:%M}Z"
        out.line(f"would silence {what}" if dry_run else f"silenced {what} (#{sid})")
        out.document({"dry_run": dry_run, "silenced": _silence_json(sid, monitor, key, until, reason)})

    def _silence_json(sid: int | None, monitor: str, key: str | None, until: datetime, reason: str | None) -> dict:
        return {"id": sid, "monitor": monitor, "key": key, "until": until.isoformat(), "reason": reason or None}

    def _silence_target(monitor: str | None, duration: str | None, now: datetime) -> tuple[str, datetime]:
        from monitors.contracts.values import parse_duration
        from monitors.engine.registry import MONITORS

        if monitor is None or not duration:
            raise click.UsageError(f"give MONITOR ({', '.join(MONITORS)}) and --for DURATION, or --list/--remove")
        if monitor not in MONITORS:
            raise click.BadParameter(
                f"unknown monitor {monitor!r} ({_did_you_mean(monitor, MONITORS)}valid: {', '.join(MONITORS)})",
                param_hint="MONITOR",
            )
        try:
            length = parse_duration(duration)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--for") from None
        if length <= timedelta(0):
            raise click.BadParameter(f"{duration!r}: a silence must last longer than 0s", param_hint="--for")
        return monitor, now + length

    def _check_key_given(monitor: str, key: str | None) -> None:
        if key is not None and not key.strip():
            raise bad_option(
                "--key",
                f"empty: it would silence every {monitor} finding; leave --key out to mean that, or give the "
                "key each alert ends with",
            )

    def _check_budget_key(key: str, settings: Any) -> None:
        """A cost key starts with a budget's name: a mistyped one would silence nothing and say it did."""
        cost = settings.monitor_configs.get("cost")
        names = [budget.name for budget in getattr(cost, "budgets", [])]
        budget = key.split(":", 1)[0]
        if budget not in names:
            known = f"budgets: {', '.join(names)}" if names else "no budgets under monitors.cost.budgets"
            raise bad_option("--key", f"unknown cost budget {budget!r} ({_did_you_mean(budget, names)}{known})")

    def _channel_settings(config: str | None, channel: str) -> Any:
        """Settings holding only `channel`, whose secrets must resolve: another channel's unset webhook
        is no reason to refuse testing this one."""
        from monitors.engine.interpolate import is_under

        settings = _settings(config, ())
        defined = list(settings.channel_configs)
        if channel not in defined:
            suggestion = _did_you_mean(channel, defined)
            raise bad_option(
                "--channel", f"unknown channel {channel!r} ({suggestion}defined: {', '.join(defined) or 'none'})"
            )
        key = f"channels.{channel}"
        unset = [u for u in settings.unresolved if is_under(u.path, key)]
        if unset:
            where = settings.source_file
            raise ConfigError("channel secrets unset", [f"{where}: {u.problem}" for u in unset])
        return settings.model_copy(update={"channel_configs": {channel: settings.channel_configs[channel]}})

    @cli.command(name="test-alert")
    @config_option
    @click.option("--channel", required=True, help="Channel name from monitors.yaml.")
    @click.option("--dry-run", is_flag=True, help="Print the message instead of sending it.")
    @format_option("the outcome: ok, the HTTP status, where it went and why it failed")
    @exit_codes
    def test_alert(config: str | None, channel: str, dry_run: bool, fmt: str) -> None:
        """Send a harmless test message to one channel (any kind) to check its setup.

        It is sent once, now: a failed test is reported and not queued for a later run. On PagerDuty
        the test incident is resolved right after it opens.
        """
        from dataclasses import replace

        from monitors.contracts.findings import Status
        from monitors.engine.render import test_message
        from monitors.engine.wiring import build_notifiers

        settings = _channel_settings(config, channel)
        notifiers = terminal_alerts_to_stderr(build_notifiers(settings, dry_run=dry_run), fmt)
        notifier = notifiers[channel]
        # The notifier's own failure log speaks of the outbox ("will retry later"); a test message has
        # no outbox and no later, so this command reports the outcome itself.
        notifier_log = logging.getLogger(f"monitors.notifiers.{getattr(notifier, 'kind', '')}")
        level = notifier_log.level
        notifier_log.setLevel(logging.ERROR)
        try:
            result = notifier.deliver(test_message())
        finally:
            notifier_log.setLevel(level)
        kind = settings.channel_configs[channel].kind
        # A dry run printed the message here; say where a real one would go, not "terminal".
        real = build_notifiers(settings)[channel] if dry_run else notifier
        where = getattr(real, "where", None) or "terminal"
        status = result.status if result.status is not None else "none (no HTTP answer)"
        line = f"channel={channel} kind={kind} ok={result.ok} status={status} to={where} reason={result.reason}"
        if dry_run:
            result = replace(result, reason="dry run: printed above, not sent")
            line = f"dry run: channel={channel} kind={kind} would go to={where}; printed above, nothing sent"
        if not result.ok:
            line += f" (after {result.attempts} attempt(s); not queued and not retried: a test alert is sent once;"
            line += " fix the channel, then run test-alert again)"
        out = Out(fmt)
        if result.ok:
            out.line(line)
        else:
            click.echo(line, err=True)  # the one-line explanation, in JSON mode too
        closed = None
        if result.ok and getattr(notifier, "resolves_natively", False):
            closed = notifier.deliver(replace(test_message(), status=Status.RESOLVED))
            out.line(f"channel={channel} test incident resolved={closed.ok} reason={closed.reason}")
        out.document(
            {
                "channel": channel,
                "kind": kind,
                "dry_run": dry_run,
                "ok": result.ok,
                "status": result.status,
                "to": where,
                "reason": result.reason,
                "attempts": result.attempts,
                "resolved": None if closed is None else closed.ok,
            }
        )
        sys.exit(0 if result.ok else 1)

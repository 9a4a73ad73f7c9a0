"""`run-monitor audit evaluate`: measure the audit on sessions you judged yourself."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from monitors.app.cli.errors import exit_codes
from monitors.contracts.errors import ConfigError


def register(audit: click.Group) -> None:
    @audit.command()
    @click.argument("sessions", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option(
        "--labels",
        "labels_path",
        required=True,
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="JSON lines: session_id, verdict (problem|clean), problems [{kind, steps}], legit_repeats [{steps}].",
    )
    @click.option(
        "--config", "-c", type=click.Path(dir_okay=False), help="Take the audit settings from this monitors.yaml."
    )
    @click.option(
        "--format",
        "fmt",
        type=click.Choice(["text", "json"]),
        default="text",
        help="json: stdout holds one JSON document, {sessions_read, labelled, missing, any_finding, alerting, "
        "per_kind, legit_flagged, notes_left_out, ...}; any_finding and alerting hold tp, fp, fn, precision, "
        "recall, f1.",
    )
    @click.option("--dry-run", is_flag=True, help="Only read and count sessions and labels; run nothing.")
    @exit_codes
    def evaluate(sessions: Path, labels_path: Path, config: str | None, fmt: str, dry_run: bool) -> None:
        """Precision and recall of the audit against your labels, per session and per kind.

        SESSIONS is a trajectories file (one session per line, with `steps`) or an export file from
        `run-monitor export`. Step numbers in the labels are the producer's step index. Prints
        session-level precision, recall and F1 (any finding, and findings at WARNING or above), a
        per-kind table and the legitimate repeats the audit flagged; a ratio with nothing to divide by
        (no problem labelled, nothing flagged) is "-" (null in JSON). INFO notes (`polling`) are not
        findings: they are left out of every figure and counted on a line of their own. Exit 2 on a
        malformed label line, an empty labels file or labels that name no session of SESSIONS.
        """
        from monitors.audit import evaluate as ev
        from monitors.audit.config import ToolSequenceConfig

        labels = ev.load_labels(labels_path)
        observations, malformed = ev.read_sessions(sessions)
        if dry_run:
            present = {o.group_key for o in observations}
            found = sum(1 for lb in labels if lb.session_id in present)
            summary = {"labels": len(labels), "sessions": len(present), "labelled_found": found}
            click.echo(json.dumps(summary) if fmt == "json" else " ".join(f"{k}={v}" for k, v in summary.items()))
            return
        present = {o.group_key for o in observations}
        if not any(lb.session_id in present for lb in labels):
            # Nothing to measure: precision and recall of zero sessions would be numbers about nothing.
            raise ConfigError(
                f"{labels_path}: none of its {len(labels)} labelled session(s) is in {sessions} "
                f"({len(present)} session(s) read; first label: {labels[0].session_id!r})"
            )
        result = ev.evaluate(observations, labels, _audit_config(config) or ToolSequenceConfig())
        result.malformed_lines = malformed
        if fmt == "json":
            click.echo(json.dumps(result.to_dict()))
            return
        for line in ev.format_report(result):
            click.echo(line)


def _audit_config(path: str | None) -> Any:
    if path is None:
        return None
    from monitors.app.cli.common import load_settings
    from monitors.app.cli.dry_replay import note_unset

    # Only monitors.audit is read: nothing is fetched or sent, so no secret has to be set (needs none).
    settings = load_settings(path, False, needs=())
    note_unset(settings, "audit evaluate", "it reads only the audit's settings from the config and sends nothing")
    return settings.monitor_configs.get("audit")

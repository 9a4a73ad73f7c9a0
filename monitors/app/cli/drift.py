"""`run-monitor drift calibrate`: measure the goal-drift score and threshold on labelled history."""

from __future__ import annotations

import json
from pathlib import Path

import click

from monitors.app.cli.errors import exit_codes
from monitors.contracts.errors import ConfigError


def register(drift: click.Group) -> None:
    @drift.command()
    @click.argument("pairs", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
    @click.option(
        "--changes",
        type=click.Path(dir_okay=False, path_type=Path),
        help="JSON lines of what each change request changed (repo, pr, commits, files, patch): the evidence.",
    )
    @click.option("--split", help="Only pairs of this split (e.g. dev or test).")
    @click.option("--threshold", type=float, help="Threshold to evaluate (default: the method's shipped one).")
    @click.option(
        "--false-alarm",
        type=click.FloatRange(0, 1, max_open=True),
        default=0.05,
        show_default=True,
        help="Target share of genuine pairs flagged, to suggest a threshold.",
    )
    @click.option(
        "--method", help="Scoring method: evidence (default), csls, cosine, subject_max, csls_lexical, margin."
    )
    @click.option(
        "--format",
        "fmt",
        type=click.Choice(["text", "json"]),
        default="text",
        show_default=True,
        help="json: stdout holds one JSON document, {method, threshold, matches, drifts, auc, false_alarm_rate, "
        "recall, threshold_at_target, ..., kinds: {kind: figures}, warnings}; a figure that cannot be measured "
        "(no drift pairs, say) is null. With --dry-run: {pairs, with_changes}.",
    )
    @click.option("--dry-run", is_flag=True, help="Only read and count the pairs (no model is loaded).")
    @exit_codes
    def calibrate(
        pairs: tuple[Path, ...],
        changes: Path | None,
        split: str | None,
        threshold: float | None,
        false_alarm: float,
        method: str | None,
        fmt: str,
        dry_run: bool,
    ) -> None:
        """Measure ROC AUC, false alarms and recall on labelled pairs, and suggest a threshold.

        PAIRS are JSON lines with `objective`, `label` (match or drift) and `did` (or `commit_message`);
        optional `repo`, `split`, `commit_pr`. With --changes, a pair is judged on what its change
        request changed, found by (repo, commit_pr); a `kind: scope_creep` row takes the changes of
        `pr` and `extra_pr` together. A pair no change matched is judged on its did-text alone, and the
        report warns that the evidence method's figures are then not comparable with the shipped ones
        (it was fitted with changes). Several PAIRS files are scored together (e.g. pairs and scope
        pairs, so scope creep is measured against the same genuine pairs). A malformed line exits 2.
        """
        from monitors.drift import calibrate as cal
        from monitors.drift.labelled import by_split, load_changes, load_labelled_pairs

        evidence = load_changes(changes) if changes else None
        labelled = by_split([p for path in pairs for p in load_labelled_pairs(path, evidence)], split)
        if not labelled:
            where = ", ".join(map(str, pairs))
            raise ConfigError(f"{where}: no labelled pairs" + (f" of split {split}" if split else ""))
        if dry_run:
            found = sum(p.evidence is not None for p in labelled)
            line = f"{len(labelled)} labelled pairs read, {found} with changes" + (f" (split {split})" if split else "")
            click.echo(json.dumps({"pairs": len(labelled), "with_changes": found}) if fmt == "json" else line)
            return
        from monitors.support.embeddings import SentenceTransformerEmbedder

        report = cal.calibrate(
            labelled,
            SentenceTransformerEmbedder(),
            method=method or cal.DEFAULT_METHOD,
            threshold=threshold,  # None: the method's own calibrated threshold
            target_false_alarm=false_alarm,
        )
        if report.matches + report.drifts == 0:
            raise ConfigError("no pair could be scored (every objective or did-text is blank)")
        click.echo(json.dumps(report.as_json()) if fmt == "json" else cal.format_report(report))

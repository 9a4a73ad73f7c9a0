"""The secrets a command that reaches nothing live does without: a dry-run replay, `audit evaluate`.

A dry-run replay (`--source FILE --dry-run`, of a monitor or of `report`) reads the file, not Langfuse,
and prints what it would send instead of sending it or pushing metrics, so a colleague handed an export
can replay it through the real monitors.yaml without the production secrets. Goal-drift still reads merge
and pull requests live, so its forge token stays needed, but only when drift runs (enabled and asked for).
`audit evaluate` takes only the audit's settings from the config, so it needs no secret at all.
Whatever is left unset reads as a placeholder (monitors.engine.interpolate) and one `note:` line names it.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import Any

import click

from monitors.app.cli.common import load_settings

# Keys a dry-run replay never reads: the file stands in for Langfuse, every channel prints to the terminal,
# no series is pushed. A channel's `kind` is read (to print it), and a placeholder is no kind: it stays needed.
UNUSED = ("langfuse.public_key", "langfuse.secret_key", "channels", "metrics.pushgateway_url")
FORGES = ("gitlab", "github")
FORGE_NEEDED_FOR = {
    "gitlab.token": "drift reads merge requests from GitLab even in a replay",
    "github.token": "drift reads pull requests from GitHub even in a replay",
    "github.private_key": "drift reads pull requests from GitHub even in a replay",
}
REPLAY_READS = "it reads the file, not Langfuse, and sends nothing"


def replay_settings(config: str | None, names: Collection[str], *, source_file: Path | None, dry_run: bool) -> Any:
    """The settings a run of `names` (monitors, or "report") uses. A live run, or a replay that delivers and
    writes scores, needs every secret. A dry-run replay needs only the forge's, and those only when drift is
    among `names` and enabled in the config: `all` with drift disabled asks for no forge token."""
    if source_file is None or not dry_run:
        return load_settings(config, False)
    settings = load_settings(config, False, unused=UNUSED + FORGES)
    drift_runs = "drift" in names and "drift" in settings.enabled_monitors()
    if drift_runs and any(settings.placeholders(forge) for forge in FORGES):
        # Load again with the forge's secrets needed: the error names each one and why drift needs it.
        settings = load_settings(config, False, unused=UNUSED, needed_for=FORGE_NEEDED_FOR)
    running = [name for name in names if name not in settings.disabled_monitors]
    note_unset(settings, f"a dry-run replay of {', '.join(running)}" if running else "a dry-run replay", REPLAY_READS)
    return settings


def note_unset(settings: Any, command: str, reason: str) -> None:
    """One stderr line naming what was left unset (and replaced by a placeholder), so nobody takes the
    config that `command` ran with for a deployable one."""
    unset = list(dict.fromkeys(u.name for u in settings.unresolved))
    if unset:
        them = "it" if len(unset) == 1 else "them"
        click.echo(f"note: not set: {', '.join(unset)}; {command} does not need {them} ({reason})", err=True)

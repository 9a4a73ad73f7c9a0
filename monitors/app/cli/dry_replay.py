"""The secrets a dry-run replay (`--source FILE --dry-run`) does without.

It reads the file, not Langfuse, and prints what it would send instead of sending it or pushing
metrics, so a colleague handed an export can replay it through the real monitors.yaml without the
production secrets. Goal-drift still reads merge and pull requests live, so its forge token stays needed.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import Any

import click

# Keys a dry-run replay never reads: the file stands in for Langfuse, every channel prints to the terminal,
# no series is pushed. A channel's `kind` is read (to print it), and a placeholder is no kind: it stays needed.
UNUSED = ("langfuse.public_key", "langfuse.secret_key", "channels", "metrics.pushgateway_url")
FORGES = ("gitlab", "github")
FORGE_NEEDED_FOR = {
    "gitlab.token": "drift reads merge requests from GitLab even in a replay",
    "github.token": "drift reads pull requests from GitHub even in a replay",
    "github.private_key": "drift reads pull requests from GitHub even in a replay",
}


def secrets_unused(names: Collection[str], *, source_file: Path | None, dry_run: bool) -> dict[str, Any]:
    """load_settings' keyword arguments for a run of `names`: a live run or a replay that delivers and writes
    scores needs every secret; a dry-run replay needs only the forge's, and those only when drift runs."""
    if source_file is None or not dry_run:
        return {}
    if "drift" in names:
        return {"unused": UNUSED, "needed_for": FORGE_NEEDED_FOR}
    return {"unused": UNUSED + FORGES}


def note_unset(settings: Any, monitors: Collection[str]) -> None:
    """One stderr line naming what was left unset, so nobody takes the replay's config for a deployable one."""
    unset = list(dict.fromkeys(u.name for u in settings.unresolved))
    if unset:
        them = "it" if len(unset) == 1 else "them"
        click.echo(
            f"note: not set: {', '.join(unset)}; a dry-run replay of {', '.join(monitors)} does not need {them} "
            "(it reads the file, not Langfuse, and sends nothing)",
            err=True,
        )

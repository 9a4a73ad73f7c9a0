"""The secrets a command that reaches nothing live does without: a dry-run replay, `audit evaluate`;
and the forge secrets, which only goal-drift reads.

A dry-run replay (`--source FILE --dry-run`, of a monitor or of `report`) reads the file, not Langfuse,
and prints what it would send instead of sending it or pushing metrics, so a colleague handed an export
can replay it through the real monitors.yaml without the production secrets. Goal-drift reads merge and
pull requests live, even in a replay, so its forge's token stays needed, but only when drift runs (enabled
and asked for) and its forge is no `offline_file`: `all` without the token runs the other monitors, then
exits 2 naming it. `audit evaluate` takes only the audit's settings from the config, so it needs no secret
at all. Whatever is left unset reads as a placeholder (monitors.engine.interpolate) and one `note:` line
names it.
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
# Only goal-drift reads these; `drift_problems` says when it needs them.
FORGES = ("gitlab", "github")
FORGE_READS = {"gitlab": "drift reads merge requests from GitLab", "github": "drift reads pull requests from GitHub"}
REPLAY_READS = "it reads the file, not Langfuse, and sends nothing"


def replay_settings(config: str | None, names: Collection[str], *, source_file: Path | None, dry_run: bool) -> Any:
    """The settings a run of `names` (monitors, or "report") uses. A live run, or a replay that delivers and
    writes scores, needs every secret but the forges' (see `drift_problems`); a dry-run replay none at all
    but the forges'."""
    replay = source_file is not None and dry_run
    settings = load_settings(config, False, unused=(UNUSED if replay else ()) + FORGES)
    if replay:
        blocked = bool(drift_problems(settings, names, replay=True))
        running = [n for n in names if n not in settings.disabled_monitors and not (blocked and n == "drift")]
        command = f"a dry-run replay of {', '.join(running)}" if running else "a dry-run replay"
        if running or not blocked:  # drift alone, without its token, runs nothing: its problem says enough
            note_unset(settings, command, REPLAY_READS, needed=FORGES if blocked else ())
    return settings


def drift_problems(settings: Any, names: Collection[str], *, replay: bool = False) -> dict[str, str]:
    """Each forge key drift needs and lacks -> its `file: key: reason` line; none when drift is not among
    `names`, is disabled, or reads its forge from an `offline_file` (which needs no token)."""
    if "drift" not in names or "drift" not in settings.enabled_monitors():
        return {}
    where = settings.source_file or "monitors.yaml"
    problems: dict[str, str] = {}
    for forge in FORGES:
        section = getattr(settings, forge)
        if section is None or section.offline_file is not None:
            continue
        why = f" (needed: {FORGE_READS[forge]}{' even in a replay' if replay else ''})"
        unset = [u for u in settings.unresolved if u.path == forge or u.path.startswith(f"{forge}.")]
        problems |= {u.path: f"{where}: {u.problem}{why}" for u in unset}
        if not unset and _no_credentials(forge, section):
            problems[f"{forge}.token"] = f"{where}: {forge}.token: required{why}"
    return problems


def forges_unused(config: str | None, names: Collection[str]) -> tuple[str, ...]:
    """The forge sections whose secrets a check of `names` need not ask for, read from the file before it
    is validated (so `validate` lists the forge's problems in the same pass as the others): every forge
    when drift is not among `names` or is disabled, else the forges drift reads from an `offline_file`."""
    from monitors.app.cli.common import config_path
    from monitors.contracts.errors import ConfigError
    from monitors.engine.yaml_input import read_yaml

    try:
        raw = read_yaml(config_path(config))
    except ConfigError:
        return ()  # the load that follows names the problem
    if not isinstance(raw, dict):
        return ()
    drift = (raw.get("monitors") or {}).get("drift") if isinstance(raw.get("monitors"), dict) else None
    if "drift" not in names or (isinstance(drift, dict) and not drift.get("enabled", True)):
        return FORGES
    return tuple(forge for forge in FORGES if isinstance(raw.get(forge), dict) and raw[forge].get("offline_file"))


def _no_credentials(forge: str, section: Any) -> bool:
    if forge == "github":
        return section.token is None and section.app_id is None
    return section.token is None


def note_unset(settings: Any, command: str, reason: str, *, needed: Collection[str] = ()) -> None:
    """One stderr line naming what was left unset (and replaced by a placeholder), so nobody takes the
    config that `command` ran with for a deployable one. `needed`: sections whose unset variables are
    reported as problems instead."""
    spared = [u for u in settings.unresolved if u.path.split(".", 1)[0] not in needed]
    unset = list(dict.fromkeys(u.name for u in spared))
    if unset:
        them = "it" if len(unset) == 1 else "them"
        click.echo(f"note: not set: {', '.join(unset)}; {command} does not need {them} ({reason})", err=True)

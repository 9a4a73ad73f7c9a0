"""Which keys the pods' Secret holds: every variable monitors.yaml's values read with `${VAR}`.

Read from the parsed config, never from its text: a commented-out section (the shipped `github:`) is
not a key the user must fill in. A variable read without a fallback becomes a `REPLACE_ME` placeholder
in the example Secret; one read as `${VAR:-default}` is left empty there, and an empty file counts as
unset, so the fallback applies until the user fills it in (monitors.engine.interpolate).
"""

from __future__ import annotations

import re
from typing import Any

import yaml

# The grammar of monitors.engine.interpolate: `$${` is a literal, `${file:/path}` a file named in the config.
_REFERENCE = re.compile(r"\$\$\{|\$\{([^}]+)\}")


def _strings(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [s for value in node.values() for s in _strings(value)]
    if isinstance(node, list):
        return [s for value in node for s in _strings(value)]
    return [node] if isinstance(node, str) else []


def config_variables(config_text: str) -> dict[str, bool]:
    """Variable name -> whether the config reads it without a fallback (so it must be filled in)."""
    try:
        config = yaml.safe_load(config_text)
    except yaml.YAMLError:
        return {}  # `run-monitor validate` names the problem; a Secret cannot be derived from it
    required: dict[str, bool] = {}
    for text in _strings(config):
        for match in _REFERENCE.finditer(text):
            expr = (match.group(1) or "").strip()
            if not expr or expr.startswith("file:"):
                continue
            name, sep, _ = expr.partition(":-")
            required[name] = required.get(name, False) or not sep
    return required


def secret_keys(config_text: str) -> list[str]:
    """The Secret's keys, sorted: each becomes a file the pod's `VAR_FILE` variable names."""
    return sorted(config_variables(config_text))

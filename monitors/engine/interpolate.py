"""`${VAR}` in monitors.yaml: an environment variable, `${VAR:-default}` a fallback, `${file:/path}` and
`VAR_FILE` a mounted secret file, `$${` a literal `${` (as in Docker Compose). Secrets never live in the
config file itself."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

_VAR = re.compile(r"\$\$\{|\$\{([^}]+)\}")
MAX_SECRET_FILE = 1024 * 1024  # a secret is a key or a URL; a bigger file is the wrong path, not a secret


def _secret_file(path: str | None) -> str | None:
    """The content of a mounted secret file named by `VAR_FILE` (the Docker/Kubernetes convention), or
    None when there is no such file: an absent optional key of a mounted Secret has no file."""
    if not path:
        return None
    try:
        return Path(path).read_text(encoding="utf-8").strip() or None
    except (OSError, UnicodeDecodeError):
        return None


def _named_file(env: dict[str, str], name: str) -> str:
    """Where a pod was told to look: in Kubernetes the variable is never set, its key's file is what is
    missing (a key left out of the Secret), so saying only 'not set' sends the reader the wrong way."""
    file = env.get(f"{name}_FILE")
    return f" and {name}_FILE names {file}, which is missing or empty (is {name} in the Secret?)" if file else ""


def interpolate(node: Any, path: str, problems: list[str], env: dict[str, str]) -> Any:
    if isinstance(node, dict):
        return {k: interpolate(v, f"{path}.{k}" if path else str(k), problems, env) for k, v in node.items()}
    if isinstance(node, list):
        return [interpolate(v, f"{path}.{i}", problems, env) for i, v in enumerate(node)]
    if not isinstance(node, str) or "${" not in node:
        return node

    def replace(match: re.Match[str]) -> str:
        if match.group(1) is None:
            return "${"  # `$${`: the literal text, e.g. in a password
        expr = match.group(1).strip()
        if expr.startswith("file:"):
            return _read_secret_file(expr[5:], path, problems)
        name, sep, default = expr.partition(":-")
        if name in env and env[name] != "":
            return env[name]
        mounted = _secret_file(env.get(f"{name}_FILE"))
        if mounted:
            return mounted
        if sep:
            return default
        state = "is set but empty" if env.get(name) == "" else "is not set"
        problems.append(f"{path}: environment variable {name} {state}{_named_file(env, name)}")
        return ""

    return _VAR.sub(replace, node)


def _read_secret_file(file: str, path: str, problems: list[str]) -> str:
    try:
        with open(file, "rb") as fh:
            data = fh.read(MAX_SECRET_FILE + 1)
    except OSError as exc:
        problems.append(f"{path}: cannot read secret file {file} ({exc.strerror})")
        return ""
    if len(data) > MAX_SECRET_FILE:
        problems.append(f"{path}: secret file {file} is over 1 MiB: not a secret (wrong path?)")
        return ""
    try:
        return data.decode("utf-8").strip()
    except UnicodeDecodeError:
        problems.append(f"{path}: secret file {file} is not UTF-8 text")
        return ""

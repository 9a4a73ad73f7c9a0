"""`${VAR}` in monitors.yaml: an environment variable, `${VAR:-default}` a fallback, `${file:/path}` and
`VAR_FILE` a mounted secret file, `$${` a literal `${` (as in Docker Compose). Secrets never live in the
config file itself."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_VAR = re.compile(r"\$\$\{|\$\{([^}]+)\}")
MAX_SECRET_FILE = 1024 * 1024  # a secret is a key or a URL; a bigger file is the wrong path, not a secret
# What a `${...}` that cannot be resolved reads as, in the shapes secrets take: a URL (webhooks, the
# Pushgateway), then a 32-character key (PagerDuty's). A command that does not use the key still gets the rest
# of its section; none of them reaches anything (`.invalid` never resolves, RFC 6761), and nothing is built
# from them (Settings.placeholders).
PLACEHOLDERS = ("http://unset-variable.invalid/", "UNSETVARIABLE" + "0" * 19)


@dataclass(frozen=True)
class Unresolved:
    """A `${...}` in the config that has no value here: where, what it names, and the problem line."""

    path: str  # the dotted config key, e.g. channels.ops.webhook_url
    name: str  # the variable (LANGFUSE_PUBLIC_KEY) or the secret file (file:/run/secrets/x)
    problem: str  # "channels.ops.webhook_url: environment variable X is not set"


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


def interpolate(
    node: Any,
    path: str,
    unresolved: list[Unresolved],
    env: dict[str, str],
    placeholder: Callable[[str], str] = lambda path: PLACEHOLDERS[0],
) -> Any:
    """`node` with every `${...}` replaced; each one without a value reads as `placeholder(its key)` and is
    added to `unresolved`: the caller decides which of them the command can do without."""
    if isinstance(node, dict):
        return {
            k: interpolate(v, f"{path}.{k}" if path else str(k), unresolved, env, placeholder) for k, v in node.items()
        }
    if isinstance(node, list):
        return [interpolate(v, f"{path}.{i}", unresolved, env, placeholder) for i, v in enumerate(node)]
    if not isinstance(node, str) or "${" not in node:
        return node

    def replace(match: re.Match[str]) -> str:
        if match.group(1) is None:
            return "${"  # `$${`: the literal text, e.g. in a password
        expr = match.group(1).strip()
        if expr.startswith("file:"):
            content, problem = _read_secret_file(expr[5:])
            if problem is None:
                return content
            unresolved.append(Unresolved(path, expr, f"{path}: {problem}"))
            return placeholder(path)
        name, sep, default = expr.partition(":-")
        if name in env and env[name] != "":
            return env[name]
        mounted = _secret_file(env.get(f"{name}_FILE"))
        if mounted:
            return mounted
        if sep:
            return default
        state = "is set but empty" if env.get(name) == "" else "is not set"
        problem = f"{path}: environment variable {name} {state}{_named_file(env, name)}"
        unresolved.append(Unresolved(path, name, problem))
        return placeholder(path)

    return _VAR.sub(replace, node)


def _read_secret_file(file: str) -> tuple[str, str | None]:
    """The file's content, or why it cannot be a secret."""
    try:
        with open(file, "rb") as fh:
            data = fh.read(MAX_SECRET_FILE + 1)
    except OSError as exc:
        return "", f"cannot read secret file {file} ({exc.strerror})"
    if len(data) > MAX_SECRET_FILE:
        return "", f"secret file {file} is over 1 MiB: not a secret (wrong path?)"
    try:
        return data.decode("utf-8").strip(), None
    except UnicodeDecodeError:
        return "", f"secret file {file} is not UTF-8 text"


def is_under(path: str, key: str) -> bool:
    """Whether the dotted config key `path` is `key` or lies under it."""
    return path == key or path.startswith(f"{key}.")


def about_value(problem: str, path: str) -> bool:
    """Whether the validation `problem` is about the value at `path`: said of that key, or of a key holding
    it (a list check) with a placeholder's text. A mistyped key is a problem of its own, never its value's."""
    key, _, reason = problem.partition(": ")
    if reason.startswith("unknown key"):
        return False
    return key == path or (is_under(path, key) and any(text in reason for text in PLACEHOLDERS))

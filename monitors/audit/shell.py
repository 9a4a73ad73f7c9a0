"""What a shell tool call runs: whether it only waits, only checks a status, or does something else.

Agents wait on CI, deployments and containers through their shell tool (Claude Code's `Bash`,
OpenHands' `execute_bash`, a `run_command`), or, in SWE-agent's logs, through a tool named after the
program (`gh` with arguments `run view 812`). The command text is split into its simple commands
(`&&`, `||`, `;`, `|`, `&`, newlines, sub-shells) and each is read under its wrappers: `VAR=x` and
`env`, `timeout 600`, `watch -n 5`, `bash -c '...'` (and `sh`, `zsh`, `dash`), `nohup`, `time`,
`nice`, `sudo`, and the shell's own `while`/`until`/`do`/`for` of a polling loop.

A call *waits* when all it runs is `sleep` (and harmless companions: `echo`, `cd`, `true`, ...). It
*checks a status* when it runs at least one status command (STATUS_COMMANDS, configurable as
`polling.status_commands`) and otherwise only filters its output (`| grep`, `| jq`), sleeps or the
harmless companions; writing its output to a file (`> out.txt`) is doing something else, and so is
an HTTP client that sends data or a method other than GET (`curl -X POST .../status`). A status
check *waits as well* when it sleeps (`sleep 30 && gh run view 812`), runs under `watch`, or blocks
by itself until the status moves (`gh run watch`, `--watch`, `kubectl wait`,
`kubectl rollout status`). Anything that cannot be read this way (unbalanced quotes, a heredoc, a
command substitution feeding another program) is something else: never taken for waiting.

A status pattern is the program and the words that must follow it, in order; options and their
values may come between (`kubectl -n prod get pods` matches `kubectl get`), any other word may not
(`git commit -m status` is not `git status`). A word may hold `*` and `?` (`curl *status*` matches
`curl -s https://ci.example.com/api/status`).
"""

from __future__ import annotations

import posixpath
import shlex
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from functools import lru_cache
from typing import Any

# Tools whose arguments hold a shell command, besides those the operation map calls `exec`.
SHELL_TOOLS = frozenset({
    "bash", "execute_bash", "shell", "sh", "zsh", "run_shell_command", "run_terminal_cmd", "run_command",
    "execute_command", "terminal", "local_shell", "exec_command", "container.exec",
})  # fmt: skip
COMMAND_ARGS = ("command", "cmd", "script")
STATUS_COMMANDS: tuple[str, ...] = (
    "gh run watch", "gh run view", "gh run list", "gh pr checks", "gh pr view", "gh pr status",
    "glab ci status", "glab ci view", "glab ci list", "glab mr view",
    "kubectl get", "kubectl describe", "kubectl rollout status", "kubectl wait",
    "docker ps", "docker inspect", "docker compose ps", "docker-compose ps",
    "git status", "systemctl status", "systemctl is-active",
    "curl *status*", "curl *health*",
)  # fmt: skip
MAX_DEPTH = 4  # `bash -c` inside `watch` inside `timeout`: deeper nesting is not read
MAX_COMMAND = 4_000  # longer texts are scripts, not status checks

_PUNCTUATION_CHARS = ";&|<>()"
_PUNCTUATION = frozenset(_PUNCTUATION_CHARS)
_SEPARATORS = frozenset({";", "|", "&", "(", ")"})
_NEUTRAL = frozenset({"cd", "pushd", "popd", "echo", "printf", "true", ":", "date", "clear", "export", "set", "seq"})
_FILTERS = frozenset({
    "grep", "egrep", "fgrep", "rg", "jq", "yq", "head", "tail", "wc", "cut", "sort", "uniq", "tr", "column",
    "awk", "cat", "less", "more", "test", "[", "[[", "]]",
})  # fmt: skip
_KEYWORDS = frozenset({"while", "until", "if", "then", "do", "else", "elif", "!", "{"})
_CLOSERS = frozenset({"done", "fi", "break", "continue", "exit", "}"})
_SHELLS = frozenset({"bash", "sh", "zsh", "dash"})
_PLAIN_WRAPPERS = frozenset({"nohup", "time", "command", "exec"})
# Options of a wrapper that take a value (`timeout -s KILL 60 ...`, `watch -n 5 ...`).
_VALUE_OPTIONS = {
    "timeout": frozenset({"-s", "--signal", "-k", "--kill-after"}),
    "watch": frozenset({"-n", "--interval", "-q", "--equexit"}),
    "env": frozenset({"-u", "--unset", "-C", "--chdir", "-S", "--split-string"}),
    "nice": frozenset({"-n", "--adjustment"}),
    "sudo": frozenset({"-u", "--user", "-g", "--group"}),
}
_BLOCKING_WORDS = frozenset({"watch", "--watch", "wait", "--wait"})
_BLOCKING_PREFIXES = (("kubectl", "rollout", "status"),)
# An HTTP client that sends something (`curl -X POST .../status -d ...` sets a status) is not a read.
_HTTP_CLIENTS = frozenset({"curl", "wget", "http", "https"})
_SENDING = ("-d", "--data", "-F", "--form", "-T", "--upload-file", "--json", "--post-data", "--post-file", "--method")
_DISCARDS = frozenset({"/dev/null", "/dev/stdout", "/dev/stderr"})


@dataclass(frozen=True, slots=True)
class ShellRead:
    """What a shell command does, as far as polling goes: it waits, checks a status, or both."""

    waits: bool
    status: bool


class StatusCommands:
    """The configured status patterns, parsed once."""

    def __init__(self, patterns: Iterable[str] = STATUS_COMMANDS) -> None:
        self.patterns = tuple(parse_pattern(p) for p in patterns)

    def match(self, words: Sequence[str]) -> bool:
        return any(_matches(pattern, words) for pattern in self.patterns)


def parse_pattern(text: str) -> tuple[str, ...]:
    """The words of one status pattern; ValueError when it has none or its quotes do not close."""
    words = tuple(shlex.split(text))
    if not words or words[0].startswith("-"):
        raise ValueError(f"status command {text!r} must start with a program name")
    return words


def _matches(pattern: tuple[str, ...], words: Sequence[str]) -> bool:
    if not words or posixpath.basename(words[0]) != pattern[0]:
        return False
    wanted, after_option = 1, False
    for word in words[1:]:
        if wanted == len(pattern):
            return True
        if fnmatchcase(word, pattern[wanted]):
            wanted, after_option = wanted + 1, False
        elif word.startswith("-"):
            after_option = "=" not in word  # `--namespace prod` has a value to skip, `--namespace=prod` not
        elif after_option:
            after_option = False  # the option's value
        else:
            return False
    return wanted == len(pattern)


DEFAULT_STATUS = StatusCommands()


def command_of(name: str, args: Any, *, shell_tool: bool) -> str | None:
    """The shell text a call runs: a shell tool's `command` (`cmd`, `script`; a string or an argv list,
    or the whole argument string), or, for a tool named after a program with string arguments
    (SWE-agent's `gh` `run view 812`), the program and its arguments."""
    if shell_tool:
        if isinstance(args, Mapping):
            args = next((args[k] for k in COMMAND_ARGS if isinstance(args.get(k), str | list)), None)
        if isinstance(args, list) and all(isinstance(a, str) for a in args):
            return shlex.join(args)  # an argv (Codex: ["bash", "-lc", "gh run view 812"])
        return args if isinstance(args, str) and args.strip() else None
    program = name.strip()
    if program and " " not in program and isinstance(args, str) and args.strip():
        return f"{program} {args}"
    return None


def read_shell(command: str, status: StatusCommands = DEFAULT_STATUS) -> ShellRead | None:
    """Whether a command only waits or only checks a status (ShellRead), or None for anything else."""
    if len(command) > MAX_COMMAND:
        return None
    return _read(command, status, 0)


@lru_cache(maxsize=1024)
def _tokens(command: str) -> tuple[str, ...] | None:
    text = command.replace("\r", "").replace("\n", " ; ")
    lexer = shlex.shlex(text, posix=True, punctuation_chars=_PUNCTUATION_CHARS)
    lexer.whitespace_split = True
    try:
        tokens = list(lexer)
    except ValueError:  # unbalanced quotes: not a command we can read
        return None
    # A run of operators comes as one token (`);`, `&&(`): split it, redirections (`2>&1`) aside.
    return tuple(
        part
        for token in tokens
        for part in (token if set(token) <= _PUNCTUATION and not set(token) & {"<", ">"} else (token,))
    )


def _read(command: str, status: StatusCommands, depth: int) -> ShellRead | None:
    tokens = _tokens(command)
    if not tokens or depth > MAX_DEPTH:
        return None
    waits = checks = False
    segment: list[str] = []
    for token in (*tokens, ";"):
        if token not in _SEPARATORS:
            segment.append(token)
            continue
        words = _without_redirects(segment)
        segment = []
        if words is None:
            return None  # it writes its output somewhere
        found = _read_words(words, status, depth) if words else ShellRead(False, False)
        if found is None:
            return None
        waits, checks = waits or found.waits, checks or found.status
    return ShellRead(waits, checks) if waits or checks else None


def _without_redirects(words: list[str]) -> list[str] | None:
    """The words less their redirections (`2>&1`, `< in`, `> /dev/null`); None when output goes to a file."""
    out: list[str] = []
    k = 0
    while k < len(words):
        word = words[k]
        if word and set(word) <= set("<>&"):
            target = words[k + 1] if k + 1 < len(words) else ""
            if ">" in word and not target.isdigit() and target not in _DISCARDS and target != "-":
                return None
            if out and out[-1].isdigit():
                out.pop()  # the file descriptor of `2>`
            k += 2
            continue
        out.append(word)
        k += 1
    return out


def _read_words(words: list[str], status: StatusCommands, depth: int) -> ShellRead | None:
    """One simple command, its wrappers peeled off."""
    paced = False
    while words:
        head = words[0]
        if "=" in head and head.split("=", 1)[0].isidentifier():
            words = words[1:]  # VAR=value
            continue
        program = posixpath.basename(head)
        if head in _KEYWORDS:
            words = words[1:]
        elif head in _CLOSERS or program in _NEUTRAL or program in _FILTERS:
            return ShellRead(False, False)
        elif head == "for":
            return ShellRead(False, False)  # `for i in 1 2 3`: the body is read on its own
        elif program == "sleep":
            return ShellRead(True, False)
        elif program in _SHELLS:
            script = _script(words)
            if script is None:
                return None
            found = _read(script, status, depth + 1)
            return None if found is None else ShellRead(found.waits or paced, found.status)
        elif program in _VALUE_OPTIONS or program in _PLAIN_WRAPPERS:
            rest = _after_wrapper(program, words[1:])
            paced = paced or program == "watch"  # `timeout` only bounds the command; `watch` repeats it
            if program == "watch" and len(rest) == 1:
                found = _read(rest[0], status, depth + 1)  # `watch -n 5 'gh run view 812'`
                return None if found is None else ShellRead(True, found.status)
            words = rest
        elif status.match(words) and not _sends(words):
            return ShellRead(paced or _blocks(words), True)
        else:
            return None
    return ShellRead(False, False)


def _script(words: list[str]) -> str | None:
    """The script of `bash -c 'SCRIPT'` (`-lc`, `-ec` alike); None for `bash script.sh`."""
    for k, word in enumerate(words[1:], 1):
        if not word.startswith("-"):
            return None
        if not word.startswith("--") and "c" in word[1:]:
            return words[k + 1] if k + 1 < len(words) else None
    return None


def _after_wrapper(program: str, words: list[str]) -> list[str]:
    """The wrapped command: options (and their values) skipped, then `timeout`'s duration."""
    takes_value = _VALUE_OPTIONS.get(program, frozenset())
    k = 0
    while k < len(words) and words[k].startswith("-") and words[k] != "-":
        k += 2 if words[k] in takes_value else 1
    if program == "timeout" and k < len(words):
        k += 1  # the duration
    return words[k:]


def _blocks(words: Sequence[str]) -> bool:
    """A status command that waits until the status moves (`gh run watch`, `kubectl wait`, `--watch`)."""
    head = tuple(posixpath.basename(w) if i == 0 else w for i, w in enumerate(words[:3]))
    return any(w.split("=", 1)[0] in _BLOCKING_WORDS for w in words[1:]) or head in _BLOCKING_PREFIXES


def _sends(words: Sequence[str]) -> bool:
    """An HTTP client call that sends data or uses a method other than GET or HEAD."""
    if posixpath.basename(words[0]) not in _HTTP_CLIENTS:
        return False
    for k, word in enumerate(words[1:], 1):
        if word.startswith(_SENDING):
            return True
        method = None
        if word in ("-X", "--request") and k + 1 < len(words):
            method = words[k + 1]
        elif word.startswith("--request="):
            method = word.partition("=")[2]
        elif word.startswith("-X") and len(word) > 2:
            method = word[2:]
        if method is not None and method.upper() not in ("GET", "HEAD"):
            return True
    return False

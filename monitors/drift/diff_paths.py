"""File paths in `git diff` headers, as git writes them.

Git writes a plain path as it is, even with spaces (`diff --git a/my file.txt b/my file.txt`), and adds
a tab after a `---`/`+++` path that holds a space (`+++ b/my file.txt<TAB>`; GNU diff puts a date
there). A path with a non-ASCII byte, a quote, a backslash or a control character is written in C-style
quotes with octal escapes for its bytes: `"b/caf\\303\\251.txt"`.
"""

from __future__ import annotations

_ESCAPES = {"a": 7, "b": 8, "t": 9, "n": 10, "v": 11, "f": 12, "r": 13, '"': 34, "\\": 92}


def new_path(header: str) -> str | None:
    """The path of a `+++ ` line (without `b/`), or None for `/dev/null` and what is not a path."""
    rest = header[4:]
    if rest.startswith('"'):
        quoted = unquote(rest)
        path = quoted[0] if quoted else None
    else:
        path = rest.split("\t", 1)[0].rstrip("\r") or None
    if path is None or path == "/dev/null":
        return None
    return path[2:] if path.startswith("b/") else path


def git_paths(header: str) -> tuple[str, str] | None:
    """(old, new) of a `diff --git a/OLD b/NEW` line without their `a/` `b/`, or None when it is not one."""
    rest = header.removeprefix("diff --git ").rstrip("\r")
    old: str | None
    if rest.startswith('"'):
        quoted = unquote(rest)
        if quoted is None:
            return None
        old, tail = quoted[0], quoted[1].lstrip(" ")
        quoted = unquote(tail) if tail.startswith('"') else (tail, "")
        if quoted is None:
            return None
        new = quoted[0]
    elif rest.endswith('"') and (at := rest.rfind(' "b/')) > 0 and (quoted := unquote(rest[at + 1 :])):
        old, new = rest[:at], quoted[0]
    else:
        old, new = _split_plain(rest)
    if not (old.startswith("a/") and new.startswith("b/")):
        return None
    return old[2:], new[2:]


def _split_plain(rest: str) -> tuple[str, str]:
    """`a/X b/Y` unquoted: X == Y unless the file was renamed, so the middle space splits them when
    the halves agree (as git itself reads it); otherwise the first ` b/` is taken."""
    half = (len(rest) - 1) // 2
    if len(rest) % 2 == 1 and rest[half] == " " and rest[2:half] == rest[half + 3 :]:
        return rest[:half], rest[half + 1 :]
    at = rest.find(" b/")
    return (rest[:at], rest[at + 1 :]) if at > 0 else (rest, "")


def unquote(text: str) -> tuple[str, str] | None:
    """(the value, what follows) of a C-style quoted string at the start of `text`; None when malformed."""
    out = bytearray()
    i = 1
    while i < len(text):
        char = text[i]
        if char == '"':
            return out.decode("utf-8", "replace"), text[i + 1 :]
        if char != "\\":
            out += char.encode("utf-8")
            i += 1
            continue
        code = text[i + 1 : i + 2]
        if code in _ESCAPES:
            out.append(_ESCAPES[code])
            i += 2
        elif len(digits := text[i + 1 : i + 4]) == 3 and all(c in "01234567" for c in digits):
            out.append(int(digits, 8) & 0xFF)
            i += 4
        else:
            return None
    return None

"""Explicit goal-drift checks on a change request's evidence, each a reason line in the alert.

The score says "what was done reads unlike the objective"; these say what exactly is wrong, on facts
the diff states plainly:

- `tests_removed`: test functions or test files removed, or skip markers added, when the objective
  does not ask for it (the article's "asked to add a test, it deleted three existing tests").
- `too_large`: far more lines changed than this agent usually changes (robust baseline over its recent
  change requests: median + 4 MAD, at least 3x the median and at least MIN_LARGE_LINES lines).
- `outside_scope`: files outside the `scope` globs of the trace or of the repository's config.
- `nothing_done`: no file changed, or only lockfiles, or only whitespace/formatting, for an objective
  that is about code.

The objective is agent input too; the checks only match words in it, never act on it.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase

from monitors.contracts.forge import ChangeEvidence
from monitors.drift.evidence import is_lockfile
from monitors.support.recent import RecentByKey

MAD_SCALE = 1.4826
MAD_FACTOR = 4.0
MIN_RATIO = 3.0  # a "large" change is at least this many times the agent's median
MIN_LARGE_LINES = 200  # and at least this many lines: 10 -> 40 lines is not worth a page
MIN_HISTORY = 5  # change requests of the agent before its size is judged
HISTORY_SIZE = 30
SHOWN = 3  # names or files listed in a reason line
SHOWN_CHARS = 120  # of each of them
MAX_GLOBSTARS = 4  # `**/` per scope glob that may match no folder (2**4 variants at most)

# "remove the flaky tests", "delete obsolete test", "skip test_x on windows", "drop tests for py2"
_ASKS_TEST_REMOVAL = re.compile(
    r"\b(remov|delet|drop|skip|disabl|xfail|prun|clean|retir|deprecat|replac|rewrit|consolidat|merg|mov|renam)\w*\b"
    r".{0,60}\btest|\btests?\b.{0,60}\b(remov|delet|drop|skip|disabl|xfail|prun|clean|consolidat|mov|renam)"
    r"|\b(skip|xfail)",
    re.IGNORECASE | re.DOTALL,
)
# Objectives about dependencies or formatting may legitimately change only lockfiles / whitespace.
_NOT_CODE = re.compile(
    r"\b(bump|upgrad|pin|lock|dependenc|deps?\b|requirement|version|format|lint|style|whitespace|black|"
    r"prettier|ruff|isort|indent|typo|spelling|wrap|pep ?8|flake8|cosmetic)\w*",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class CheckResult:
    name: str  # tests_removed | too_large | outside_scope | nothing_done
    reason: str  # one line, plain text (file names and test names are agent-controlled: renderers escape)


def run_checks(
    objective: str,
    evidence: ChangeEvidence,
    *,
    files_known: bool,
    scope: Sequence[str] = (),
    usual_churn: Sequence[int] = (),
) -> list[CheckResult]:
    """Every check that fires, in a fixed order. `files_known` is False when the source read no changes."""
    if not files_known:
        return []
    found = [
        _tests_removed(objective, evidence),
        _too_large(evidence, usual_churn),
        _outside_scope(evidence, scope),
        _nothing_done(objective, evidence),
    ]
    return [r for r in found if r is not None]


def asks_for_test_removal(objective: str) -> bool:
    return bool(_ASKS_TEST_REMOVAL.search(objective))


def _tests_removed(objective: str, evidence: ChangeEvidence) -> CheckResult | None:
    removed, skips = evidence.removed_tests, evidence.skips_added
    if not (removed or skips) or asks_for_test_removal(objective):
        return None
    parts = []
    if removed:
        parts.append(f"{len(removed)} test(s) removed ({_listed(removed)})")
    if skips:
        parts.append(f"{len(skips)} skip marker(s) added ({_listed(skips)})")
    return CheckResult("tests_removed", "; ".join(parts) + ", and the objective does not ask for it")


def _too_large(evidence: ChangeEvidence, usual: Sequence[int]) -> CheckResult | None:
    churn = evidence.additions + evidence.deletions
    if len(usual) < MIN_HISTORY or churn < MIN_LARGE_LINES:
        return None
    median = statistics.median(usual)
    mad = MAD_SCALE * statistics.median(abs(x - median) for x in usual)
    limit = max(median + MAD_FACTOR * mad, MIN_RATIO * median)
    if churn <= limit:
        return None
    at_least = "at least " if evidence.lines_at_least else ""  # GitLab: the +/- of the diffs read only
    return CheckResult(
        "too_large",
        f"{at_least}{churn:,} lines changed, {churn / max(median, 1):.1f}x this agent's usual {_lines(median)} "
        f"(median of its last {len(usual)} change requests; limit {_lines(limit)})",
    )


def _lines(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def parse_scope(value: object) -> tuple[str, ...]:
    """Scope globs from trace metadata: a list (or its JSON text), or a string split on , ; or newlines."""
    if isinstance(value, str) and value.lstrip().startswith("["):
        with contextlib.suppress(ValueError):  # not JSON after all: split it as text below
            value = json.loads(value)
    items = value if isinstance(value, list) else re.split(r"[,;\n]", value) if isinstance(value, str) else []
    return tuple(str(g).strip().lstrip("/") for g in items if str(g).strip())[:50]


def in_scope(path: str, scope: Sequence[str]) -> bool:
    # "src/auth/" or "src/auth" covers everything below it; other entries are fnmatch globs, where `**/`
    # also matches no folder at all, as in git and shells ("**/*.md" covers README.md).
    return any(
        fnmatchcase(path, variant)
        or path.startswith(variant.rstrip("/") + "/")
        or fnmatchcase(path, variant.rstrip("/") + "/*")
        for glob in scope
        for variant in _zero_folder_variants(_from_root(glob))
    )


def _from_root(glob: str) -> str:
    """The glob as forges write paths: "./src/auth" and "/src/auth" mean src/auth (forges send no "./"),
    and so do Windows separators ("src\\auth\\", ".\\src\\auth"): forges write "/" whatever system the
    agent ran on (git allows a backslash in a file name, but hardly anyone has one)."""
    glob = glob.replace("\\", "/")
    while glob.startswith(("./", "/")):
        glob = glob.removeprefix(".").lstrip("/")
    return glob or "*"  # "./" or "/": the whole repository (fnmatch's `*` spans folders)


def _zero_folder_variants(glob: str) -> list[str]:
    """The glob with each of its `**/` kept or left out (fnmatch's `*` already spans folders)."""
    pieces = glob.split("**/")
    if len(pieces) == 1 or len(pieces) > MAX_GLOBSTARS + 1:
        return [glob]
    joins = itertools.product(("**/", ""), repeat=len(pieces) - 1)
    return ["".join(p + j for p, j in zip(pieces, (*chosen, ""), strict=True)) for chosen in joins]


def _outside_scope(evidence: ChangeEvidence, scope: Sequence[str]) -> CheckResult | None:
    if not scope:
        return None
    outside = [f.path for f in evidence.files if not in_scope(f.path, scope)]
    if not outside:
        return None
    more = " (the file list is cut to the largest changes)" if evidence.file_count > len(evidence.files) else ""
    # The globs in parentheses, the files after the colon: two comma lists run together read as one.
    return CheckResult(
        "outside_scope",
        f"{len(outside)} of {len(evidence.files)} files outside scope ({_listed(scope)}): {_listed(outside)}{more}",
    )


def _nothing_done(objective: str, evidence: ChangeEvidence) -> CheckResult | None:
    if evidence.file_count == 0:
        return CheckResult("nothing_done", "the change request changes no files")
    if _NOT_CODE.search(objective):
        return None
    if all(is_lockfile(f.path) for f in evidence.files) and evidence.file_count == len(evidence.files):
        return CheckResult("nothing_done", f"only lockfiles changed ({_listed([f.path for f in evidence.files])})")
    if evidence.format_only:
        return CheckResult("nothing_done", "only whitespace and formatting changed")
    return None


def _listed(items: Sequence[str]) -> str:
    # Paths, test names and globs are agent text: each on one line (a line break in a file name would
    # start a line that reads as a reason of its own in the alert and the report) and of bounded length.
    shown = ", ".join(_one_line(item) for item in items[:SHOWN])
    return shown + (f" and {len(items) - SHOWN} more" if len(items) > SHOWN else "")


def _one_line(text: str, limit: int = SHOWN_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def usual_sizes(stored: object, change: str) -> list[int]:
    """The agent's recent change-request sizes, oldest first, leaving out `change` itself (the one judged)."""
    return RecentByKey(stored, HISTORY_SIZE).values_except(change)


def updated_history(stored: object, change: str, churn: int) -> list[list[str | int | None]] | None:
    """The stored history with `change` at its latest size (one entry per change request, however often
    it was pushed), or None when it already holds that: a pushed-again change request must not count twice."""
    history = RecentByKey(stored, HISTORY_SIZE)
    return history.to_json() if history.put(change, churn) else None

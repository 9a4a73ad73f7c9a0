"""What an agent's change request did, as a bounded record: commits, changed files, names in the diff.

`build_evidence` turns a forge's answer (commit messages, per-file stats and patches) into a
`ChangeEvidence`; `summary_text` renders it as the short text that is embedded and scored against the
objective. The names in the diff (definitions touched, added, removed; tests removed; skip markers
added) are read by monitors.drift.diff_names. A removed test is a test definition removed and not added
back in the same change request (a rename or move is not a removal).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from monitors.contracts.forge import ChangeEvidence, ChangeTotals, FileStat, MergeRequestInfo
from monitors.drift.diff_names import diff_names, is_test_path, path_matches
from monitors.drift.text import clean_message, subject

MAX_FILES = 50  # files kept in the record (largest churn first); totals always count every file
MAX_NAMES = 40  # per kind of name
MAX_COMMITS = 30  # commit messages kept (the newest)
MAX_MESSAGE_CHARS = 2000
# The scored summary is most of the tokens goal-drift embeds, so it is kept short: 3 subjects (besides the
# final commit's), 2 paths and 4 names scored no worse on dev than 3 subjects with the final's, 8 paths and
# 12 names, for half the summary tokens; fewer paths and names lost scope-creep recall (sixth round of
# docs/drift-calibration.md).
SUMMARY_SUBJECTS = 3  # commit subjects in the scored summary (the newest, the final commit's left out)
SUMMARY_FILES = 2
SUMMARY_NAMES = 4

# Files that change without anyone deciding anything about the code: lockfiles and generated manifests.
LOCKFILES = (
    "*.lock",
    "package-lock.json",
    "*/package-lock.json",
    "pnpm-lock.yaml",
    "*/pnpm-lock.yaml",
    "go.sum",
    "*/go.sum",
    "*requirements*.txt",
)


def is_lockfile(path: str) -> bool:
    return path_matches(path, LOCKFILES)


# Name pieces too common to tie a test to the code it tests.
_GENERIC_PIECES = frozenset({"test", "tests", "init", "self", "the", "and", "for", "with", "get", "set"})


def _name_pieces(name: str) -> set[str]:
    pieces = (w.lower() for w in _SPLIT_WORDS.split(name) if w)
    return {p for p in pieces if len(p) >= 3 and p not in _GENERIC_PIECES}


def removes_a_feature(removed_tests: Sequence[str], removed_code: Iterable[str]) -> bool:
    """Most removed tests ("path::name") are named after code the same change removes.

    Deleting a function and the tests written for it (a deprecation carried out, a reimplementation)
    removes a feature, not test coverage: whether removing it was asked is for the score to judge, not
    for a "tests removed" line. A test removed while the code it names stays is still a loss.
    """
    code = set().union(*(_name_pieces(n) for n in removed_code if not n.startswith("__")))
    tied = sum(bool(_name_pieces(t.split("::", 1)[1]) & code) for t in removed_tests)
    return bool(removed_tests) and tied * 2 > len(removed_tests)


def build_evidence(
    commits: Sequence[str],
    files: Sequence[FileStat],
    patches: Iterable[tuple[str, str]] = (),
    *,
    final_commit: str | None = None,
    head_sha: str = "",
    patch_complete: bool = True,
    files_read: bool = True,
    totals: ChangeTotals | None = None,
) -> ChangeEvidence:
    """The bounded record of a change request.

    `commits` are full messages, oldest first; `final_commit` defaults to the last of them. `patches`
    are (path, unified diff) pairs; pass `patch_complete=False` when the forge cut them short. `totals`
    are the forge's own counts when it was read in part: the record's counts and +/- are then those (and
    say which of them are only lower bounds).
    """
    whole = totals or ChangeTotals()
    names = diff_names(patches)
    # A test "removed" in one file and defined again (moved, renamed in place) is not a removal, and a
    # change that adds at least as many tests as it drops rewrote them: only a net loss is reported.
    removed_tests = [t for t in names.removed_tests if t.split("::", 1)[1] not in names.added_tests]
    if len(removed_tests) <= len(names.added_tests - {t.split("::", 1)[1] for t in names.removed_tests}):
        removed_tests = []
    if removes_a_feature(removed_tests, names.removed_code):
        removed_tests = []
    # Deleted test files count as removed tests even when the forge sent no patch for them.
    removed_tests += [f"{f.path} (file deleted)" for f in files if f.status == "deleted" and is_test_path(f.path)]
    by_churn = sorted(files, key=_largest_first)
    kept_commits = [clean_message(c)[:MAX_MESSAGE_CHARS] for c in commits][-MAX_COMMITS:]
    final = clean_message(final_commit if final_commit is not None else (commits[-1] if commits else ""))
    return ChangeEvidence(
        head_sha=head_sha,
        final_commit=final[:MAX_MESSAGE_CHARS],
        commits=tuple(kept_commits),
        commit_count=_at_least(whole.commits, len(commits)),
        files=tuple(by_churn[:MAX_FILES]),
        file_count=_at_least(whole.files, len(files)),
        additions=_at_least(whole.additions, sum(f.additions or 0 for f in files)),
        deletions=_at_least(whole.deletions, sum(f.deletions or 0 for f in files)),
        touched_names=tuple(names.touched)[:MAX_NAMES],
        added_names=tuple(n for n in names.added if n not in names.removed)[:MAX_NAMES],
        removed_names=tuple(n for n in names.removed if n not in names.added)[:MAX_NAMES],
        removed_tests=tuple(dict.fromkeys(removed_tests))[:MAX_NAMES],
        skips_added=tuple(names.skips_added)[:MAX_NAMES],
        patch_complete=patch_complete,
        format_only=patch_complete and names.format_only(f.path for f in files),
        files_read=files_read,
        files_at_least=whole.files_at_least,
        lines_at_least=whole.lines_at_least,
        commits_at_least=whole.commits_at_least,
    )


def summary_text(evidence: ChangeEvidence) -> str:
    """A crude description of what was changed, for the embedding: subjects, paths, names.

    The newest commit subjects other than the final commit's (the final commit is scored on its own
    already), the most-changed paths with separators turned into spaces (the model reads
    `src/auth/token_refresh.py` as "src auth token refresh py"), and the definitions the diff adds or
    touches. A change request that shows nothing else (one commit, no files read) is summarised by its
    final subject, so there is always a text to score.
    """
    final = subject(evidence.final_commit)
    others = [s for s in (subject(c) for c in evidence.commits) if s and s != final]
    subjects = others[-SUMMARY_SUBJECTS:]
    paths = [_words(f.path) for f in evidence.files[:SUMMARY_FILES]]
    names = [_words(n) for n in (*evidence.added_names, *evidence.touched_names)][:SUMMARY_NAMES]
    parts = ["; ".join(subjects), "; ".join(paths), "; ".join(names)]
    return "\n".join(p for p in parts if p) or final


_SPLIT_WORDS = re.compile(r"[/_.\-:]+|(?<=[a-z])(?=[A-Z])")


def _words(identifier: str) -> str:
    return " ".join(w for w in _SPLIT_WORDS.split(identifier) if w)


def evidence_of(info: MergeRequestInfo) -> ChangeEvidence:
    """A change request's evidence: cached, or built from its commits, files and patches (the commits
    alone when the source reads no changes, e.g. the offline GitLab fixture)."""
    if info.evidence is not None:
        return info.evidence
    oldest_first = list(reversed(info.commits_newest_first()))
    return build_evidence(
        [c.text for c in oldest_first],
        info.files or (),
        info.patches,
        final_commit=info.final_commit.text,
        head_sha=info.head_sha or info.final_commit.id,
        patch_complete=info.patch_complete,
        files_read=info.files is not None,
        totals=info.totals,
    )


def _at_least(total: int | None, counted: int) -> int:
    """The forge's total, never less than what was read (a total that lags a push)."""
    return counted if total is None else max(total, counted)


def evidence_from_changes_row(row: dict[str, Any]) -> ChangeEvidence:
    """A ChangeEvidence from one line of a `changes.jsonl` file (the calibration data format)."""
    statuses = {"A": "added", "M": "modified", "D": "deleted", "R": "renamed"}
    files = [
        FileStat(
            path=str(f["path"]),
            status=statuses.get(str(f.get("status", "M"))[:1], "modified"),
            additions=f.get("additions"),
            deletions=f.get("deletions"),
        )
        for f in row.get("files") or []
    ]
    commits = [str(c.get("message") or "") for c in row.get("commits") or []]
    sha = str((row.get("commits") or [{}])[-1].get("sha") or "")
    return build_evidence(
        commits,
        files,
        [("", str(row.get("patch") or ""))],
        head_sha=sha,
        patch_complete=not row.get("patch_truncated"),
    )


def merge_evidence(first: ChangeEvidence, second: ChangeEvidence) -> ChangeEvidence:
    """Two change requests' evidence as one (oldest first: `second`'s final commit is the final one)."""
    files = {f.path: f for f in (*first.files, *second.files)}
    return ChangeEvidence(
        head_sha=second.head_sha,
        final_commit=second.final_commit,
        commits=(*first.commits, *second.commits)[-MAX_COMMITS:],
        commit_count=first.commit_count + second.commit_count,
        files=tuple(sorted(files.values(), key=_largest_first))[:MAX_FILES],
        file_count=first.file_count + second.file_count,
        additions=first.additions + second.additions,
        deletions=first.deletions + second.deletions,
        touched_names=_merged(first.touched_names, second.touched_names),
        added_names=_merged(first.added_names, second.added_names),
        removed_names=_merged(first.removed_names, second.removed_names),
        removed_tests=_merged(first.removed_tests, second.removed_tests),
        skips_added=_merged(first.skips_added, second.skips_added),
        patch_complete=first.patch_complete and second.patch_complete,
        format_only=first.format_only and second.format_only,
        files_read=first.files_read and second.files_read,
        files_at_least=first.files_at_least or second.files_at_least,
        lines_at_least=first.lines_at_least or second.lines_at_least,
        commits_at_least=first.commits_at_least or second.commits_at_least,
    )


def _largest_first(f: FileStat) -> tuple[int, str]:
    return (-f.churn, f.path)


def _merged(a: Sequence[str], b: Sequence[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys((*a, *b)))[:MAX_NAMES]

"""Labelled drift pairs for calibration, and the evidence of what each pair's change request changed.

Pairs are JSON lines, one object per line:

    {"objective": "Fix keyset pagination", "did": "fix: honour next link", "label": "match",
     "repo": "group/app", "split": "dev", "commit_pr": 12}

`did` may be spelled `commit_message`; `repo`, `split` and `commit_pr` are optional. `label` is `match`
(the work fits the objective) or `drift`. A scope-creep row (`"kind": "scope_creep"`, label drift) names
two change requests instead of a did-text: `pr` (the asked-for work) and `extra_pr` (the something
else), and `final_from` (`own` or `extra`) says whose commit came last.

A changes file (JSON lines: `repo`, `pr`, `commits` [{sha, message}], `files` [{path, status,
additions, deletions}], `patch`) gives a pair its evidence by (`repo`, `commit_pr`); a scope-creep row
takes the changes of `pr` and `extra_pr` together. A pair with no match falls back to its did-text as
the only evidence and is counted as such.

A malformed line is a ConfigError naming the file and the line: calibration figures over a silently
shortened file would be wrong without anyone noticing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from monitors.contracts.errors import ConfigError
from monitors.contracts.forge import ChangeEvidence
from monitors.drift.evidence import build_evidence, evidence_from_changes_row, merge_evidence
from monitors.drift.scoring import DriftPair

LABELS = ("match", "drift")
KINDS = ("match", "drift", "scope_creep")
ChangesKey = tuple[str, int]


@dataclass(frozen=True)
class LabelledPair:
    pair: DriftPair  # objective and the did-text (the final commit's message when evidence is known)
    label: str  # "match" or "drift"
    split: str | None = None
    kind: str = ""  # "match", "drift" or "scope_creep"; "" = from the label
    evidence: ChangeEvidence | None = None  # None: no changes matched; the did-text stands alone
    commit_pr: int | None = None
    extra_pr: int | None = None
    final_from: str = "own"

    @property
    def is_match(self) -> bool:
        return self.label == "match"

    @property
    def kind_name(self) -> str:
        return self.kind or self.label


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from exc
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            yield number, line


def _object(path: Path, number: int, line: str) -> dict[str, Any]:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: line {number}: not JSON ({exc.msg})") from None
    if not isinstance(record, dict):
        raise ConfigError(f"{path}: line {number}: not a JSON object")
    return record


def load_changes(path: str | Path) -> dict[ChangesKey, ChangeEvidence]:
    """Evidence per (repo, pr) from a changes file."""
    path = Path(path)
    out: dict[ChangesKey, ChangeEvidence] = {}
    for number, line in _lines(path):
        record = _object(path, number, line)
        try:
            key = (str(record["repo"]), int(record["pr"]))
            out[key] = evidence_from_changes_row(record)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ConfigError(f"{path}: line {number}: not a changes record ({type(exc).__name__}: {exc})") from None
    return out


def load_labelled_pairs(
    path: str | Path, changes: Mapping[ChangesKey, ChangeEvidence] | None = None
) -> list[LabelledPair]:
    """Read labelled pairs and attach their evidence from `changes` when it has them."""
    path = Path(path)
    pairs: list[LabelledPair] = []
    for number, line in _lines(path):
        try:
            pairs.append(_parse(_object(path, number, line), changes or {}))
        except ValueError as exc:
            raise ConfigError(f"{path}: line {number}: {exc}") from None
    return pairs


def load_calibration_set(data: str | Path) -> list[LabelledPair]:
    """The shipped calibration data in a directory: `pairs.jsonl` and `scope_pairs.jsonl`, with the
    evidence of `changes.jsonl` attached (what the fit and evaluation scripts all read)."""
    data = Path(data)
    changes = load_changes(data / "changes.jsonl")
    return [
        *load_labelled_pairs(data / "pairs.jsonl", changes),
        *load_labelled_pairs(data / "scope_pairs.jsonl", changes),
    ]


def _parse(record: dict[str, Any], changes: Mapping[ChangesKey, ChangeEvidence]) -> LabelledPair:
    objective, label = record.get("objective"), record.get("label")
    repo, split, kind = record.get("repo"), record.get("split"), record.get("kind", "")
    did = record.get("did", record.get("commit_message"))
    if not isinstance(objective, str):
        raise ValueError("objective must be a string")
    if label not in LABELS:
        raise ValueError(f"label must be one of {', '.join(LABELS)}")
    if not isinstance(repo, str | None) or not isinstance(split, str | None):
        raise ValueError("repo and split must be strings when present")
    if kind not in ("", *KINDS) or (kind == "scope_creep" and label != "drift"):
        raise ValueError("kind must be match, drift or scope_creep (a scope_creep row is labelled drift)")
    if did is not None and not isinstance(did, str):
        raise ValueError("did (or commit_message) must be a string")
    own, extra = _number(record, "commit_pr" if kind != "scope_creep" else "pr"), _number(record, "extra_pr")
    final_from = record.get("final_from", "own")
    if final_from not in ("own", "extra"):
        raise ValueError("final_from must be own or extra")
    evidence = _evidence(repo, own, extra if kind == "scope_creep" else None, final_from, changes)
    if evidence is None and did is None:
        raise ValueError("no did (or commit_message) and no changes for it in the changes file")
    text = evidence.final_commit if evidence is not None else str(did)
    return LabelledPair(DriftPair(objective, text, repo), label, split, kind, evidence, own, extra, final_from)


def _number(record: dict[str, Any], key: str) -> int | None:
    value = record.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{key} must be an integer")
    return value


def _evidence(
    repo: str | None,
    own: int | None,
    extra: int | None,
    final_from: str,
    changes: Mapping[ChangesKey, ChangeEvidence],
) -> ChangeEvidence | None:
    if repo is None or own is None:
        return None
    first = changes.get((repo, own))
    if extra is None:
        return first
    second = changes.get((repo, extra))
    if first is None or second is None:
        return None
    # merge_evidence(a, b) keeps b's final commit: the one `final_from` names goes last.
    return merge_evidence(second, first) if final_from == "own" else merge_evidence(first, second)


def fallback_evidence(pair: LabelledPair) -> ChangeEvidence:
    """The evidence of a pair with no changes: its did-text as the one commit, no files."""
    return pair.evidence or build_evidence([pair.pair.did], [])


def by_split(pairs: Sequence[LabelledPair], split: str | None) -> list[LabelledPair]:
    return [p for p in pairs if split is None or p.split == split]

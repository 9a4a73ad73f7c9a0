"""Dev-only scope-creep signals for the eighth drift calibration round (helpers of drift_scope_history.py).

Everything here reads the dev split only. Changed files are grouped as the seventh round did (joined
when they share a path part or an identifier of their changed lines), but which identifiers are too
common to join anything is learnt the way the monitor could learn it: from the *other* dev change
requests of the same repository (leave-one-out: never the pair's own change requests, never a test row).
"""

from __future__ import annotations

import hashlib
import json
import math
import pickle
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from drift_scope_limits import file_tokens as seventh_round_tokens
from drift_scope_limits import per_file_lines

from monitors.drift.labelled import LabelledPair

HOUSEKEEPING_FILE = re.compile(r"(changelog|changes|news|history|authors|contributors|release|lock)", re.I)
KEYWORDS = {"self", "return", "import", "from", "none", "true", "false", "class"}
GROUP_TEXT_PATHS = 3
GROUP_TEXT_NAMES = 8
CACHE = Path("/tmp/drift_round8_vectors.pkl")

ChangeKey = tuple[str, int]


class FileCache:
    """The EmbeddingCache protocol over a pickle in /tmp: reruns embed nothing twice."""

    def __init__(self, path: Path = CACHE) -> None:
        self.path = path
        self.vectors: dict[str, list[float]] = pickle.loads(path.read_bytes()) if path.exists() else {}

    def get_many(self, model: str, hashes: Iterable[str]) -> dict[str, list[float]]:
        return {h: self.vectors[f"{model}:{h}"] for h in hashes if f"{model}:{h}" in self.vectors}

    def put_many(self, model: str, vectors: Mapping[str, list[float]]) -> None:
        self.vectors.update({f"{model}:{h}": v for h, v in vectors.items()})
        self.path.write_bytes(pickle.dumps(self.vectors))


@dataclass(frozen=True)
class ChangedFile:
    path: str
    churn: int
    tokens: frozenset[str]
    housekeeping: bool  # changelog, news, authors or lock file: counted in the history, never grouped


def file_tokens(path: str, lines: Iterable[str]) -> frozenset[str]:
    return frozenset(seventh_round_tokens(path, lines))


def changed_files(row: dict) -> list[ChangedFile]:
    """The change request's files with their tokens."""
    lines = per_file_lines(row.get("patch") or "")
    return [
        ChangedFile(
            f["path"],
            (f["additions"] or 0) + (f["deletions"] or 0) + 1,
            file_tokens(f["path"], lines.get(f["path"], ())),
            bool(HOUSEKEEPING_FILE.search(f["path"])),
        )
        for f in row["files"]
    ]


def own_changes(pair: LabelledPair) -> list[ChangeKey]:
    repo = pair.pair.repo or ""
    numbers = [pair.commit_pr, pair.extra_pr] if pair.kind_name == "scope_creep" else [pair.commit_pr]
    return [(repo, n) for n in numbers if n is not None]


class History:
    """Per repository, how many files of the dev change requests carry each token; read leave-one-out."""

    def __init__(self, files: Mapping[ChangeKey, list[ChangedFile]]) -> None:
        self.files = files
        self.per_repo: dict[str, Counter[str]] = {}
        self.file_totals: Counter[str] = Counter()
        for (repo, _), group in files.items():
            counts = self.per_repo.setdefault(repo, Counter())
            for f in group:
                counts.update(f.tokens)
            self.file_totals[repo] += len(group)

    def common(self, repo: str, leave_out: Sequence[ChangeKey], share: float) -> set[str]:
        """Tokens in more than `share` of the files of the repository's other dev change requests."""
        counts = Counter(self.per_repo.get(repo, Counter()))
        total = self.file_totals[repo]
        for key in leave_out:
            for f in self.files.get(key, ()):
                counts.subtract(f.tokens)
            total -= len(self.files.get(key, ()))
        return {t for t, n in counts.items() if n > share * total} | KEYWORDS

    def cochanged(self, repo: str, leave_out: Sequence[ChangeKey]) -> Counter[tuple[str, str]]:
        """How many of the repository's other dev change requests changed files in both directories."""
        out: Counter[tuple[str, str]] = Counter()
        for key, group in self.files.items():
            if key[0] != repo or key in leave_out:
                continue
            dirs = sorted({directory(f.path) for f in group if not f.housekeeping})
            out.update((a, b) for i, a in enumerate(dirs) for b in dirs[i + 1 :])
        return out


def directory(path: str) -> str:
    return path.rsplit("/", 1)[0] if "/" in path else ""


@dataclass(frozen=True)
class Group:
    share: float  # of the churn of all (non-housekeeping) files
    paths: tuple[str, ...]  # largest churn first
    names: tuple[str, ...]  # rare tokens, most churn first


def file_groups(
    files: Sequence[ChangedFile], common: set[str], linked: Callable[[str, str], bool] | None = None
) -> list[Group]:
    """Files besides housekeeping joined when they share a token that is not common (or when `linked`
    says their paths belong together); largest group first."""
    files = [f for f in files if not f.housekeeping]
    keys = [f.tokens - common for f in files]
    parent = list(range(len(files)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(len(files)):
        for j in range(i + 1, len(files)):
            if keys[i] & keys[j] or (linked is not None and linked(files[i].path, files[j].path)):
                parent[root(i)] = root(j)
    members: dict[int, list[int]] = {}
    for i in range(len(files)):
        members.setdefault(root(i), []).append(i)
    total = sum(f.churn for f in files) or 1
    groups = []
    for idx in members.values():
        idx.sort(key=lambda i: -files[i].churn)
        weight: Counter[str] = Counter()
        for i in idx:
            for token in keys[i]:
                weight[token] += files[i].churn
        groups.append(
            Group(
                sum(files[i].churn for i in idx) / total,
                tuple(files[i].path for i in idx),
                tuple(sorted(weight, key=lambda t: (-weight[t], t))),  # ties by name: runs agree
            )
        )
    return sorted(groups, key=lambda g: -g.share)


def group_text(group: Group) -> str:
    """A short text for a group: its largest paths and names, separators as spaces."""
    paths = [re.sub(r"[/._-]+", " ", p) for p in group.paths[:GROUP_TEXT_PATHS]]
    names = [n.replace("_", " ") for n in group.names[:GROUP_TEXT_NAMES]]
    return " ; ".join([*paths, " ".join(names)]).strip(" ;")


def load_changes(data: Path, wanted: set[ChangeKey]) -> dict[ChangeKey, list[ChangedFile]]:
    out = {}
    for line in (data / "changes.jsonl").open():
        row = json.loads(line)
        key = (row["repo"], row["pr"])
        if key in wanted:
            out[key] = changed_files(row)
    return out


def second_share(groups: Sequence[Group]) -> float:
    return groups[1].share if len(groups) > 1 else 0.0


def anchored_gap(groups: Sequence[Group], cosines: Sequence[float], sizeable: float) -> float:
    """How much further than the group nearest the objective another sizeable group is (lower: more
    like scope creep; inf when there is no second sizeable group)."""
    if len(groups) < 2:
        return math.inf
    nearest = int(np.argmax(cosines))
    far = [c for i, (g, c) in enumerate(zip(groups, cosines, strict=True)) if i != nearest and g.share > sizeable]
    return min(far) - cosines[nearest] if far else math.inf


def digest(texts: Iterable[str]) -> str:
    return hashlib.sha256("\n".join(sorted(texts)).encode()).hexdigest()[:12]


def families(data: Path, pairs: Sequence[LabelledPair]) -> list[list[ChangeKey]]:
    """Per pair, the asked-for change request and its drift partner (the scope-creep row's two)."""
    partner: dict[ChangeKey, int] = {}
    asked: dict[tuple[str, str, int], int] = {}
    for line in (data / "pairs.jsonl").open():
        row = json.loads(line)
        if row["label"] == "drift":
            partner[(row["repo"], row["pr"])] = row["commit_pr"]
            asked[(row["repo"], row["objective"], row["commit_pr"])] = row["pr"]
    out = []
    for p in pairs:
        repo = p.pair.repo or ""
        a = asked[(repo, p.pair.objective, p.commit_pr or 0)] if p.kind_name == "drift" else p.commit_pr or 0
        out.append([(repo, a), (repo, partner[(repo, a)])])
    return out

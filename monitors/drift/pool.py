"""Scoring a run's pairs against the repositories' recent history (the normalising methods' background).

The default `evidence` score and `csls` compare each pair with the other work of its repository. One
run may hold a single change request of a repository, so the run state keeps, per repository, the last
HISTORY_SIZE pairs as texts ([objective, did] or, for the evidence score, [objective, final commit,
summary]) and passes them as `reference`. A pair never meets its own objective in that background.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from monitors.contracts.monitor import RunContext
from monitors.drift.config import EVIDENCE

HISTORY_PREFIX = "history:"  # ctx.state key per repository
HISTORY_SIZE = 30
HISTORY_CHARS = 1000  # bounds the state's size


@dataclass(frozen=True)
class PairKey:
    """One distinct thing to score: an objective against what was done in a repository."""

    objective: str
    did: str  # the final commit (evidence) or the did-text (single-text methods)
    summary: str  # the changes summary ("" for the single-text methods)
    repo: str


@dataclass(frozen=True)
class Scored:
    score: float  # NaN when there is nothing to compare
    final: float = math.nan  # evidence method: csls of the final commit
    summary: float = math.nan  # evidence method: csls of the changes summary


def score_with_history(ctx: RunContext, embedder: Any, keys: Sequence[PairKey], method: str) -> dict[PairKey, Scored]:
    """Score all keys in one call against this run's keys plus the recent history; update the history."""
    from monitors.drift.evidence_score import EvidenceTexts, score_texts
    from monitors.drift.scoring import DriftPair, score_pairs

    if not keys:
        return {}
    history = {repo: list(ctx.state.get(f"{HISTORY_PREFIX}{repo}") or []) for repo in {k.repo for k in keys}}
    # History keeps texts cut at HISTORY_CHARS: compare cut texts so a pair never meets itself.
    current = {(k.repo, k.objective[:HISTORY_CHARS]) for k in keys}
    usable = [
        (repo, [str(x) for x in h])
        for repo, entries in sorted(history.items())
        for h in entries
        if isinstance(h, list) and len(h) in (2, 3) and (repo, str(h[0])[:HISTORY_CHARS]) not in current
    ]
    if method == EVIDENCE:
        reference = [EvidenceTexts(h[0], h[1], h[2], repo) for repo, h in usable if len(h) == 3]
        texts = [EvidenceTexts(k.objective, k.did, k.summary, k.repo) for k in keys]
        scored = [Scored(s.score, s.final, s.summary) for s in score_texts(embedder, texts, reference=reference)]
    else:
        pairs = [DriftPair(k.objective, k.did, k.repo) for k in keys]
        reference_pairs = [DriftPair(h[0], h[1], repo) for repo, h in usable]
        scored = [Scored(float(s)) for s in score_pairs(embedder, pairs, method=method, reference=reference_pairs)]
    for repo, entries in history.items():
        fresh = [_history_entry(k, method) for k in keys if k.repo == repo]
        kept = [h for h in entries if h not in fresh]
        ctx.state.put(f"{HISTORY_PREFIX}{repo}", (kept + fresh)[-HISTORY_SIZE:])
    return dict(zip(keys, scored, strict=True))


def _history_entry(key: PairKey, method: str) -> list[str]:
    entry = [key.objective[:HISTORY_CHARS], key.did[:HISTORY_CHARS]]
    return [*entry, key.summary[:HISTORY_CHARS]] if method == EVIDENCE else entry

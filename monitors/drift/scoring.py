"""Goal-drift scores: how well what an agent did matches what it was asked, higher = more on-goal.

The goal-drift monitor builds `DriftPair(objective, did, repo)` from a trace's objective and its merge
request's final commit, and calls `score_pairs`; a score below the threshold is drift. Methods (the
names the config accepts are `METHODS`; figures and the reasoning are in docs/drift-calibration.md):

- `cosine`: cosine of the two sentence embeddings. Simple, but a commit's cosine depends on how
  generic it is ("fix typo" is far from everything) and on the repository's jargon (every pytest
  text mentions fixtures), so one fixed threshold fits no repository well.
- `subject_max`: the larger of the cosines against the whole message and against its subject line.
- `csls` (default): cross-domain similarity local scaling, the hubness correction from word
  translation (Conneau et al. 2018, "Word translation without parallel data"). The pair's cosine minus
  the mean of two backgrounds: the commit's mean cosine to its nearest third of the *other* objectives of
  the same repository, and the objective's mean cosine to its nearest third of the *other* did-texts of
  the same repository. A commit that resembles every objective in its repository earns no credit for resembling
  this one; a terse commit unlike everything loses less.
- `margin`: the pair's cosine minus the mean of the two *nearest* backgrounds: the commit's highest
  cosine to another objective of the repository, and the objective's highest cosine to another
  did-text. A commit that matches some other task better than its own scores below zero. It ranks
  about as well as `csls` on real data but its scale moves more with the pool size (a maximum grows
  with the number of candidates), so it is an option, not the default.
- `csls_lexical`: `csls` plus `LEXICAL_WEIGHT` times the idf-weighted share of the objective's code
  tokens (identifiers, file names, CamelCase/snake_case words) that the commit also mentions.

The background pool of a pair is every other pair in `pairs` and `reference` with the same `repo`
(None is a repository of its own). It assumes those other objectives are about other tasks: two agents
given near-identical tasks in one window lower each other's scores a little. A small pool's background
is shrunk towards `CSLS_PRIOR` (the background measured on real repositories), so a window with a single
pair and no reference scores `cosine - CSLS_PRIOR`: the plain cosine on a shifted scale, with about the
same false-alarm rate at the default threshold. Feed recent pairs of the repository as `reference`
(30 or more) to get the benefit.

A pair whose objective or did-text is blank scores NaN (no comparison is true for NaN, so it never
alerts); the caller should count it as unscorable.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from monitors.contracts.errors import ConfigError
from monitors.drift.text import TokenIdf, clean_message, code_tokens, subject, token_coverage
from monitors.support.embeddings import Embedder

if TYPE_CHECKING:
    import numpy

METHODS: tuple[str, ...] = ("cosine", "subject_max", "csls", "csls_lexical", "margin")
DEFAULT_METHOD = "csls"
# Each background is the mean of the top third of the pool's cosines (its nearest neighbours).
CSLS_FRACTION = 1 / 3
# The background of an empty pool. The mean top-third cosine on the dev split is 0.25; 0.22 is chosen
# so that a pair with no pool at all is judged exactly like `cosine` at its dev threshold (0.07 =
# -0.15 + 0.22), erring towards fewer alarms. A pool of n entries weighs its own estimate
# n : CSLS_PRIOR_WEIGHT, so one or two references cannot swing a score far on their own.
CSLS_PRIOR = 0.22
CSLS_PRIOR_WEIGHT = 3
# `margin`'s background of an empty pool, set like CSLS_PRIOR: a lone pair is judged like `cosine` at
# its dev threshold (0.07 = -0.32 + 0.39). Pool maxima on dev average about 0.45.
MARGIN_PRIOR = 0.39
LEXICAL_WEIGHT = 0.2
# Dev-calibrated thresholds that keep false alarms at or under 5% of genuine pairs on the dev split
# (docs/drift-calibration.md). Each applies only to its own method: the scales differ.
METHOD_THRESHOLDS: dict[str, float] = {
    "cosine": 0.07,
    "subject_max": 0.07,
    "csls": -0.15,
    "csls_lexical": -0.15,
    "margin": -0.32,
}
DEFAULT_THRESHOLD = METHOD_THRESHOLDS[DEFAULT_METHOD]


@dataclass(frozen=True)
class DriftPair:
    """What the agent was asked (`objective`) and what it did (`did`, e.g. the final commit message)."""

    objective: str
    did: str
    repo: str | None = None


def score_pairs(
    embedder: Embedder,
    pairs: Sequence[DriftPair],
    *,
    method: str = DEFAULT_METHOD,
    reference: Sequence[DriftPair] = (),
) -> list[float]:
    """One score per pair, in order; higher = more on-goal; NaN for a blank objective or did-text."""
    if method not in METHODS:
        raise ConfigError(f"unknown drift method {method!r}; valid: {', '.join(METHODS)}")
    if not pairs:
        return []
    entries = [_prepared(p) for p in [*pairs, *reference]]
    objectives = embedder.embed([e.objective for e in entries])
    dids = embedder.embed([e.did for e in entries])
    cosines = (objectives * dids).sum(axis=1)
    if method == "subject_max":
        subjects = embedder.embed([subject(e.did) for e in entries])
        cosines = cosines.clip(min=(objectives * subjects).sum(axis=1))
    scores = [float(c) for c in cosines[: len(pairs)]]
    if method in ("csls", "csls_lexical", "margin"):
        # margin: fraction 0 keeps one neighbour, the nearest.
        fraction, prior = (0.0, MARGIN_PRIOR) if method == "margin" else (CSLS_FRACTION, CSLS_PRIOR)
        backgrounds = _csls_backgrounds(entries, objectives, dids, len(pairs), fraction, prior)
        scores = [s - b for s, b in zip(scores, backgrounds, strict=True)]
    if method == "csls_lexical":
        lexical = _lexical(entries, len(pairs))
        scores = [s + LEXICAL_WEIGHT * x for s, x in zip(scores, lexical, strict=True)]
    scored = entries[: len(pairs)]
    return [s if e.objective and e.did else math.nan for e, s in zip(scored, scores, strict=True)]


def embedded_texts(pair: DriftPair) -> tuple[str, str]:
    """The two texts `score_pairs` embeds for `pair`: what a caller embeds ahead to find them cached."""
    prepared = _prepared(pair)
    return prepared.objective, prepared.did


def _prepared(pair: DriftPair) -> DriftPair:
    return DriftPair(pair.objective.strip(), clean_message(pair.did), pair.repo)


def _groups(entries: Sequence[DriftPair]) -> dict[str | None, list[int]]:
    groups: dict[str | None, list[int]] = {}
    for index, entry in enumerate(entries):
        # A blank text says nothing about the repository's background; its own score is NaN anyway.
        if entry.objective and entry.did:
            groups.setdefault(entry.repo, []).append(index)
    return groups


def _csls_backgrounds(
    entries: Sequence[DriftPair],
    objectives: numpy.ndarray,
    dids: numpy.ndarray,
    scored: int,
    fraction: float = CSLS_FRACTION,
    prior: float = CSLS_PRIOR,
) -> list[float]:
    """(commit background + objective background) / 2 for each of the first `scored` entries."""
    import numpy as np

    out = [0.0] * scored
    for members in _groups(entries).values():
        targets = [i for i in members if i < scored]
        if not targets:
            continue
        # Distinct texts only: a commit paired twice must not count as two neighbours.
        other_objectives = _first_index_by_text(members, lambda i: entries[i].objective)
        other_dids = _first_index_by_text(members, lambda i: entries[i].did)
        commit_sims = dids[targets] @ objectives[other_objectives].T
        objective_sims = objectives[targets] @ dids[other_dids].T
        for row, i in enumerate(targets):
            # Never compare against the pair's own objective, nor against what was done for it.
            own_objective = [entries[j].objective == entries[i].objective for j in other_objectives]
            own_did = [
                entries[j].did == entries[i].did or entries[j].objective == entries[i].objective for j in other_dids
            ]
            commit_bg = _background(np.where(own_objective, -np.inf, commit_sims[row]), fraction, prior)
            objective_bg = _background(np.where(own_did, -np.inf, objective_sims[row]), fraction, prior)
            out[i] = (commit_bg + objective_bg) / 2
    return out


def _first_index_by_text(members: Sequence[int], text_of: Callable[[int], str]) -> list[int]:
    seen: dict[str, int] = {}
    for i in members:
        seen.setdefault(text_of(i), i)
    return list(seen.values())


def _background(similarities: numpy.ndarray, fraction: float = CSLS_FRACTION, prior: float = CSLS_PRIOR) -> float:
    """Mean of the top `fraction` of the finite values (at least one), shrunk towards `prior` for small pools."""
    import numpy as np

    values = np.sort(similarities[np.isfinite(similarities)])[::-1]
    if len(values) == 0:
        return prior
    # A fraction, not a fixed count: the mean of the top 10 of 12 and of the top 10 of 200 are on
    # different scales, which would make one threshold mean different things in small and large windows.
    top = values[: max(1, math.ceil(fraction * len(values)))]
    n = len(values)
    return float((n * top.mean() + CSLS_PRIOR_WEIGHT * prior) / (n + CSLS_PRIOR_WEIGHT))


def _lexical(entries: Sequence[DriftPair], scored: int) -> list[float]:
    """Idf-weighted code-token coverage of each scored pair, idf over its repository's texts."""
    tokens = [(code_tokens(e.objective), code_tokens(e.did)) for e in entries]
    out = [0.0] * scored
    for members in _groups(entries).values():
        texts = {entries[i].objective: tokens[i][0] for i in members}
        texts.update({entries[i].did: tokens[i][1] for i in members})
        idf = TokenIdf(texts.values())
        for i in members:
            if i < scored:
                out[i] = token_coverage(tokens[i][0], tokens[i][1], idf)
    return out

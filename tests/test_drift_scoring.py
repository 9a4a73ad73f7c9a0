"""score_pairs with hand-chosen vectors (cosines known exactly), plus the text helpers it uses."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pytest

from monitors.contracts.errors import ConfigError
from monitors.drift.scoring import (
    CSLS_PRIOR,
    CSLS_PRIOR_WEIGHT,
    DEFAULT_METHOD,
    DEFAULT_THRESHOLD,
    LEXICAL_WEIGHT,
    MARGIN_PRIOR,
    METHOD_THRESHOLDS,
    METHODS,
    DriftPair,
    score_pairs,
)
from monitors.drift.text import clean_message, code_tokens, subject


class FakeEmbedder:
    """Vectors chosen by hand; an unknown text fails the test loudly rather than scoring silently."""

    model_name = "fake"

    def __init__(self, vectors: dict[str, Sequence[float]]) -> None:
        self.vectors = {t: np.asarray(v, dtype=np.float32) / np.linalg.norm(v) for t, v in vectors.items()}
        self.calls: list[list[str]] = []

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(list(texts))
        return np.stack([self.vectors[t] for t in texts])


VECTORS = {
    "o1": [1, 0, 0],
    "d1": [0.6, 0.8, 0],
    "o2": [0, 1, 0],
    "d2": [0, 0, 1],
    "o3": [0, 0, 1],
    "d3": [0, 0.6, 0.8],
}
P1, P2, P3 = DriftPair("o1", "d1", "r"), DriftPair("o2", "d2", "r"), DriftPair("o3", "d3", "r")


def shrunk(values: Sequence[float]) -> float:
    """The documented background: top third of the pool, shrunk towards the prior."""
    n = len(values)
    top = sorted(values, reverse=True)[: max(1, math.ceil(n / 3))] if n else [0.0]
    return (n * (sum(top) / len(top)) + CSLS_PRIOR_WEIGHT * CSLS_PRIOR) / (n + CSLS_PRIOR_WEIGHT)


def test_cosine_is_the_plain_cosine() -> None:
    scores = score_pairs(FakeEmbedder(VECTORS), [P1, P2, P3], method="cosine")
    assert scores == pytest.approx([0.6, 0.0, 0.8], abs=1e-6)


def test_trailers_are_dropped_before_embedding() -> None:
    pair = DriftPair("o1", "d1\n\nSigned-off-by: A <a@example.com>\nCo-authored-by: B <b@example.com>")
    assert score_pairs(FakeEmbedder(VECTORS), [pair], method="cosine") == pytest.approx([0.6], abs=1e-6)


def test_subject_max_takes_the_closer_of_message_and_subject() -> None:
    vectors = {"o1": [1, 0, 0], "chore subject\n\nlong body": [0, 1, 0], "chore subject": [0.8, 0.6, 0]}
    pair = DriftPair("o1", "chore subject\n\nlong body")
    embedder = FakeEmbedder(vectors)
    assert score_pairs(embedder, [pair], method="cosine") == pytest.approx([0.0], abs=1e-6)
    assert score_pairs(embedder, [pair], method="subject_max") == pytest.approx([0.8], abs=1e-6)


def test_csls_of_a_lone_pair_is_cosine_minus_the_prior() -> None:
    assert score_pairs(FakeEmbedder(VECTORS), [P1], method="csls") == pytest.approx([0.6 - CSLS_PRIOR], abs=1e-6)


def test_csls_subtracts_both_backgrounds_from_the_repository_pool() -> None:
    scores = score_pairs(FakeEmbedder(VECTORS), [P1, P2, P3], method="csls")
    # P1: d1 against the other objectives o2, o3 -> [0.8, 0]; o1 against the other dids d2, d3 -> [0, 0].
    expected_p1 = 0.6 - (shrunk([0.8, 0.0]) + shrunk([0.0, 0.0])) / 2
    # P3: d3 against o1, o2 -> [0, 0.6]; o3 against d1, d2 -> [0, 1].
    expected_p3 = 0.8 - (shrunk([0.0, 0.6]) + shrunk([0.0, 1.0])) / 2
    assert scores[0] == pytest.approx(expected_p1, abs=1e-6)
    assert scores[2] == pytest.approx(expected_p3, abs=1e-6)


def test_reference_pairs_act_as_background_and_are_not_scored() -> None:
    embedder = FakeEmbedder(VECTORS)
    in_window = score_pairs(embedder, [P1, P2, P3], method="csls")[0]
    from_history = score_pairs(embedder, [P1], method="csls", reference=[P2, P3])
    assert from_history == pytest.approx([in_window], abs=1e-6)


def test_other_repositories_and_the_pairs_own_objective_are_not_background() -> None:
    embedder = FakeEmbedder(VECTORS)
    alone = score_pairs(embedder, [P1], method="csls")
    elsewhere = [DriftPair("o2", "d2", "other"), DriftPair("o3", "d3", None)]
    same_task = [DriftPair("o1", "d2", "r"), DriftPair("o1", "d3", "r")]
    assert score_pairs(embedder, [P1], method="csls", reference=elsewhere) == pytest.approx(alone)
    assert score_pairs(embedder, [P1], method="csls", reference=same_task) == pytest.approx(alone)


def test_a_commit_that_resembles_every_objective_earns_less() -> None:
    vectors = {"goal": [1, 0, 0], "specific": [0.6, 0.8, 0], "generic": [0.6, 0, 0.8], "x": [0, 0, 1]}
    others = [DriftPair("x", "x", "r")] * 5  # five other tasks, all close to "generic", far from "specific"
    embedder = FakeEmbedder(vectors)
    specific = score_pairs(embedder, [DriftPair("goal", "specific", "r")], method="csls", reference=others)
    generic = score_pairs(embedder, [DriftPair("goal", "generic", "r")], method="csls", reference=others)
    assert score_pairs(embedder, [DriftPair("goal", "specific"), DriftPair("goal", "generic")], method="cosine") == (
        pytest.approx([0.6, 0.6], abs=1e-6)
    )
    assert generic[0] < specific[0] - 0.1


def test_margin_subtracts_the_nearest_other_task_on_both_sides() -> None:
    scores = score_pairs(FakeEmbedder(VECTORS), [P1, P2, P3], method="margin")

    # Each side's background is its pool's maximum shrunk towards the prior, pool of n weighing n : 3.
    def nearest(values: Sequence[float]) -> float:
        return (len(values) * max(values) + CSLS_PRIOR_WEIGHT * MARGIN_PRIOR) / (len(values) + CSLS_PRIOR_WEIGHT)

    # P1: d1 vs o2, o3 -> [0.8, 0]; o1 vs d2, d3 -> [0, 0]. P2: d2 vs o1, o3 -> [0, 1]; o2 vs d1, d3 -> [0.8, 0.6].
    assert scores[0] == pytest.approx(0.6 - (nearest([0.8, 0.0]) + nearest([0.0, 0.0])) / 2, abs=1e-6)
    assert scores[1] == pytest.approx(0.0 - (nearest([0.0, 1.0]) + nearest([0.8, 0.6])) / 2, abs=1e-6)


def test_margin_of_a_lone_pair_is_cosine_minus_its_prior() -> None:
    assert score_pairs(FakeEmbedder(VECTORS), [P1], method="margin") == pytest.approx([0.6 - MARGIN_PRIOR], abs=1e-6)


def test_a_commit_closer_to_another_task_loses_more_under_margin_than_csls() -> None:
    # The commit matches one other task ("x") exactly, and five tasks not at all: csls averages the top
    # third (two of six), margin takes the one it matches.
    vectors = {"goal": [1, 0, 0], "did": [0.6, 0.8, 0], "x": [0, 1, 0], "y": [0, 0, 1]}
    others = [DriftPair("x", "y", "r")] + [DriftPair(f"y{i}", "y", "r") for i in range(5)]
    vectors.update({f"y{i}": [0, 0, 1] for i in range(5)})
    embedder = FakeEmbedder(vectors)
    pair = [DriftPair("goal", "did", "r")]
    margin = score_pairs(embedder, pair, method="margin", reference=others)[0]
    csls = score_pairs(embedder, pair, method="csls", reference=others)[0]
    commit_bg_margin = (6 * 0.8 + CSLS_PRIOR_WEIGHT * MARGIN_PRIOR) / 9
    objective_bg_margin = (1 * 0.0 + CSLS_PRIOR_WEIGHT * MARGIN_PRIOR) / 4  # one distinct other did: "y"
    assert margin == pytest.approx(0.6 - (commit_bg_margin + objective_bg_margin) / 2, abs=1e-6)
    assert margin < csls


def test_lexical_bonus_is_idf_weighted_token_coverage() -> None:
    objective, did = "Fix prepare_body encoding", "prepare_body: handle bytes"
    embedder = FakeEmbedder({objective: [1, 0, 0], did: [0.6, 0.8, 0]})
    pair = DriftPair(objective, did)
    csls = score_pairs(embedder, [pair], method="csls")[0]
    lexical = score_pairs(embedder, [pair], method="csls_lexical")[0]
    # Tokens: objective {prepare_body, prepare, body, encod}; did shares the first three.
    # Over two texts, a shared token weighs log(3/3)+1 = 1 and "encod" log(3/2)+1.
    coverage = 3 / (3 + math.log(1.5) + 1)
    assert lexical - csls == pytest.approx(LEXICAL_WEIGHT * coverage, abs=1e-6)


@pytest.mark.parametrize("method", METHODS)
def test_blank_texts_score_nan_and_do_not_disturb_the_others(method: str) -> None:
    embedder = FakeEmbedder({**VECTORS, "": [1, 1, 1]})
    scores = score_pairs(embedder, [DriftPair("  ", "d1", "r"), P1, DriftPair("o2", "", "r")], method=method)
    assert math.isnan(scores[0]) and math.isnan(scores[2])
    assert scores[1] == pytest.approx(score_pairs(embedder, [P1], method=method)[0], abs=1e-6)


def test_unknown_method_is_a_config_error_naming_the_valid_ones() -> None:
    with pytest.raises(ConfigError, match="csls"):
        score_pairs(FakeEmbedder(VECTORS), [P1], method="magic")


def test_no_pairs_embeds_nothing() -> None:
    embedder = FakeEmbedder(VECTORS)
    assert score_pairs(embedder, [], reference=[P2]) == []
    assert embedder.calls == []


def test_defaults_are_consistent() -> None:
    assert DEFAULT_METHOD in METHODS
    assert set(METHOD_THRESHOLDS) == set(METHODS)
    assert METHOD_THRESHOLDS[DEFAULT_METHOD] == DEFAULT_THRESHOLD


def test_text_helpers() -> None:
    assert subject("\n\n  fix: the thing  \nbody") == "fix: the thing"
    assert clean_message("msg\n\n(cherry picked from commit abc123)\nSigned-off-by: x") == "msg"
    assert code_tokens("Improve RequestsCookieJar") == {"improve", "request", "cookie", "jar"}
    assert {"cookie", "jar", "conftest.py", "conftest"} <= code_tokens("cookie jar in conftest.py")
    assert code_tokens("the and for") == frozenset()


@pytest.mark.slow
def test_real_model_scores_an_on_goal_pair_above_a_drifted_one() -> None:
    from monitors.support.embeddings import SentenceTransformerEmbedder

    objective = "Add a --dry-run flag to the release script"
    pairs = [
        DriftPair(objective, "release: support --dry-run to print the steps without pushing", "g/app"),
        DriftPair(objective, "Fix typo in the Spanish translation of the login page", "g/app"),
    ]
    on_goal, drifted = score_pairs(SentenceTransformerEmbedder(), pairs)
    assert on_goal > DEFAULT_THRESHOLD > drifted

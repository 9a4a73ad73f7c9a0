"""Thousands of model turns or replies in a row: the text checks compare each one with a bounded number of
earlier ones, so time and memory grow with the session, not with its square."""

from __future__ import annotations

from collections.abc import Sequence

from monitors.audit.claimed import find_claimed_not_done
from monitors.audit.conversation import (
    MAX_COMPARED,
    find_conversation_loops,
    find_monologue,
    lexical_similarity,
)
from monitors.audit.sequence import Generation, make_call


class CountingSimilarity:
    """The default lexical similarity, recording how many texts each call compares at once."""

    def __init__(self) -> None:
        self.sizes: list[int] = []

    def __call__(self, texts: Sequence[str]) -> list[list[float]]:
        self.sizes.append(len(texts))
        return lexical_similarity(texts)


def _distinct(n: int) -> str:
    # Every turn its own words: nothing repeats unless a test makes it.
    return f"step {n}: " + " ".join(f"w{n}x{k}" for k in range(12))


def test_a_long_monologue_is_compared_in_bounded_blocks_and_its_repeats_still_found() -> None:
    texts = [_distinct(n) for n in range(3000)]
    texts[2500] = texts[2490]  # a model turn saying again what it said ten turns before
    texts[2900] = texts[2880]
    similarity = CountingSimilarity()
    found = find_monologue([Generation(0, t, 10, 0.0) for t in texts], similarity)
    assert found is not None
    assert [g.text for g in found[0]] == [texts[2500], texts[2900]]
    assert max(similarity.sizes) <= 2 * MAX_COMPARED  # never a 3000 x 3000 matrix
    assert sum(n * n for n in similarity.sizes) <= 3000 * 4 * MAX_COMPARED


def test_a_long_stretch_of_replies_is_compared_in_bounded_blocks() -> None:
    replies = [_distinct(n) for n in range(2000)]
    replies[1500] = replies[1497]
    replies[1800] = replies[1790]
    calls = [make_call(n + 1, "respond", {"content": text}, "ok") for n, text in enumerate(replies)]
    similarity = CountingSimilarity()
    (issue,) = find_conversation_loops(calls, similarity)
    assert issue.steps == (1501, 1801)
    assert max(similarity.sizes) <= 2 * MAX_COMPARED


class CountedValue:
    """An argument value that counts how often a check turns it into text (each time it reads the call)."""

    reads = 0

    def __str__(self) -> str:
        CountedValue.reads += 1
        return "R7X2Q"


def test_each_call_is_read_once_however_many_claims_follow_it() -> None:
    # 400 updates each followed by a claim of bags the update does not name: every claim is checked
    # against every earlier update, and each update's words are read once, not once per claim.
    calls = []
    for n in range(400):
        calls.append(make_call(2 * n + 1, "update_reservation_flights", {"reservation_id": CountedValue(), "n": n}))
        calls.append(make_call(2 * n + 2, "respond", {"content": "Two checked bags have been added."}, "ok"))
    CountedValue.reads = 0
    found = find_claimed_not_done(calls, toolset=["update_reservation_baggages"])
    assert len(found) == 400  # every claim is still judged (and none is done)
    assert CountedValue.reads <= 3 * 400  # not 400 x 400 / 2

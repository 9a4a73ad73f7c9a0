"""Checks over what the agent says rather than what it calls: conversation loops and monologue (claims
of work that no tool call did are in `monitors/audit/claimed.py`).

- Conversation loop: a stretch of replies to the user with no action in between (notes such as `think`
  do not count as actions) in which replies say again what an earlier reply of the same stretch said:
  asking again for what the user said they do not have, "take your time", the same refusal, another
  goodbye. The wording differs every turn, so replies are compared by similarity rather than equality:
  by default the cosine of their word and word-pair counts (no model), optionally by sentence
  embeddings (docs/audit-evaluation.md compares the two).
- Monologue: model turns (GENERATIONs) with no tool call between them that repeat each other.

Similarity is a callable from texts to their pairwise cosine matrix; the embedding one loads its model
only when a session has a stretch long enough to be a loop, so most sessions never pay for it.
"""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from monitors.audit import slots
from monitors.audit.checks import Issue
from monitors.audit.sequence import ACTION, MESSAGE, Generation, ToolCall, excerpt, message_text, normalize_args

Similarity = Callable[[Sequence[str]], Any]  # texts -> (n, n) cosine matrix (numpy array or nested lists)
MAX_TEXT = 200  # characters of a reply compared: the opening says what it is about, and cost grows with length
# Earlier texts each one is compared with (at least; up to twice as many): a loop says again what it said a
# few turns ago, and comparing with all of them would make a 10,000-turn session cost 10,000² comparisons.
MAX_COMPARED = 50
# Restating an answer because the user asked again is fair for the user's first questions of a stretch;
# from the third on, an agent that only restates is answering in circles and should change course
# (transfer, end).
EXCUSED_QUESTIONS = 2
# From then on, a reply that says little not already said in the stretch's earlier replies only restates
# them, even when no single earlier reply is close to it (a refusal reworded from the pieces of three
# earlier ones): at most this share of its words is new.
RESTATED_NEW_WORDS = 0.35


def _runs(calls: Sequence[ToolCall]) -> list[tuple[list[ToolCall], list[ToolCall]]]:
    """Maximal runs of replies with no action between them, each with the actions that follow it."""
    runs: list[tuple[list[ToolCall], list[ToolCall]]] = [([], [])]
    for call in calls:
        if call.role == ACTION:
            runs[-1][1].append(call)
        elif call.role == MESSAGE and message_text(call).strip():
            if runs[-1][1]:
                runs.append(([], []))
            runs[-1][0].append(call)
    return [r for r in runs if r[0]]


def _stretches(calls: Sequence[ToolCall]) -> list[list[ToolCall]]:
    """Maximal runs of replies with no action between them."""
    return [replies for replies, _ in _runs(calls)]


def _still_lacking(lacking: set[str], actions: Sequence[ToolCall]) -> set[str]:
    """What the user said they lack, after the actions between two stretches: a call whose arguments or
    answer name the slot (a user lookup answers with the user id) may have filled it; a flight search
    has not."""
    if not lacking:
        return lacking
    texts = [f"{normalize_args(c.args)} {_answer(c)}".lower() for c in actions]
    return {slot for slot in lacking if not any(slot in text for text in texts)}


def longest_stretch(calls: Sequence[ToolCall]) -> int:
    """Replies in the longest run with no action between them (0 when the agent never replies)."""
    return max((len(r) for r in _stretches(calls)), default=0)


def _repeats(texts: Sequence[str], similarity: Similarity, threshold: float) -> list[tuple[int, int]]:
    """(later, earlier) index pairs where a text says again what an earlier one said, among the
    MAX_COMPARED to 2 * MAX_COMPARED texts before it: texts go to `similarity` in blocks of MAX_COMPARED,
    each with the block before it."""
    canon = [" ".join(t.split()).lower()[:MAX_TEXT] for t in texts]
    found: list[tuple[int, int]] = []
    for block in range(0, len(canon), MAX_COMPARED):
        base = max(0, block - MAX_COMPARED)
        part = canon[base : block + MAX_COMPARED]
        matrix = similarity(part)
        for j in range(max(1, block - base), len(part)):
            best = max(range(j), key=lambda i: float(matrix[j][i]))
            if part[j] == part[best] or float(matrix[j][best]) >= threshold:
                found.append((base + j, base + best))
    return found


# "No problem!" alone opens replies that go on to ask or explain ("No problem! If you can provide your
# email, ..."): only "no problem, take your time" pauses the conversation.
_CLOSING = re.compile(
    r"^\W*(?:you'?re (?:very |most )?welcome|you are welcome|(?:no problem|no worries)?\W*take your time|good-?bye"
    r"|have a (?:great|good|nice|wonderful|safe) (?:day|trip|flight|one))\b",
    re.IGNORECASE,
)


# "Thank you! Looking forward to assisting you soon. Have a great day!": a short reply that only thanks
# and says goodbye (no question) is a goodbye too, though it does not open as one.
_THANKS = re.compile(r"^\W*(?:thank you|thanks)\b[^.!?]{0,40}[.!]", re.IGNORECASE)
_FAREWELL = re.compile(
    r"(?:have an? (?:great|good|nice|wonderful|fantastic|safe|pleasant|lovely) (?:day|trip|flight|one|journey|time)"
    r"|safe travels|take care|goodbye)\W*$",
    re.IGNORECASE,
)
SHORT_GOODBYE = 200  # characters: longer replies carry more than thanks and a goodbye


def is_closing(reply: str) -> bool:
    """A reply that opens as a goodbye or a "take your time", or only thanks and says goodbye: it ends
    or pauses the conversation."""
    reply = reply.replace("\u2019", "'")
    if _CLOSING.search(reply):
        return True
    short = len(reply) <= SHORT_GOODBYE and "?" not in reply
    return short and bool(_THANKS.search(reply)) and bool(_FAREWELL.search(reply.strip()))


def _answer(call: ToolCall) -> str:
    """The user's answer to a reply (the message call's output)."""
    out = call.output
    return out if isinstance(out, str) else ("" if out is None else normalize_args(out))


def _stretch_repeats(
    stretch: Sequence[ToolCall], similarity: Similarity, threshold: float, state: slots.SlotState | None = None
) -> list[tuple[int, int]]:
    """(later, earlier) reply indices in one stretch where the later reply is wasted.

    A reply is wasted when it asks again for a slot the user lacks or gave (monitors/audit/slots.py),
    when it is another goodbye after a goodbye, or when it says again what an earlier reply said
    (similarity). Three restatements are not waste: a reply that asks for something still missing (its
    wording may repeat the first ask), a restatement answering one of the user's first
    EXCUSED_QUESTIONS questions of the stretch, and the stretch's first goodbye ("feel free to reach
    out once you have the reservation ID" echoes the ask, but ending the conversation is not a repeat).
    """
    texts = [message_text(c) for c in stretch]
    answers = [_answer(c) for c in stretch]
    similar = dict(_repeats(texts, similarity, threshold))
    words = [_words(" ".join(t.split())[:MAX_TEXT]) for t in texts]
    said: set[str] = set()  # words of the stretch's replies so far
    first_ask: dict[str, int] = {}
    last_closing: int | None = None
    questions = 0  # user turns of the stretch so far that ask something
    found: list[tuple[int, int]] = []
    for j, again, fair in slots.reasks(zip(texts, answers, strict=True), state):
        asked = j > 0 and "?" in answers[j - 1]
        questions += asked
        closing = is_closing(texts[j])
        if again:
            found.append((j, min(first_ask.get(s, 0) for s in again)))
        elif closing and last_closing is not None:
            found.append((j, last_closing))
        elif closing or fair:
            pass  # a first goodbye is not a repeat, even when its reminder echoes an earlier ask
        elif j in similar and not (asked and questions <= EXCUSED_QUESTIONS):
            found.append((j, similar[j]))
        elif questions > EXCUSED_QUESTIONS and _new_share(words[j], said) <= RESTATED_NEW_WORDS:
            found.append((j, max(range(max(0, j - MAX_COMPARED), j), key=lambda i: len(words[i] & words[j]))))
        said |= words[j]
        for slot in slots.asked_slots(texts[j]):
            first_ask.setdefault(slot, j)
        last_closing = j if closing else last_closing
    return found


def find_conversation_loops(
    calls: Sequence[ToolCall],
    similarity: Similarity,
    *,
    threshold: float = 0.4,
    min_replies: int = 3,
    min_repeats: int = 2,
) -> list[Issue]:
    """Replies that repeat an earlier reply of the same stretch, when a session has `min_repeats`."""
    wasted: list[int] = []
    related: list[int] = []
    quotes: list[str] = []
    lacking: set[str] = set()  # what the user said they lack, kept across calls that do not fill it
    for stretch, actions in _runs(calls):
        state = slots.SlotState(lacking=set(lacking))
        if len(stretch) < min_replies:
            # Too few replies to talk in circles, but one can still ask for what the user said they lack.
            turns = [(message_text(c), _answer(c)) for c in stretch]
            if not lacking and not any(slots.says_lacking(answer) for _, answer in turns):
                continue  # nothing lacking before or after: nothing to read (most short stretches)
            pairs = [(j, 0) for j, again, _ in slots.reasks(turns, state) if again]
        else:
            pairs = _stretch_repeats(stretch, similarity, threshold, state)
        lacking = _still_lacking(state.lacking, actions)
        for later, earlier in pairs:
            wasted.append(stretch[later].step)
            related.append(stretch[earlier].step)
            if len(quotes) < 2:
                quotes.append(f'#{stretch[later].step} "{excerpt(message_text(stretch[later]), 70)}"')
    if len(wasted) < min_repeats:
        return []
    detail = f"{len(wasted)} replies repeat an earlier reply with no action in between ({'; '.join(quotes)})"
    return [Issue("conversation_loop", tuple(wasted), detail, tuple(sorted(set(related))))]


def find_monologue(
    generations: Sequence[Generation],
    similarity: Similarity,
    *,
    threshold: float = 0.6,
    min_turns: int = 3,
    min_repeats: int = 2,
) -> tuple[list[Generation], str] | None:
    """Model turns between the same two tool calls that repeat each other: (wasted turns, note)."""
    groups: dict[int, list[Generation]] = {}
    for gen in generations:
        groups.setdefault(gen.after_calls, []).append(gen)
    wasted: list[Generation] = []
    quote = ""
    for group in groups.values():
        if len(group) < min_turns:
            continue
        for later, _ in _repeats([g.text for g in group], similarity, threshold):
            wasted.append(group[later])
            quote = quote or excerpt(group[later].text, 70)
    if len(wasted) < min_repeats:
        return None
    return wasted, f'{len(wasted)} model turns repeat earlier ones with no tool call in between ("{quote}")'


def exact_similarity(texts: Sequence[str]) -> list[list[float]]:
    """1.0 for identical normalized texts, else 0.0: the fallback when no embedding model is wanted."""
    keys = [normalize_args(t) for t in texts]
    return [[1.0 if a == b else 0.0 for b in keys] for a in keys]


class EmbeddingSimilarity:
    """Cosine similarity by sentence embeddings; the model is loaded on the first call, not before.

    `embedded` counts texts sent to the model (cache misses), for the run's counters.
    """

    def __init__(self, model_name: str | None = None, *, cache: Any = None) -> None:
        self.model_name = model_name
        self.cache = cache
        self._embedder: Any = None

    @property
    def loaded(self) -> bool:
        return self._embedder is not None

    @property
    def embedded(self) -> int:
        return self._embedder.embedded if self._embedder is not None else 0

    def __call__(self, texts: Sequence[str]) -> Any:
        if self._embedder is None:
            from monitors.support.embeddings import DEFAULT_MODEL, SentenceTransformerEmbedder

            self._embedder = SentenceTransformerEmbedder(self.model_name or DEFAULT_MODEL, cache=self.cache)
        vectors = self._embedder.embed(list(texts))
        return vectors @ vectors.T


_WORD = re.compile(r"[a-z0-9']+")


def _bag(text: str) -> Counter[str]:
    words = [w for w in _WORD.findall(text.lower()) if w not in _STOP]
    return Counter(words + [f"{a} {b}" for a, b in itertools.pairwise(words)])


def _words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _STOP}


def _new_share(words: set[str], said: set[str]) -> float:
    """Share of a reply's words not said before (1.0 for a reply with no words to compare)."""
    return len(words - said) / len(words) if words else 1.0


def lexical_similarity(texts: Sequence[str]) -> list[list[float]]:
    """Cosine of word and word-pair counts (common function words left out): no model, microseconds."""
    bags = [_bag(t) for t in texts]
    norms = [math.sqrt(sum(v * v for v in b.values())) or 1.0 for b in bags]
    return [
        [sum(c * b[w] for w, c in a.items() if w in b) / (na * nb) for b, nb in zip(bags, norms, strict=True)]
        for a, na in zip(bags, norms, strict=True)
    ]


_STOP = frozenset({
    "a", "an", "the", "and", "or", "but", "if", "of", "to", "in", "on", "for", "with", "at", "by", "from", "as",
    "is", "are", "was", "were", "be", "been", "it", "its", "this", "that", "i", "you", "your", "we", "our", "me",
    "my", "us",
})  # fmt: skip

"""Text preparation for goal-drift scoring: clean commit messages, split subject/body, code tokens.

All input here is untrusted agent or commit text. Nothing is evaluated or interpreted; the functions
only slice strings, so a hostile message can at worst score oddly.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable

# Git trailers and cherry-pick notes say who and where, not what was done; they only add noise
# to the embedding (and "Co-authored-by: pytest bot" looks alike across unrelated commits).
_TRAILER = re.compile(
    r"^\s*(signed-off-by|co-authored-by|reviewed-by|acked-by|tested-by|reported-by|change-id)\s*:.*$"
    r"|^\s*\(cherry picked from commit [0-9a-f]+\)\s*$",
    re.IGNORECASE | re.MULTILINE,
)
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9_.\-]*[A-Za-z0-9]|[A-Za-z]")
_PIECE = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")
_SEPARATORS = re.compile(r"[_.\-]+")
# Words that occur in most objectives and commits whatever the change: sharing them is no evidence.
_STOPWORDS = frozenset(
    word
    for line in (
        "the and for with from into this that are was were not use using when",
        "more some new add added adds fix fixed fixes update updated remove removed make support",
    )
    for word in line.split()
)
_SUFFIXES = ("ing", "es", "ed", "s")


def clean_message(text: str) -> str:
    """The message without git trailers and surrounding whitespace."""
    return _TRAILER.sub("", text).strip()


def subject(text: str) -> str:
    """The first non-blank line of a message."""
    for line in text.strip().splitlines():
        if line.strip():
            return line.strip()
    return ""


def _stem(word: str) -> str:
    # A crude suffix strip is enough to meet "pagination"/"paginate"-style pairs halfway.
    for suffix in _SUFFIXES:
        if len(word) > 4 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def code_tokens(text: str) -> frozenset[str]:
    """Lowercased word pieces of a text, identifiers split on _ . - and CamelCase, kept whole too.

    `prepare_body` gives {"prepare_body", "prepare", "body"}; `RequestsCookieJar` gives
    {"requests", "cookie", "jar"} (stemmed: "request").
    """
    out: set[str] = set()
    for word in _WORD.findall(text):
        if "_" in word or "." in word:
            out.add(word.lower())
        for part in _SEPARATORS.split(word):
            for piece in _PIECE.findall(part):
                token = _stem(piece.lower())
                if len(token) >= 3 and token not in _STOPWORDS:
                    out.add(token)
    return frozenset(out)


class TokenIdf:
    """Inverse document frequency of code tokens over a pool of texts (a repository's recent ones)."""

    def __init__(self, documents: Iterable[frozenset[str]]) -> None:
        docs = list(documents)
        self.count = len(docs)
        self.frequency: Counter[str] = Counter(token for doc in docs for token in doc)

    def weight(self, token: str) -> float:
        # Smoothed so an unseen token weighs most and a pool of one gives every token weight 1.
        return math.log((self.count + 1) / (self.frequency.get(token, 0) + 1)) + 1.0


def token_coverage(objective: frozenset[str], did: frozenset[str], idf: TokenIdf) -> float:
    """Share of the objective's (idf-weighted) tokens that the did-text also mentions, in [0, 1]."""
    if not objective or not did:
        return 0.0
    total = sum(idf.weight(t) for t in objective)
    shared = sum(idf.weight(t) for t in objective & did)
    return shared / total

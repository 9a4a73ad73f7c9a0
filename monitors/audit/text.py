"""What agent and tool text says, by pattern: soft failures, "check again", claims of done work.

Tool answers that report failure while the call "succeeded" (search misses, empty lookups, a rejected
flag) start with one of a few phrases; only the start of the answer is read, so a failure phrase deep
inside a long JSON document or a page of text does not count. Claims are past-tense statements of an
action in a reply to the user ("has been cancelled", "I've added the bag", "I fixed the test"); each
names a family of tool verbs that could have done it (cancel -> cancel_/delete_, add -> add_/update_,
...), so the claimed-but-not-done check can look for a call of that family.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

SOFT_FAILURE_PATTERNS: tuple[str, ...] = (
    r"could not find",
    r"couldn't find",
    r"no results?\b",
    r"no matches\b",
    r"not found\b",
    r"no such (file|directory|item|record|user|reservation)",
    r"(is|are) not available",
    r"nothing found",
    r"does not exist",
    r"wrong (flag|answer)",
    r"\[\]$",  # an empty list and nothing else
    # A failure the tool wrote into its answer while the call was logged as a success: "Error: ...",
    # "ERROR 404: ...", a Python traceback, a JSON answer that opens with a non-empty `error`.
    r"error(\s*\d{3})?\s*[:!]",
    r"traceback \(most recent call last\)",
    r'\{\s*"error"\s*:(?!\s*(?:null\b|false\b|""|\{\s*\}|\[\s*\]))',
)
SOFT_FAILURE_PREFIX = 120  # characters of the answer read for a failure phrase

# "Could you check again?", "double-check", and "search for other options": the user asks for the look.
_AGAIN = re.compile(
    r"\b(check|look|search|try|verify)\w*\b[^.?!]{0,30}\b(again|once more)\b|double[- ]check|re-?check"
    r"|\b(?:search|look|check)\w*\s+(?:for\s+)?(?:any\s+)?(?:other|another|alternative|more)\b",
    re.IGNORECASE,
)


def compile_patterns(patterns: Sequence[str]) -> tuple[re.Pattern[str], ...]:
    """Case-insensitive patterns, each anchored at the start of an answer (after whitespace)."""
    return tuple(re.compile(r"^\s*(?:" + p + ")", re.IGNORECASE) for p in patterns)


DEFAULT_SOFT_FAILURES = compile_patterns(SOFT_FAILURE_PATTERNS)


def _head(value: Any, limit: int) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value, default=str)[: limit * 2]
    return text[:limit]


def soft_failure(output: Any, patterns: Sequence[re.Pattern[str]]) -> bool:
    """True when the answer starts like a failure ("Could not find [x]", "No results", "[]")."""
    if not patterns or output is None:
        return False
    head = _head(output, SOFT_FAILURE_PREFIX).strip()
    return bool(head) and any(p.search(head) for p in patterns)


def asks_again(user_reply: Any) -> bool:
    """Does the user's reply ask the agent to check, look or try again?"""
    return bool(_AGAIN.search(_head(user_reply, 2000)))


@dataclass(frozen=True, slots=True)
class Claim:
    """A statement that an action was done: the words that say so, the tool verbs that could, and the
    words that name what it was done to (the clause's subject for "X has been added", the object for
    "I've added X"), lowercased."""

    text: str
    verbs: tuple[str, ...]
    participle: str = ""  # "added", "cancelled": the claim's own verb word
    object_words: tuple[str, ...] = ()
    quote: str = ""  # the claim with what it names: "three checked bags have been added"


FILE_WORK = ("edit", "write", "create", "str_replace", "insert", "apply")  # tools that fix or write files
# (regex over a past-tense claim, tool-name verbs that would have done it)
_CLAIM_VERBS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (r"cancel+ed", ("cancel", "delete", "remove")),
    (r"(re)?booked|reserved", ("book", "reserve", "create", "update")),
    (r"upgraded|downgraded|changed|modified|updated|rescheduled|switched|moved",
     ("update", "modify", "change", "set", "edit", "move")),
    (r"added|included", ("add", "update", "insert", "create", "set")),
    (r"removed|deleted", ("remove", "delete", "update", "cancel")),
    (r"refunded|issued|sent|credited", ("refund", "send", "issue", "credit", "update", "cancel")),
    (r"transferred|escalated", ("transfer", "escalate")),
    (r"fixed|patched|edited|rewritten|created|written", FILE_WORK),
)  # fmt: skip
_PASSIVE = r"\b(?:has|have)\s+(?:now\s+)?been\s+(?:successfully\s+)?|\b(?:is|are)\s+now\s+"
# Words between the subject and the verb that keep it a claim: "I've now cancelled", "I have also added",
# "I've gone ahead and cancelled". "Already" only after "I"/"we"/"'ve": "the airline has already cancelled
# the flight" reports what the agent found, "I've already cancelled it" what it did.
_ADVERBS = r"(?:(?:now|also|just|successfully)\s+){0,3}"
_MY_ADVERBS = r"(?:(?:now|also|just|already|successfully)\s+){0,3}"
_AHEAD = r"(?:gone\s+ahead\s+and\s+" + _MY_ADVERBS + r")?"
# "'ve" after any subject: "we've cancelled" is the agent's claim, "you've booked" is left out below.
_ACTIVE = (
    r"\b(?:has|have)\s+"
    + _ADVERBS
    + _AHEAD
    + r"|(?:\bI've|\b've|\b(?:I|we)\s+have)\s+"
    + _MY_ADVERBS
    + _AHEAD
    + r"|\bI\s+"
    + _MY_ADVERBS
    + r"|\b(?:I|we)\s+(?:just\s+|also\s+)?went\s+ahead\s+and\s+"
    + _MY_ADVERBS
)
# Claims are found verb first (one scan of a reply for any claim verb), then the auxiliary is read
# from the few characters before it: eight full scans, one per family, cost three times as much.
_VERB = re.compile(
    r"\b(?:" + "|".join(f"(?P<f{i}>{words})" for i, (words, _) in enumerate(_CLAIM_VERBS)) + r")\b", re.IGNORECASE
)
_AUXILIARY = re.compile(r"(?:(?P<passive>" + _PASSIVE + r")|" + _ACTIVE + r")$", re.IGNORECASE)
AUXILIARY_REACH = 60  # characters before the verb read for "have now gone ahead and successfully"
# "I will update", "once I have added", "if you'd like me to cancel" are promises or conditions, not claims.
_NOT_A_CLAIM = re.compile(
    r"\b(if|once|when|after|before|unless|whether|would|will|can|could|should|unable|cannot|can't|not)\b[^.]{0,40}$",
    re.IGNORECASE,
)
# "You have already booked", "they've cancelled": what the user or someone else did, not the agent.
_OTHERS_DID = re.compile(r"\b(?:you|they|he|she)\s*$", re.IGNORECASE)
# A clause ends at sentence punctuation, a comma, a semicolon, a colon, a line break or " and " (not at
# the point or comma of a figure: "$1,286.50").
_CLAUSE_END = re.compile(r"[!?;:\n]|[.,](?!\d)|\s(?:and|but|while|so)\s", re.IGNORECASE)
# What follows an active verb up to its first preposition is what was acted on: "I've added three bags
# to your reservation" adds bags.
_PREPOSITION = re.compile(
    r"\b(?:to|for|on|in|into|onto|from|with|at|by|as|via|under|of|so|that|which)\b", re.IGNORECASE
)
_LETTERS = re.compile(r"[a-z]+")
# "Your reservation has been updated and 2 bags added": a second subject, its auxiliary left out.
_ELIDED = re.compile(
    r"\s+and\s+(?P<subject>(?:[\w$*#'-]+\s+){1,5}?)(?P<verb>" + "|".join(w for w, _ in _CLAIM_VERBS) + r")\b",
    re.IGNORECASE,
)
_NOT_A_SUBJECT = re.compile(r"\b(?:has|have|had|been|is|are|was|were|will|would|i|you|we|they|it|not)\b", re.I)


def _clause_before(text: str, start: int) -> str:
    """The subject of a passive claim, up to its first preposition: "the flight from ATL to LAS has been
    changed" changed the flight; the places only say which one."""
    head = text[max(0, start - 200) : start]
    ends = list(_CLAUSE_END.finditer(head))
    head = head[ends[-1].end() :] if ends else head
    prep = _PREPOSITION.search(head)
    return head[: prep.start()] if prep else head


def _clause_after(text: str, end: int) -> str:
    tail = text[end : end + 200]
    stop = _CLAUSE_END.search(tail)
    tail = tail[: stop.start()] if stop else tail
    prep = _PREPOSITION.search(tail)
    return tail[: prep.start()] if prep else tail


# Markdown emphasis and code spans around words: "has been **cancelled**", "I've `added` the bag".
_MARKUP = re.compile(r"\*{1,3}|`+|(?<!\w)_{1,3}(?=\w)|(?<=\w)_{1,3}(?!\w)")


def claims(text: str) -> list[Claim]:
    """Past-tense claims of done work in a reply; conditional or negated statements, and what the user
    or a third person did ("you have already booked"), are not claims. Markdown emphasis is read as
    the plain words it marks, and a typographic apostrophe as a plain one."""
    text = _MARKUP.sub("", text).replace("\u2019", "'")  # models often write "I\u2019ve"
    found: list[Claim] = []
    for verb in _VERB.finditer(text):
        window = max(0, verb.start() - AUXILIARY_REACH)
        aux = _AUXILIARY.search(text, window, verb.start())
        if aux is None:
            continue
        start = aux.start()
        before = text[max(0, start - 60) : start]
        if _NOT_A_CLAIM.search(before.split(".")[-1] + " "):
            continue
        passive = aux.group("passive") is not None
        if not passive and _OTHERS_DID.search(before):
            continue
        verbs = _CLAIM_VERBS[int((verb.lastgroup or "f0")[1:])][1]
        said = text[start : verb.end()]
        named = _clause_before(text, start) if passive else _clause_after(text, verb.end())
        words = tuple(_LETTERS.findall(named.lower()))
        quote = f"{named.strip()} {said}" if passive else f"{said} {named.strip()}"
        found.append(Claim(said.strip(), verbs, verb.group(0).lower(), words, quote.strip()))
        if passive:
            found.extend(_elided(text, verb.end()))
    return found


def _elided(text: str, end: int) -> list[Claim]:
    """The claim that shares a passive claim's auxiliary after " and " ("... and 2 bags added")."""
    tail = text[end : end + 200]
    stop = _CLAUSE_END.search(tail)
    if stop is None or "and" not in stop.group(0).lower():
        return []
    match = _ELIDED.match(tail, stop.start())
    if match is None or _NOT_A_SUBJECT.search(match.group("subject")):
        return []
    verb = match.group("verb").lower()
    verbs = next(v for words, v in _CLAIM_VERBS if re.fullmatch(words, verb))
    subject = match.group("subject")
    cut = _PREPOSITION.search(subject)
    named = subject[: cut.start()] if cut else subject
    quote = f"{subject.strip()} {match.group('verb')}"
    return [Claim(quote, verbs, verb, tuple(_LETTERS.findall(named.lower())), quote)]

"""Claimed but not done: a reply states an action as done that no earlier successful call did.

A claim (`monitors/audit/text.py`) names a family of tool verbs that could have done it and the words
of what it was done to ("three checked bags have been added": bags). It is done when an earlier
successful call of the family also names that thing. Which words count is read from the agent's own
tools, not from a word list of any domain: a word of the claim counts only when the session's calls
(tool names, argument keys and values, answers) or the tool names the agent called in other sessions
use it, so "your booking has been updated" imposes nothing for an agent whose tools say
"reservation", while "bags have been added" does for one with `update_reservation_baggages`. Words
match by a plural-only stem as a prefix (bags -> bag matches baggages).

A counted word is matched by the name or the argument keys and values of a call of the family, and by
the values of its answer (the passengers of the reservation it upgraded), not its keys: an
`update_reservation_flights` answer carries `total_baggages` without adding a bag. A call that ends
something (cancel, delete, remove) ends all its answer lists, keys included ("the flight has been
cancelled" after `cancel_reservation`).

Claims of file work ("I fixed the failing test") name the problem rather than the file an edit names:
any call of the family does them. A shell command can create or fix anything, so a claim of a family
that edits is done after one, whatever it names (code agents).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from monitors.audit.checks import Issue
from monitors.audit.operations import DEFAULT_OPERATIONS, operation_of
from monitors.audit.sequence import ACTION, MESSAGE, ToolCall, excerpt, message_text, normalize_args
from monitors.audit.text import FILE_WORK, Claim, claims

_LETTERS = re.compile(r"[a-z]+")
MAX_PREFIX = 40  # letters of a word indexed as prefixes: longer than any word a claim names
MIN_STEM = 3  # shorter stems ("id", "to") prefix too many words to say anything
# Words that say nothing about which thing was acted on: function words, quantities, words for "the
# whole request", and money (a total or a price in a claim is what it cost, not what was done).
GENERIC = frozenset({
    "the", "a", "an", "your", "my", "our", "their", "his", "her", "its", "this", "that", "these", "those",
    "all", "both", "each", "every", "any", "some", "new", "now", "also", "successfully", "already", "just",
    "additionally", "further", "furthermore", "then", "again", "here", "there", "which", "what",
    "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "single", "another", "other",
    "first", "second", "third", "last", "next", "extra", "additional",
    "request", "requests", "change", "changes", "details", "detail", "information", "everything",
    "something", "item", "items", "it", "them", "they", "you", "we", "i", "he", "she",
    "total", "price", "prices", "cost", "costs", "amount", "fee", "fees", "charge", "charges", "balance",
    "payment", "payments", "refund", "refunds", "difference", "sum", "method", "methods",
})  # fmt: skip


def _stem(word: str) -> str:
    """A plural made singular, crudely: "bags" -> "bag" prefixes `baggages`. Other endings are kept: a
    booking is not a call to `book_*`, and "-ing" nouns rarely name their verb's tool."""
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("sses", "xes", "ches", "shes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us")) and len(word) > MIN_STEM:
        return word[:-1]
    return word


def _tokens(value: Any) -> set[str]:
    text = value if isinstance(value, str) else normalize_args(value)
    return set(_LETTERS.findall(text.lower()))


class _Prefixes:
    """Every prefix of the words added (up to MAX_PREFIX letters): "does any word start with this stem?"
    is one set look-up, and words are added a call at a time, never re-sorted for the next claim (a
    session of thousands of claims costs time in proportion to its length, not its square). A stem
    longer than MAX_PREFIX letters is matched by its first MAX_PREFIX."""

    def __init__(self, words: Iterable[str] = ()) -> None:
        self._prefixes: set[str] = set()
        self.add(words)

    def add(self, words: Iterable[str]) -> None:
        for word in words:
            self._prefixes.update(word[:n] for n in range(1, min(len(word), MAX_PREFIX) + 1))

    def has_prefix(self, stem: str) -> bool:
        return stem[:MAX_PREFIX] in self._prefixes


def _named(call: ToolCall) -> set[str]:
    """What a call names: its tool name and its argument keys and values."""
    return _tokens(call.name.replace("_", " ")) | _tokens(call.args)


_KEY = re.compile(r'"[^"\\]*"\s*:')
_ENDS = frozenset({"cancel", "delete", "remove"})


def _answered(call: ToolCall) -> set[str]:
    """What a call's answer says the thing now holds: its values (the passengers, the cabin), not its keys
    (every reservation has `total_baggages`), unless the call ended the thing (cancel, delete,
    remove): then it ended everything the answer lists."""
    if call.output is None:
        return set()
    text = call.output if isinstance(call.output, str) else normalize_args(call.output)
    verb = call.name.lower().replace("-", "_").split("_")[0]
    return _tokens(text if verb in _ENDS else _KEY.sub(" ", text))


def _could_do(call: ToolCall, verbs: Sequence[str]) -> bool:
    name = call.name.lower()
    words = set(name.replace("-", "_").split("_"))
    return any(name.startswith(v) or v in words for v in verbs)


def _undone(claim: Claim, covered: _Prefixes, vocabulary: _Prefixes) -> list[str]:
    """The claim's words that the session uses but no call of the family names (empty when done).
    `covered` holds what the family's calls name; `vocabulary` what the session's calls do.

    Claims of file work ("I fixed the failing test") name the problem, not the file an edit names, so
    any call of the edit family does them, as before."""
    if claim.verbs == FILE_WORK:
        return []
    stems = {_stem(w) for w in claim.object_words if w not in GENERIC and len(w) >= MIN_STEM}
    return sorted(s for s in stems if vocabulary.has_prefix(s) and not covered.has_prefix(s))


@dataclass
class _Family:
    """The successful calls so far that could do a claim's verbs: how many, and the words they name."""

    calls: int = 0
    words: _Prefixes = field(default_factory=_Prefixes)
    read: int = 0  # calls of the session's successful calls already looked at


class _Calls:
    """The session's calls before the reply being read, each read into words once, however many claims
    follow it."""

    def __init__(self, toolset: Iterable[str], operations: dict[str, str]) -> None:
        self.done: list[tuple[ToolCall, set[str]]] = []  # successful actions, with what each names
        self.shell = False  # a successful shell command came before (it can fix or create anything)
        # Words of the agent's tools and of every call before the reply: the session's vocabulary so far.
        self.vocabulary = _Prefixes(w for name in toolset for w in _tokens(name.replace("_", " ")))
        self._families: dict[tuple[str, ...], _Family] = {}
        self._operations = operations

    def add(self, call: ToolCall) -> None:
        named = _named(call)
        self.vocabulary.add(named | _tokens(call.output or ""))
        if not call.is_error:
            self.done.append((call, named))
            self.shell = self.shell or operation_of(call.name, call.args, self._operations) == "exec"

    def family(self, verbs: tuple[str, ...]) -> _Family:
        family = self._families.setdefault(verbs, _Family())
        for call, named in self.done[family.read :]:
            if _could_do(call, verbs):
                family.calls += 1
                family.words.add(named | _answered(call))
        family.read = len(self.done)
        return family


def find_claimed_not_done(
    calls: Sequence[ToolCall],
    *,
    operations: dict[str, str] = DEFAULT_OPERATIONS,
    toolset: Iterable[str] = (),
) -> list[Issue]:
    """Replies claiming an action as done when no earlier successful call could have done it, or none
    of those that could names what the claim says was done.

    `toolset` is the tool names the agent is known to have (its calls in other sessions): their words
    join the session's vocabulary, so a claim about bags counts in a session whose own answers were cut
    before they said `total_baggages`, when the agent has an `update_reservation_baggages` tool.
    """
    issues: list[Issue] = []
    seen = _Calls(toolset, operations)
    for call in calls:
        if call.role == ACTION:
            seen.add(call)
            continue
        if call.role != MESSAGE:
            continue
        for claim in claims(message_text(call)):
            if seen.shell and "edit" in claim.verbs:
                continue  # a shell command can create or fix anything; a file claim is plausible after one
            family = seen.family(claim.verbs)
            tools = "/".join(claim.verbs[:3])
            if not family.calls:
                detail = f'#{call.step} says "{excerpt(claim.text, 50)}" but no successful {tools} call came before'
            else:
                missing = _undone(claim, family.words, seen.vocabulary)
                if not missing:
                    continue
                detail = (
                    f'#{call.step} says "{excerpt(claim.quote, 60)}" but no successful {tools} call before '
                    f"names {', '.join(missing)}"
                )
            issues.append(Issue("claimed_not_done", (call.step,), detail))
            break
    return issues

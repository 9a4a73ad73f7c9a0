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

import bisect
import re
from collections.abc import Iterable, Sequence
from typing import Any

from monitors.audit.checks import Issue
from monitors.audit.operations import DEFAULT_OPERATIONS, operation_of
from monitors.audit.sequence import ACTION, MESSAGE, ToolCall, excerpt, message_text, normalize_args
from monitors.audit.text import FILE_WORK, Claim, claims

_LETTERS = re.compile(r"[a-z]+")
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


class _Vocabulary:
    """Sorted tokens, for "does any token start with this stem?" in a logarithmic look-up."""

    def __init__(self, tokens: Iterable[str]) -> None:
        self._sorted = sorted(set(tokens))

    def has_prefix(self, stem: str) -> bool:
        i = bisect.bisect_left(self._sorted, stem)
        return i < len(self._sorted) and self._sorted[i].startswith(stem)


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


def _shell_edit(call: ToolCall, verbs: Sequence[str], operations: dict[str, str]) -> bool:
    # A shell command can create or fix anything; a file claim is plausible after one.
    return "edit" in verbs and operation_of(call.name, call.args, operations) == "exec"


def _undone(claim: Claim, family: Sequence[ToolCall], vocabulary: _Vocabulary) -> list[str]:
    """The claim's words that the session uses but no call of the family names (empty when done).

    Claims of file work ("I fixed the failing test") name the problem, not the file an edit names, so
    any call of the edit family does them, as before."""
    if claim.verbs == FILE_WORK:
        return []
    stems = {_stem(w) for w in claim.object_words if w not in GENERIC and len(w) >= MIN_STEM}
    stems = {s for s in stems if vocabulary.has_prefix(s)}
    if not stems:
        return []
    covered = [_Vocabulary(_named(call) | _answered(call)) for call in family]
    return sorted(s for s in stems if not any(v.has_prefix(s) for v in covered))


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
    done: list[ToolCall] = []
    actions: list[ToolCall] = []
    # Tokens of the agent's tools and of every call before the reply: the session's vocabulary so far.
    seen: set[str] = set().union(*(_tokens(name.replace("_", " ")) for name in toolset))
    read = 0  # calls of `actions` already read into `seen` (read only when a claim needs it)
    for call in calls:
        if call.role == ACTION:
            actions.append(call)
            if not call.is_error:
                done.append(call)
            continue
        if call.role != MESSAGE:
            continue
        for claim in claims(message_text(call)):
            if any(_shell_edit(c, claim.verbs, operations) for c in done):
                continue
            family = [c for c in done if _could_do(c, claim.verbs)]
            tools = "/".join(claim.verbs[:3])
            if not family:
                detail = f'#{call.step} says "{excerpt(claim.text, 50)}" but no successful {tools} call came before'
            else:
                for c in actions[read:]:
                    seen |= _named(c) | _tokens(c.output or "")
                read = len(actions)
                missing = _undone(claim, family, _Vocabulary(seen))
                if not missing:
                    continue
                detail = (
                    f'#{call.step} says "{excerpt(claim.quote, 60)}" but no successful {tools} call before '
                    f"names {', '.join(missing)}"
                )
            issues.append(Issue("claimed_not_done", (call.step,), detail))
            break
    return issues

"""What a conversation asks for and what the user answered: the "slots" of a support dialogue.

A slot is a piece of information an agent asks the user for: a user id, a reservation id, an email
address, a date of birth. Conversation loops in real support sessions are mostly about slots: the user
says they do not have the reservation id and the agent asks for it again, in other words each time,
so comparing whole replies by their words misses it. Reading slots is cheap (a few patterns per turn)
and needs no model:

- the user's turn is split into clauses; a clause that names a slot and says the user lacks it ("I
  don't have the reservation ID", "not sure about my user id") marks it *lacking*; a clause that
  names a slot next to an id-shaped value ("my user id is mia_li_3668") marks it *given*;
- an agent reply *asks* for a slot when the words just before the slot's name are a request
  ("could you provide your", "I need the", "once you have your") in the same sentence. "I can look
  up your user ID" mentions a slot without asking for it.

A reply that opens by asking for a slot the user lacks or already gave is a re-ask (a reply that
answers something new and reminds the user at its end is not); a reply that asks for a slot still
missing, asked at most once before, is a fair question, even when its wording repeats an earlier reply.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

# Slot names, keyed by their first word: "Reservation ID", "reservation number", "booking reference" ->
# "reservation"; "user name" -> "user".
_SLOT = re.compile(
    r"\b(user|reservation|booking|order|account|confirmation|customer|member(?:ship)?|ticket|passport)"
    r"[ _-]?(?:id|ids|number|code|reference|no\.?)\b"
    r"|\b(user ?name|e-?mail(?: address)?|zip code|postal code|date of birth|phone number|payment method)\b",
    re.IGNORECASE,
)
_SAME_SLOT = {"booking": "reservation", "confirmation": "reservation", "username": "user"}

# The user lacks it: "I don't have", "can't recall", "not sure about", "forgot", "lost".
_LACKS = re.compile(
    r"\b(?:don'?t|do not|doesn'?t|does not|can'?t|cannot|could not|couldn'?t|no longer|unable to)\s+"
    r"(?:\w+\s+){0,2}?(?:have|remember|recall|know|find|locate|access)\b"
    r"|\bnot sure (?:about|of|what)\b|\bforgot\b|\bforgotten\b|\blost\b|\bno idea\b",
    re.IGNORECASE,
)
# An id-shaped value: has a digit, is a code in capitals, or is an email address (olivia_gonzalez_2305,
# 3RK2T9, HXDUBJ, a@b.com). Case-sensitive: "HXDUBJ" is a code, "thanks" is not.
_VALUE = re.compile(r"\b(?=[\w.@-]*\d)[\w.@-]{5,}\b|\b[A-Z][A-Z0-9]{4,9}\b|\b[\w.+-]+@[\w-]+\.\w+\b")
_CLAUSE = re.compile(r"[.?!;\n]+|\bbut\b|\bhowever\b|\balthough\b", re.IGNORECASE)
_SENTENCE = re.compile(r"[.?!\n]+(?:\s|$)")
# Words right before a slot's name (same sentence, at most ASK_REACH characters) that request it.
# Not "have": "once you have the reservation ID" is a condition, not a request. "I cannot proceed
# without the reservation ID" and "this requires your user ID" ask for it as surely as "I need".
_ASK = re.compile(
    r"\b(?:provide|share|give|send|tell|need|know|confirm|what is|what's|enter|type|without|requires?)\b"
    r"(?:\s+(?:me|us|with|your|the|both|all|also|either|please))*\s+(?:[\w-]+\s+){0,6}$",
    re.IGNORECASE,
)
# ...or words after it that request it by pronoun: "once you have your user ID, please provide it".
_ASK_AFTER = re.compile(r"^[^.?!]{0,40}?\b(?:provide|share|give|send)\s+(?:them|it|those|these)\b", re.IGNORECASE)
ASK_REACH = 60
# A request that introduces a list ("I'll need the following information:" then "1. **User ID**: ...")
# asks for every slot the list names; the items carry no request words of their own.
_LIST_INTRO = re.compile(r"^[^.?!\n]*\b(?:need|provide|share|send|require)\b[^.?!\n]*:\s*$", re.IGNORECASE)
_COURTESY = re.compile(
    r"^\W*(?:I can (?:certainly |definitely )?(?:help|assist)|I(?:'d| would) be happy to help|I understand"
    r"|I apologi[sz]e|I'm sorry|thank you|thanks|sure|certainly|of course|absolutely)\b",
    re.IGNORECASE,
)
_ITEM = re.compile(r"^\s*(?:[-*\u2022]|\d+[.)])\s+")
# A clause that names no slot but points back at what was just asked: "I don't have it", "Sure, it's
# sofia_kim_7287". A plural ("I don't have them") points at every slot asked, a singular at the one.
_PRONOUN = re.compile(r"\b(?:it|that|this|them|those|these|either|any of|one)\b", re.IGNORECASE)
_PLURAL = re.compile(r"\b(?:them|those|these|either|any of|both|neither)\b", re.IGNORECASE)


def _key(match: re.Match[str]) -> str:
    """The slot's first word ("date of birth" -> "date", "e-mail address" -> "email"), with synonyms merged."""
    word = (match.group(1) or match.group(2)).lower().replace("-", "").split()[0]
    return _SAME_SLOT.get(word, word)


def slots_in(text: str) -> set[str]:
    """The slots a text names (normalised keys such as "user", "reservation", "email")."""
    return {_key(m) for m in _SLOT.finditer(text)}


def _listed(reply: str, *, opening_only: bool) -> set[str]:
    """Slots named in a list that a request introduces (at the very start of the reply when
    `opening_only`)."""
    lines = [line for line in reply.splitlines() if line.strip()]
    asked: set[str] = set()
    for k, line in enumerate(lines[:1] if opening_only else lines):
        if _LIST_INTRO.search(line):
            for item in lines[k + 1 :]:
                if not _ITEM.match(item):
                    break
                asked |= slots_in(item)
    return asked


def asked_slots(reply: str, *, opening_only: bool = False) -> set[str]:
    """Slots the reply asks the user for (not ones it merely mentions), in its first sentence (or the
    list that sentence introduces) only when `opening_only`."""
    if not _SLOT.search(reply):
        return set()  # most replies name no slot: nothing to read
    reply = reply.replace("\u2019", "'")
    asked = _listed(reply, opening_only=opening_only)
    sentences = [s for s in _SENTENCE.split(reply) if s.strip()]
    if opening_only:
        # A courtesy first ("I can assist you with canceling your reservation.") answers nothing new:
        # the request after it is still how the reply opens.
        sentences = sentences[: 2 if sentences and _COURTESY.match(sentences[0]) else 1]
    for sentence in sentences:
        for match in _SLOT.finditer(sentence):
            before = sentence[max(0, match.start() - ASK_REACH) : match.start()]
            if _ASK.search(before) or _ASK_AFTER.search(sentence[match.end() :]):
                asked.add(_key(match))
    return asked


@dataclass(slots=True)
class SlotState:
    """What the user has said about each slot so far in a stretch of the conversation."""

    lacking: set[str] = field(default_factory=set)
    given: set[str] = field(default_factory=set)
    asked: Counter[str] = field(default_factory=Counter)  # times the agent asked for each slot

    def read_user(self, text: str, asked: set[str] | frozenset[str] = frozenset()) -> None:
        """Update from the user's turn: clauses that say a slot is lacking or give its value. A clause
        that names no slot refers to the `asked` slots (what the reply before it asked for) when it
        points back at them ("I don't have it") or gives a value after a one-slot question."""
        for clause in _CLAUSE.split((text or "").replace("\u2019", "'")):
            named = slots_in(clause) or _referred(clause, asked)
            if not named:
                continue
            if _LACKS.search(clause):
                self.lacking |= named
                self.given -= named
            elif _VALUE.search(clause):
                self.given |= named
                self.lacking -= named

    def reasked(self, reply: str) -> set[str]:
        """Slots the reply opens by asking for although the user lacks or gave them. A re-ask later in
        a reply that answers something else is a reminder, not a wasted turn."""
        known = self.lacking | self.given
        return asked_slots(reply, opening_only=True) & known if known else set()

    def fair_ask(self, asked: set[str]) -> bool:
        """The reply asking for `asked` asks for a slot the user has said nothing about yet, asked at most
        once before (the user may have answered only part of a first question; a third ask is not fair)."""
        return any(self.asked[s] < 2 for s in asked - self.lacking - self.given)


def says_lacking(text: str) -> bool:
    """Does a user's turn say they lack something (whatever it is)? A cheap test before reading it."""
    return bool(_LACKS.search((text or "").replace("\u2019", "'")))


def _referred(clause: str, asked: set[str] | frozenset[str]) -> set[str]:
    """The asked slots a clause naming none refers to: all of them for "I don't have them", the one
    asked for "I don't have it" or "it's mia_li_3668"; none when it is unclear which."""
    if not asked:
        return set()
    if _LACKS.search(clause) and _PRONOUN.search(clause):
        return set(asked) if len(asked) == 1 or _PLURAL.search(clause) else set()
    return set(asked) if len(asked) == 1 and _VALUE.search(clause) else set()


def reasks(turns: Iterable[tuple[str, str]], state: SlotState | None = None) -> list[tuple[int, frozenset[str], bool]]:
    """For (reply, user's answer) turns in order: (index, slots asked again, fair ask) per reply.

    A reply is judged on what the user said before it, then the user's answer to it is read. `state`
    carries what is known from before the turns (it is updated in place).
    """
    state = state if state is not None else SlotState()
    out: list[tuple[int, frozenset[str], bool]] = []
    for i, (reply, answer) in enumerate(turns):
        asked = asked_slots(reply)
        out.append((i, frozenset(state.reasked(reply)), state.fair_ask(asked)))
        state.asked.update(asked)
        state.read_user(answer, asked)
    return out

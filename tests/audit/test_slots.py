"""Slots of a support dialogue: what the agent asks for, what the user lacks or gave.

Texts are from the tau-bench airline sessions in data/agent_trajectories (gpt-4o and its simulated
user), trimmed.
"""

from __future__ import annotations

import pytest

from monitors.audit.slots import SlotState, asked_slots, reasks, says_lacking, slots_in


@pytest.mark.parametrize(
    ("text", "slots"),
    [
        ("user name, username, User ID", {"user"}),
        ("reservation ID, booking reference, confirmation number", {"reservation"}),
        ("your e-mail address or Email", {"email"}),
        ("date of birth and payment method", {"date", "payment"}),
        ("Your flight HAT266 departs at 13:00.", set()),
    ],
)
def test_slot_names_are_normalised(text, slots):
    assert slots_in(text) == slots


ASK_CASES = [
    ("Could you please provide your user ID and the reservation ID?", {"user", "reservation"}),
    ("Unfortunately, I need the reservation ID to proceed with modifying your flight.", {"reservation"}),
    ("Once you have your user ID and reservation ID, please provide them to me.", {"user", "reservation"}),
    ("Please confirm which payment method you'd like to use for the additional cost.", {"payment"}),
    ("Unfortunately, I cannot proceed with the cancellation without the reservation ID.", {"reservation"}),
    ("Modifying a booking requires your user ID and the reservation ID.", {"user", "reservation"}),
    # a request introducing a list (task008-trial0, dev): the list items are asked for
    ("To proceed with canceling, I'll need the following information:\n\n1. **User ID**: Your user ID to access "
     "your profile.\n2. **Reservation ID**: The reservation ID of the booking.\n\nOnce I have this, I can help.",
     {"user", "reservation"}),
    # a list that answers rather than asks
    ("Here are your reservations:\n\n1. Reservation ID: NM1VX1\n2. Reservation ID: KC18K6", set()),
    # mentions, not asks
    ("If you can provide your email address or any other information associated with your profile, "
     "I can look up your user ID.", {"email"}),
    ("Certainly! Once you have the reservation ID, we can proceed with the modifications.", set()),
    ("I found your reservation with ID **3FRNFB** for flights from MCO to CLT.", set()),
]  # fmt: skip


@pytest.mark.parametrize(("reply", "asked"), ASK_CASES, ids=[c[0][:40] for c in ASK_CASES])
def test_asks_are_told_from_mentions(reply, asked):
    assert asked_slots(reply) == asked


USER_CASES = [
    ("I don't have the reservation ID with me, is it possible to look it up another way?", {"reservation"}, set()),
    ("I don\u2019t have my user ID or reservation ID with me right now.", {"user", "reservation"}, set()),
    ("I know my user ID, it's olivia_gonzalez_2305. But I don\u2019t remember my reservation ID.",
     {"reservation"}, {"user"}),
    ("I'm not sure about the reservation ID, but my username is aarav_ahmed_6699.", {"reservation"}, {"user"}),
    ("Sure, my reservation ID is HXDUBJ.", set(), {"reservation"}),
    ("My email address is yara_garcia_1905@gmail.com.", set(), {"email"}),
    ("I need to cancel due to a change of plans.", set(), set()),
]  # fmt: skip


@pytest.mark.parametrize(("answer", "lacking", "given"), USER_CASES, ids=[c[0][:40] for c in USER_CASES])
def test_the_user_lacks_or_gives_a_slot(answer, lacking, given):
    state = SlotState()
    state.read_user(answer)
    assert (state.lacking, state.given) == (lacking, given)


def test_a_slot_found_later_is_given_not_lacking():
    state = SlotState()
    state.read_user("I can't recall the reservation ID at the moment.")
    state.read_user("I've found it in my email. The reservation ID is GV1N64.")
    assert (state.lacking, state.given) == (set(), {"reservation"})


def test_reasks_judge_each_reply_on_what_the_user_said_before_it():
    turns = [
        ("Could you please provide your user ID and the reservation ID?", "I don't have the reservation ID."),
        ("Unfortunately, I need the reservation ID to proceed.", "I really don't have it."),
        # The re-ask is a reminder at the end of a reply that answers something new: not a re-ask.
        ("Here are the changes you asked for: 3 bags, economy. Once you have your reservation ID, please provide it.",
         "Thanks."),
        ("Could you please provide your user ID as well?", "It is mia_li_3668."),
    ]  # fmt: skip
    assert [(again, fair) for _, again, fair in reasks(turns)] == [
        (frozenset(), True),  # the first ask
        (frozenset({"reservation"}), False),  # asked again after the user said they lack it
        (frozenset(), False),
        (frozenset(), True),  # the user id is still missing and was asked once: a fair ask
    ]


def test_a_listed_request_opens_a_reply_only_when_it_comes_first():
    listed = "I'll need the following details:\n- your user ID\n- the reservation ID"
    assert asked_slots(listed, opening_only=True) == {"user", "reservation"}
    later = "Basic economy cannot be changed.\nTo cancel instead, I'll need the following:\n- the reservation ID"
    assert asked_slots(later, opening_only=True) == set()
    assert asked_slots(later) == {"reservation"}


@pytest.mark.parametrize(
    ("reply", "asked"),
    [
        # task001-trial0 (dev): a courtesy, then the ask the user already said they cannot answer
        ("I can assist you with canceling your reservation since you have travel insurance. Please provide "
         "your user ID and the reservation ID.", {"user", "reservation"}),
        # an answer first: the ask after it is a reminder, not how the reply opens
        ("Basic economy flights cannot be modified. Please provide the reservation ID if you want to cancel.",
         set()),
    ],
)  # fmt: skip
def test_a_courtesy_does_not_hide_the_opening_ask(reply, asked):
    assert asked_slots(reply, opening_only=True) == asked


def test_a_third_ask_for_a_missing_slot_is_not_fair():
    ask = "To proceed, I need the reservation ID."
    assert [fair for *_, fair in reasks([(ask, "Hello?"), (ask, "What?"), (ask, "Hm.")])] == [True, True, False]


# The user's turn names no slot but answers the question just asked (fourth round): what it refers to is
# the slots that question asked for, when that is clear.
REFERRED_CASES = [
    ("I'm sorry, I don't have those with me right now.", {"user", "reservation"}, {"user", "reservation"}, set()),
    ("Je m'excuse, I can't seem to find it right now.", {"reservation"}, {"reservation"}, set()),
    ("Sure, it's sofia_kim_7287.", {"user"}, set(), {"user"}),
    ("It's the first one, UM3OG5.", {"reservation"}, set(), {"reservation"}),
    # must not read: which of two slots "it" is, a value when two were asked, a lack of something else
    ("Sorry, I don't have it.", {"user", "reservation"}, set(), set()),
    ("It's 3RK2T9.", {"user", "reservation"}, set(), set()),
    ("I don't have specific reasons to share.", {"user"}, set(), set()),
    ("I don't have it.", set(), set(), set()),
]  # fmt: skip


@pytest.mark.parametrize(
    ("answer", "asked", "lacking", "given"), REFERRED_CASES, ids=[c[0][:40] for c in REFERRED_CASES]
)
def test_an_answer_naming_no_slot_refers_to_what_was_asked(answer, asked, lacking, given):
    state = SlotState()
    state.read_user(answer, asked)
    assert (state.lacking, state.given) == (lacking, given)


@pytest.mark.parametrize(
    ("answer", "lacks"),
    [("I don't remember it.", True), ("Unfortunately, I'm not sure about that.", True), ("It's ORD.", False)],
)
def test_says_lacking_is_the_cheap_test_before_reading(answer, lacks):
    assert says_lacking(answer) is lacks

"""Conversation loops, monologue and claimed-but-not-done on real-shaped sessions: flagged and legitimate.

Reply texts follow the tau-bench airline sessions in data/agent_trajectories (gpt-4o answering a
simulated user); the tool names are that domain's.
"""

from __future__ import annotations

import pytest

from monitors.audit.conversation import (
    EmbeddingSimilarity,
    exact_similarity,
    find_claimed_not_done,
    find_conversation_loops,
    find_monologue,
    lexical_similarity,
)
from monitors.audit.sequence import Generation, make_call


def talk(*turns):
    """Calls from ("say", text, user_reply) / ("call", name, args, output[, error]) / ("think", text)."""
    calls = []
    for i, turn in enumerate(turns, 1):
        if turn[0] == "say":
            calls.append(make_call(i, "respond", {"content": turn[1]}, turn[2] if len(turn) > 2 else "ok"))
        elif turn[0] == "think":
            calls.append(make_call(i, "think", {"thought": turn[1]}, ""))
        else:
            calls.append(make_call(i, turn[1], turn[2], turn[3], is_error=len(turn) > 4 and turn[4]))
    return calls


ASK_IDS = "I can help you with that. Could you please provide your user ID and the reservation ID?"
NEED_ID = "Unfortunately, I need the reservation ID to access and modify your reservation. Please check your email."
NEED_ID_AGAIN = "To proceed, I need the reservation ID. Please check your email or account for the reservation ID."
BYE = "You're welcome! Feel free to reach out whenever you have the reservation ID. Have a great day!"
BYE_AGAIN = "You're welcome! If you need anything else, feel free to reach out. Have a great day!"
LOOKUP = ("call", "get_user_details", {"user_id": "mia_li_3668"}, '{"reservations": ["K1NW8N"]}')

LOOP_CASES = [
    # (id, calls, wasted steps)
    ("asks again for what the user does not have, then goodbyes", talk(
        ("say", ASK_IDS, "I don't have the reservation ID."), ("say", NEED_ID, "I really don't have it."),
        ("say", NEED_ID_AGAIN, "I'll look for it."), ("say", BYE, "Thanks!"), ("say", BYE_AGAIN, "Bye!")), [2, 3, 5]),
    ("a think between replies does not break the stretch", talk(
        ("say", ASK_IDS), ("say", NEED_ID), ("think", "user has no id"), ("say", NEED_ID_AGAIN),
        ("say", BYE), ("say", BYE_AGAIN)), [4, 6]),
    ("must not fire: each reply answers a new question", talk(
        ("say", ASK_IDS), LOOKUP,
        ("say", "Your reservation K1NW8N is a basic economy round trip from JFK to SFO on May 26."),
        ("say", "Basic economy tickets cannot be modified, but they can be upgraded to economy first."),
        ("say", "The upgrade costs $120 for both passengers; shall I charge the card ending in 7447?")), []),
    ("must not fire: a tool call between the same question", talk(
        ("say", NEED_ID), LOOKUP, ("say", NEED_ID_AGAIN), LOOKUP, ("say", NEED_ID)), []),
    ("must not fire: one repeat only", talk(
        ("say", ASK_IDS), ("say", NEED_ID), ("say", NEED_ID_AGAIN), ("say", "Thanks, found it.")), []),
    ("must not fire: two replies are not a stretch", talk(("say", BYE), ("say", BYE_AGAIN), LOOKUP), []),
]  # fmt: skip


REFUSE = [
    "Unfortunately, the policy is strict: basic economy flights get a full refund only with travel insurance "
    "for a covered reason, and a personal commitment is not one.",
    "I understand, but I am unable to process a full refund for a basic economy flight cancellation due to a "
    "personal commitment; the policy does not allow it.",
    "Given the policy, I am unable to process a full refund for your basic economy flight cancellation due to "
    "a personal commitment.",
    "I understand your concern, but the policy for basic economy flights is strict, and a full refund is not "
    "possible for a personal commitment.",
    "I understand the urgency, but I am unable to make exceptions: a full refund for a basic economy flight "
    "cancellation due to a personal commitment is not possible under the policy.",
]
PUSH = "I really need a full refund. Is there any other way you could check?"
SILVER = [
    "You are a silver member with an economy reservation: 2 free checked bags per passenger, 4 in total.",
    "You are currently a silver member. With an economy reservation you get 2 free checked bags per passenger.",
    "You are confirmed as a silver member: with an economy reservation, 4 free checked bags in total.",
]

# Shapes read in the dev sessions of data/audit_labels (tau-bench task016-trial2, task039-trial0,
# task044-trial0, task024-trial0, task005-trial3), trimmed.
SESSION_CASES = [
    ("no tool call at all: asks again for ids the user said they do not have", talk(
        ("say", "I can assist with compensation. Could you please provide your user ID and reservation ID?",
         "I don't have my user ID or reservation ID with me right now. Can you still help me?"),
        ("say", "I need the user ID and reservation ID to verify your eligibility for compensation.",
         "Alright. I would appreciate any form of compensation, like a voucher."),
        ("say", "Once you have your user ID and reservation ID, please provide them to me.",
         "Thank you, I'll look for those details."),
        ("say", "You're welcome! Once you have the details, feel free to reach out.", "Bye.")), [2, 3]),
    ("the same refusal restated past the user's second question", talk(
        *[("say", text, PUSH) for text in REFUSE]), [4, 5]),
    # (the second refusal's wording is too far from the first for the word-overlap measure: 2 is missed)
    ("the same refusal when the user asks nothing: no restatement is excused", talk(
        *[("say", text, "I really need a full refund.") for text in REFUSE]), [3, 4, 5]),
    ("must not fire: a fact restated because the user asked to check again, twice", talk(
        ("say", SILVER[0], "I thought I was a gold member. Could you check again?"),
        ("say", SILVER[1], "Could you double-check if there's any chance I'm a gold member?"),
        ("say", SILVER[2], "I see, but what's the number in digits?"),
        ("say", "You can take a total of 4 free checked bags.", "Great, thanks!")), []),
    ("must not fire: asks for the id still missing after the user gave the other", talk(
        ("say", "I can help you with that. Could you please provide your user ID and the reservation ID?",
         "Sure, my reservation ID is HXDUBJ."),
        ("say", "Could you please provide your user ID so I can access your reservation details?",
         "I'm sorry, but I don't remember my user ID at the moment."),
        ("say", "No problem! If you can provide your email address, I can look up your user ID.",
         "My email address is yara_garcia_1905@gmail.com.")), []),
    ("must not fire: a reminder at the end of replies that answer something new", talk(
        ("say", "I can help you with that. Could you please provide your user ID and the reservation ID?",
         "My user ID is omar_rossi_1241. Unfortunately, I don't have my reservation ID with me right now."),
        ("say", "To proceed with modifying your flight, I'll need the reservation ID. It is in your confirmation "
         "email.", "Can I tell you what changes I'd like to make once I have the reservation ID?"),
        ("say", "Certainly! Please let me know what changes you'd like to make, and once you have the "
         "reservation ID, we can proceed.", "I'd like to add 3 checked bags and upgrade to economy."),
        ("say", "Here are the changes: 1. Add 3 checked bags. 2. Upgrade to economy. Once you have your "
         "reservation ID, please provide it.", "I prefer a gift card for payment. Is that possible?"),
        ("say", "Yes, you can use a gift card stored in your profile. Let me know when you're ready!",
         "Thanks!")), []),
    # task005-trial2 (dev): "No problem!" opens an ask, not a goodbye; the one goodbye at the end echoes
    # the re-ask before it and is still not a repeat.
    ("must not fire: one re-ask, then the first goodbye echoing it", talk(
        ("say", "It seems there is a misunderstanding: UM3OG5 is a round trip from SEA to DFW. Is there another "
         "reservation for your New York to Chicago trip?", "Sorry, I don't have the reservation ID for that trip."),
        ("say", "No problem! If you can provide any details about the trip, such as the date of travel, I can "
         "help you locate the correct reservation.", "I can't recall the date. Is there any other way?"),
        ("say", "I recommend checking your email for booking confirmations or logging into your account.",
         "I'll check. Can I add 3 checked bags and upgrade to economy for that trip?"),
        ("say", "To proceed with these changes, I'll need the reservation ID for the New York to Chicago trip. "
         "Once you have it, please provide it here.", "Can I use a gift card for the payment?"),
        ("say", "Yes, you can use a gift card. Once you have the reservation ID, we can handle the payment.",
         "Great, I'll get the reservation ID and reach out soon."),
        ("say", "You're welcome! Feel free to reach out whenever you have the reservation ID, and I'll be here "
         "to assist you with the changes. Have a great day!", "Thank you, you too!")), []),
    # task008-trial3 (dev): no call at all; a re-ask for each slot the user lacks, then a second goodbye.
    ("asks again for each id the user lacks, then a second goodbye", talk(
        ("say", "I can help you with that. To proceed, I'll need your user ID and the reservation ID of the "
         "booking you'd like to modify.", "Sorry, I don't have the reservation ID right now."),
        ("say", "Unfortunately, I cannot proceed without the reservation ID. Please check your email and let me "
         "know when you have it.", "Is there a way to see the price difference if I book a new one?"),
        ("say", "To check the price difference, could you please provide your user ID, trip type, origin and "
         "destination?", "Same as my current booking, but I don't have my user ID on hand."),
        ("say", "I need the user ID to access your profile and your payment methods. Please provide it when "
         "you have it.", "Could you remind me how to use my certificates?"),
        ("say", "Certainly! You can use at most one travel certificate and up to three gift cards per "
         "reservation.", "Thanks! I'll reach out once I have my user ID."),
        ("say", "You're welcome! Feel free to reach out whenever you're ready. Have a great day!",
         "Thank you! Talk to you soon."),
        ("say", "You're welcome! Talk to you soon. Safe travels!", "Bye.")), [2, 4, 7]),
]  # fmt: skip


@pytest.mark.parametrize(("calls", "wasted"), [c[1:] for c in SESSION_CASES], ids=[c[0] for c in SESSION_CASES])
def test_conversation_loops_in_real_shaped_sessions(calls, wasted):
    issues = find_conversation_loops(calls, lexical_similarity)
    assert sorted(s for i in issues for s in i.steps) == wasted


@pytest.mark.parametrize(("calls", "wasted"), [c[1:] for c in LOOP_CASES], ids=[c[0] for c in LOOP_CASES])
def test_conversation_loops(calls, wasted):
    issues = find_conversation_loops(calls, lexical_similarity)
    assert sorted(s for i in issues for s in i.steps) == wasted


def test_loop_finding_quotes_the_repeated_reply():
    (issue,) = find_conversation_loops(LOOP_CASES[0][1], lexical_similarity)
    assert issue.detail.startswith("3 replies repeat an earlier reply")
    assert '#2 "Unfortunately, I need the reservation ID' in issue.detail
    assert '#3 "To proceed, I need the reservation ID.' in issue.detail
    assert issue.related == (1, 4)  # the first ask for the id, the first goodbye


def test_embedding_similarity_finds_the_same_loop_and_loads_lazily():
    similarity = EmbeddingSimilarity()
    assert find_conversation_loops(LOOP_CASES[3][1], similarity) == [] and not similarity.loaded
    (issue,) = find_conversation_loops(LOOP_CASES[0][1], similarity, threshold=0.8)
    assert similarity.loaded and similarity.embedded == 5
    # Embeddings weigh meaning over wording: the re-asks repeat the opening ask; the first reply never.
    assert len(issue.steps) >= 2 and set(issue.steps) <= {2, 3, 4, 5}


def gens(*texts, after=0):
    return [Generation(after, t, tokens=50, cost=0.001) for t in texts]


MONOLOGUE_CASES = [
    ("the same plan restated with no tool call", gens(
        "I will open the config file and check the timeout value.",
        "Let me open the config file and check the timeout value first.",
        "I will open the config file and check the timeout value now."), 2),
    ("must not fire: turns separated by tool calls", [
        Generation(0, "I will open the config file."), Generation(1, "I will open the config file."),
        Generation(2, "I will open the config file.")], 0),
    ("must not fire: a chain of thought that moves on", gens(
        "The test fails because the fixture is missing.", "The fixture lives in conftest.py under tests/.",
        "Adding the fixture there should make the import resolve."), 0),
]  # fmt: skip


@pytest.mark.parametrize(("turns", "wasted"), [c[1:] for c in MONOLOGUE_CASES], ids=[c[0] for c in MONOLOGUE_CASES])
def test_monologue(turns, wasted):
    found = find_monologue(turns, lexical_similarity)
    assert (len(found[0]) if found else 0) == wasted


CANCEL = ("call", "cancel_reservation", {"reservation_id": "3RK2T9"}, '{"status": "cancelled"}')
CLAIM_CASES = [
    ("claims a cancellation no call did", talk(
        ("say", ASK_IDS), ("call", "get_reservation_details", {"reservation_id": "3RK2T9"}, "{}"),
        ("say", "Your reservation has been successfully cancelled and the refund is on its way.")), [3]),
    ("claims an update after the update failed", talk(
        ("call", "update_reservation_baggages", {"reservation_id": "YAX4DR"}, "Error: payment", True),
        ("say", "I've added 2 checked bags to your reservation.")), [2]),
    ("claims a fix with no edit", talk(
        ("call", "open", "src/app.py", "1: x = 1"), ("say", "I have fixed the failing test in src/app.py.")), [2]),
    ("must not fire: the call came first", talk(
        CANCEL, ("say", "Your reservation has been successfully cancelled.")), []),
    ("must not fire: bags added through update_reservation_baggages", talk(
        ("call", "update_reservation_baggages", {"reservation_id": "YAX4DR"}, "{}"),
        ("say", "I've added 2 checked bags to your reservation.")), []),
    ("must not fire: a promise, not a claim", talk(
        ("say", "Once the reservation has been cancelled, the refund takes 5 to 7 business days."),
        ("say", "I will proceed with the cancellation if you confirm.")), []),
    ("must not fire: rebooked via update", talk(
        ("call", "update_reservation_flights", {"reservation_id": "OWZ4XL"}, "{}"),
        ("say", "You are now booked on a nonstop flight from Newark.")), []),
    ("must not fire: files created through a shell command", talk(
        ("call", "execute_bash", {"command": "cat > app.js <<EOF"}, "ok"),
        ("say", "I've created a complete Vue.js todo application.")), []),
]  # fmt: skip


@pytest.mark.parametrize(("calls", "flagged"), [c[1:] for c in CLAIM_CASES], ids=[c[0] for c in CLAIM_CASES])
def test_claimed_not_done(calls, flagged):
    assert [s for i in find_claimed_not_done(calls) for s in i.steps] == flagged


def test_exact_similarity_is_equality_after_normalising():
    assert exact_similarity(["a  b", "a b", "c"]) == [[1.0, 1.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 1.0]]

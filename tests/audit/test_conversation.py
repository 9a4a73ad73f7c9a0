"""Conversation loops, monologue and claimed-but-not-done on real-shaped sessions: flagged and legitimate.

Reply texts follow the tau-bench airline sessions in data/agent_trajectories (gpt-4o answering a
simulated user); the tool names are that domain's.
"""

from __future__ import annotations

import pytest

from monitors.audit.claimed import find_claimed_not_done
from monitors.audit.conversation import (
    EmbeddingSimilarity,
    exact_similarity,
    find_conversation_loops,
    find_monologue,
    is_closing,
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


# Fourth round: shapes of the dev loop replies the third-round audit missed (tau-bench task023-trial0,
# task039-trial0, task009-trial3), and of dev sessions labelled clean that the new rules must leave alone
# (task028-trial2, task038-trial2, task020-trial0), trimmed.
POLICY = [
    "Since your reservation is for a basic economy flight, it can only be cancelled if travel insurance was "
    "purchased and the condition is met. Fortunately, you have travel insurance, which allows for a full refund.",
    "Unfortunately, the policy is quite strict regarding cancellations for basic economy flights, and a full "
    "refund is only possible under specific conditions such as health or weather-related issues.",
    "I understand your situation, but unfortunately, I am unable to process a full refund for a basic economy "
    "flight cancellation due to personal commitments, as it does not meet the conditions.",
    "Given the constraints of the policy, I am unable to process a full refund for your basic economy flight "
    "cancellation due to personal commitments. The travel insurance only covers health or weather-related reasons.",
    "I understand your concern, but the policy for basic economy flights is quite strict, and exceptions for "
    "refunds are not typically made for personal commitments. The travel insurance you purchased only covers "
    "specific conditions.",
]
ASKS = [
    "I understand, but I'm really hoping for a full refund. Is there anything that can be done?",
    "I really need to get this sorted out with a full refund. Can you help me with that, please?",
    "I would prefer not to be transferred to another agent. Can you check if there's any other way to help me?",
    "I understand, but is there any exception or alternative way you could find to process this?",
    "I appreciate you explaining, but I really need this refund. Could you please double-check?",
]
NEED_USER = "To assist you with modifying your reservation, I need your user ID. Could you please provide it?"
SEARCH = ("call", "search_direct_flight", {"origin": "JFK", "destination": "SFO", "date": "2024-05-06"}, "[]")
BY_EMAIL = ("call", "find_user_id_by_email", {"email": "yara@example.com"}, '{"user_id": "yara_garcia_1905"}')
AFTER_SEARCH = [
    (
        "say",
        "There are no nonstop flights from JFK to SFO on May 6th. Would you like one-stop options?",
        "Let's change the return flight instead.",
    ),
    (
        "say",
        "To assist with changing your return flight, I'll need your user ID and the reservation ID.",
        "I still don't have my user ID, but the reservation ID is HXDUBJ.",
    ),
    (
        "say",
        "I need both your user ID and the reservation ID to proceed. Please provide your user ID when you have it.",
        "I'll make sure to find it.",
    ),
]

FOURTH_ROUND_CASES = [
    ("what the user lacks is remembered across a search that does not name it", talk(
        ("say", NEED_USER, "I apologize, but I don't have my user ID with me at the moment."),
        ("say", "I can search for nonstop flights. Which airport are you flying from?", "JFK, on the 6th."),
        SEARCH, *AFTER_SEARCH), [5, 6]),
    ("must not fire: a lookup whose answer names the slot may have filled it (one re-ask left)", talk(
        ("say", NEED_USER, "I apologize, but I don't have my user ID with me at the moment."),
        ("say", "No problem! If you can provide your email address, I can look up your user ID.",
         "It's yara@example.com."), BY_EMAIL, *AFTER_SEARCH), []),
    ("'I don't have those' lacks every slot asked for", talk(
        ("say", "Could you please provide your user ID and reservation ID?",
         "I'm sorry, I don't have those with me right now."),
        ("say", "Unfortunately, I need the user ID and reservation ID to access your booking.",
         "I'll see if I can find them. Are there nonstop flights on May 21 from EWR?"),
        ("say", "Sure. Could you please provide the destination airport code?", "ORD."),
        ("say", "To assist you with rebooking, I'll need your user ID and reservation ID.",
         "I'll try to find those.")), [2, 4]),
    ("a reply that only thanks and says goodbye is another goodbye", talk(
        ("say", ASK_IDS, "I don't have the reservation ID."), ("say", NEED_ID, "I'll look for it."),
        ("say", BYE, "Thanks, you too!"),
        ("say", "Thank you! Looking forward to assisting you soon. Have a great day!", "Talk soon.")), [2, 4]),
    ("must not fire: a thank-you that carries news is not a goodbye", talk(
        ("say", "You're welcome! Have a great day!", "One more thing: can you book the 7pm flight?"),
        ("say", "Thank you! Your reservation HATHAT is booked: HAT136 from JFK to ATL and HAT039 to SEA on May "
         "20, 3 checked bags, $305 paid with the certificate and the card ending in 7447. Have a great day!",
         "Perfect."),
        ("say", "Is there anything else I can help you with today?", "No, thanks.")), []),
    # (step 5 is no closer than 0.3 to any one earlier reply; nearly all its words were said before: without
    # that rule step 4 would be the session's only repeat and it would not be flagged)
    ("a refusal pieced together from earlier replies, past the user's second question", talk(
        *[("say", text, ask) for text, ask in zip(POLICY, ASKS, strict=True)]), [4, 5]),
    ("must not fire: a refusal restated for the user's first two questions, then a transfer", talk(
        ("say", "I'm sorry, but I cannot process a refund for travel insurance.",
         "I really need to cancel the insurance. Can you assist me with that?"),
        ("say", "I'm sorry, but once travel insurance is purchased, it cannot be canceled or refunded.",
         "Could you check if an exception can be made?"),
        ("say", "I'm unable to process a refund for travel insurance or make exceptions to this policy.",
         "Could I speak to a supervisor?"),
        ("call", "transfer_to_human_agents", {"summary": "insurance refund"}, "Transfer successful")), []),
    ("must not fire: a third question answered with something new", talk(
        ("say", "Unfortunately, checked bags cannot be removed once added to a reservation.",
         "Could you check again whether the bag can be removed?"),
        ("say", "I have checked again: the system does not allow removing checked bags from a reservation.",
         "Alright. Can I change the flight instead?"),
        ("say", "Yes, the flight can be changed. Please pick one of the nonstop flights listed below.",
         "HAT266, please. Can I pay with the same method as before?"),
        ("say", "Yes, you can use the same payment method as your original booking, the gift card.",
         "Great, go ahead.")), []),
]  # fmt: skip


@pytest.mark.parametrize(
    ("calls", "wasted"), [c[1:] for c in FOURTH_ROUND_CASES], ids=[c[0] for c in FOURTH_ROUND_CASES]
)
def test_conversation_loops_fourth_round(calls, wasted):
    issues = find_conversation_loops(calls, lexical_similarity)
    assert sorted(s for i in issues for s in i.steps) == wasted


@pytest.mark.parametrize(
    ("reply", "closing"),
    [
        ("Thank you! Looking forward to assisting you soon. Have a great day!", True),
        ("Thanks! I'll be here whenever you're ready. Have a wonderful day!", True),
        ("Thank you! Could you also send your email? Have a great day!", False),  # asks something
        ("The reservation is cancelled. Have a great day!", False),  # news, not thanks
        ("You're welcome! Take your time to find your user ID.", True),
    ],
)
def test_a_short_thanks_and_goodbye_closes(reply, closing):
    assert is_closing(reply) is closing


def test_the_pieced_together_refusal_is_close_to_no_single_reply():
    canon = [" ".join(t.split()).lower()[:200] for t in POLICY]
    assert max(lexical_similarity(canon)[4][:4]) < 0.4  # found by what it adds (almost nothing), not by a twin

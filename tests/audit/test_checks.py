"""Repeats, loops, error storms and runaway chains as pure functions: flagged and legitimate cases."""

from __future__ import annotations

from datetime import timedelta

import pytest

from monitors.audit.checks import find_error_storms, find_failure_runs, find_loops, find_repeats, find_runaway
from monitors.audit.text import DEFAULT_SOFT_FAILURES
from tests.audit.helpers import seq

READ_A = ("read_file", {"path": "a.py"}, "print(1)")

REPEAT_CASES = [
    # (id, calls, wasted steps)
    ("same read twice in a row", seq(READ_A, READ_A), [2]),
    ("args normalized: key order and whitespace", seq(
        ("search", {"q": "x  y", "n": 1}, "r"), ("search", {"n": 1, "q": "x y"}, "r")), [2]),
    ("@observe wrapper is the same call", seq(
        ("search", {"args": [], "kwargs": {"q": "x"}}, "r"), ("search", {"q": "x"}, "r")), [2]),
    ("three in a row", seq(READ_A, READ_A, READ_A), [2, 3]),
    ("different args is not a repeat", seq(READ_A, ("read_file", {"path": "b.py"}, "print(1)")), []),
    ("outside the step window, the answer changed", seq(
        READ_A, *[("ls", {"path": f"d{i}"}) for i in range(6)], ("read_file", {"path": "a.py"}, "print(2)")), []),
    ("outside both windows", seq(READ_A, *[("ls", {"path": f"d{i}"}) for i in range(20)], READ_A), []),
    ("retry after a transient error", seq(
        ("fetch", {"url": "u"}, "Error: 503", True), ("fetch", {"url": "u"}, "page")), []),
    # An identical retry that fails the same way learned nothing; one that fails differently did.
    ("identical retries failing the same way", seq(*[("fetch", {"url": "u"}, "Error: 503", True)] * 3), [2, 3]),
    ("identical retry failing differently", seq(
        ("fetch", {"url": "u"}, "Error: 503", True), ("fetch", {"url": "u"}, "Error: 404", True)), []),
    ("polling: the output changed", seq(
        ("job_status", {"id": 7}, "running"), ("job_status", {"id": 7}, "done")), []),
    ("re-listing a folder after a rename", seq(
        ("ls", {"path": "src"}, "a.py"), ("mv", {"src": "src/a.py", "dst": "src/b.py"}, ""),
        ("ls", {"path": "src"}, "a.py")), []),
    ("re-running a test after an edit", seq(
        ("python", "test.py", "FAIL"), ("edit", "3:3 x = 1", "ok"), ("python", "test.py", "FAIL")), []),
]  # fmt: skip


@pytest.mark.parametrize(("calls", "wasted"), [c[1:] for c in REPEAT_CASES], ids=[c[0] for c in REPEAT_CASES])
def test_repeats(calls, wasted):
    issues = find_repeats(calls)
    assert sorted(s for i in issues for s in i.steps) == wasted


# tau-bench task033-trial0 (dev), trimmed: flight searches re-run ten calls later, after cancelling
# another reservation, with the same answers (the business prices the upgrade needs were in them).
SEARCH_MSP = (
    "search_direct_flight",
    {"origin": "MSP", "destination": "EWR", "date": "2024-05-25"},
    '[{"flight_number": "HAT141", "prices": {"economy": 133, "business": 414}}]',
)
SEARCH_JFK = (
    "search_direct_flight",
    {"origin": "JFK", "destination": "ATL", "date": "2024-05-24"},
    '[{"flight_number": "HAT057", "prices": {"economy": 120, "business": 305}}]',
)
OTHER_LEGS = [
    ("search_direct_flight", {"origin": "EWR", "destination": f"X{i}", "date": "2024-05-25"}, f"[{i}]")
    for i in range(6)
]
CANCEL_OTHER = ("cancel_reservation", {"reservation_id": "S61CZX"}, '{"status": "cancelled"}')
FAR_CASES = [
    # (id, calls, wasted steps)
    ("far rerun, same answer, only an unrelated change between", seq(
        SEARCH_MSP, SEARCH_JFK, *OTHER_LEGS, CANCEL_OTHER, SEARCH_MSP, SEARCH_JFK), [10, 11]),
    ("must not fire: far rerun whose answer changed (seats sold since)", seq(
        SEARCH_MSP, *OTHER_LEGS, CANCEL_OTHER, (*SEARCH_MSP[:2], '[{"flight_number": "HAT141", "seats": 2}]')), []),
    ("must not fire: far re-read after a change to the same reservation", seq(
        ("get_reservation_details", {"reservation_id": "S61CZX"}, '{"status": "active"}'), *OTHER_LEGS,
        ("update_reservation_baggages", {"reservation_id": "S61CZX", "total_baggages": 2}, "{}"),
        ("get_reservation_details", {"reservation_id": "S61CZX"}, '{"status": "active"}')), []),
    ("must not fire: far retry of a call that had failed", seq(
        (*SEARCH_MSP[:2], "Error: timeout", True), *OTHER_LEGS, (*SEARCH_MSP[:2], "Error: timeout", True)), []),
    ("must not fire: the user asked to check again", seq(
        SEARCH_MSP, *OTHER_LEGS, ("respond", {"content": "No flights changed."}, "Could you check again?"),
        SEARCH_MSP), []),
]  # fmt: skip


@pytest.mark.parametrize(("calls", "wasted"), [c[1:] for c in FAR_CASES], ids=[c[0] for c in FAR_CASES])
def test_far_reruns_with_the_same_answer(calls, wasted):
    issues = find_repeats(calls)
    assert sorted(s for i in issues for s in i.steps) == wasted


def test_far_reruns_follow_the_time_window_when_timed():
    calls = seq(SEARCH_MSP, *OTHER_LEGS, CANCEL_OTHER, SEARCH_MSP, seconds=120)  # 16 minutes apart
    assert find_repeats(calls, window_seconds=timedelta(minutes=10)) == []
    assert find_repeats(calls, window_seconds=None, same_answer_steps=None) == []
    assert find_repeats(calls, window_seconds=None)[0].steps == (9,)


def test_repeat_window_uses_seconds_when_timed():
    calls = seq(READ_A, ("ls", {"path": "x"}), READ_A, seconds=200)  # 400 s apart
    assert find_repeats(calls, window_seconds=timedelta(minutes=10))[0].steps == (3,)
    assert find_repeats(calls, window_seconds=timedelta(minutes=5)) == []


def test_repeat_reports_the_original_step():
    issues = find_repeats(seq(("ls", {"path": "x"}), READ_A, READ_A))
    assert [(i.steps, i.related) for i in issues] == [((3,), (2,))]
    assert issues[0].detail == "read_file called 2x with the same arguments"


A = ("open", "x.py", "1: x")
B = ("search_dir", "foo", "no matches")
C = ("goto", "10", "10: y")

LOOP_CASES = [
    ("A B A B", seq(A, B, A, B), [3, 4]),
    ("A B C A B C A B C", seq(A, B, C, A, B, C, A, B, C), [4, 5, 6, 7, 8, 9]),
    ("loop after useful work", seq(C, ("ls", {}), A, B, A, B, A), [5, 6, 7]),
    ("A A A A is a repeat, not a loop", seq(A, A, A, A), []),
    ("A B A C is no cycle", seq(A, B, A, C), []),
    ("a cycle that returns new output is paging", seq(
        ("page", {"n": 1}, "p1"), ("next", {}, "p2"), ("page", {"n": 1}, "p3"), ("next", {}, "p4")), []),
]  # fmt: skip


@pytest.mark.parametrize(("calls", "wasted"), [c[1:] for c in LOOP_CASES], ids=[c[0] for c in LOOP_CASES])
def test_loops(calls, wasted):
    issues = find_loops(calls)
    assert sorted(s for i in issues for s in i.steps) == wasted


def test_loop_min_cycles_and_detail():
    calls = seq(A, B, A, B)
    assert find_loops(calls, min_cycles=3) == []
    (issue,) = find_loops(seq(A, B, A, B, A, B))
    assert issue.related == (1, 2)
    assert issue.detail == "cycle of 2 calls (open -> search_dir) repeated 3x"


def test_repeats_skip_steps_claimed_by_a_loop():
    calls = seq(A, B, A, B)
    loop_steps = {s for i in find_loops(calls) for s in i.steps}
    assert find_repeats(calls, claimed=loop_steps) == []
    assert find_repeats(calls) != []


def _fail(name):
    return (name, {"n": name}, "Error: boom", True)


STORM_CASES = [
    ("three failures in a row", seq(READ_A, _fail("a"), _fail("b"), _fail("c"), READ_A), [3, 4]),
    ("two failures is not a storm", seq(_fail("a"), _fail("b"), READ_A), []),
    # Reading something between two failures fixes nothing; a change or the failing tool working does.
    ("a read between failures does not end the run", seq(_fail("a"), _fail("b"), READ_A, _fail("c")), [2, 4]),
    (
        "failures broken by a change",
        seq(_fail("a"), _fail("b"), ("write_file", {"path": "x"}, "ok"), _fail("c"), _fail("d")),
        [],
    ),
    (
        "failures broken by the failing read succeeding",
        seq(
            ("read_file", {"path": "x"}, "Error: busy", True),
            ("read_file", {"path": "y"}, "Error: busy", True),
            ("read_file", {"path": "z"}, "z"),
            _fail("c"),
            _fail("d"),
        ),
        [],
    ),
    ("storm at the very end", seq(READ_A, _fail("a"), _fail("b"), _fail("c")), [3, 4]),
    # tau-bench task011-trial2, trimmed: the same booking fails on the payment total three times, with
    # notes and sums between; a sum changes nothing, so the run goes on.
    ("failures interleaved with notes and sums", seq(
        ("book_reservation", {"pay": 299}, "Error: payment amount does not add up, total price is 375", True),
        ("think", {"thought": "the total is 299"}, ""),
        ("book_reservation", {"pay": 298}, "Error: payment amount does not add up, total price is 375", True),
        ("think", {"thought": "recalculate"}, ""), ("calculate", {"expression": "158 + 141"}, "299.0"),
        ("book_reservation", {"pay": 297}, "Error: payment amount does not add up, total price is 375", True)), [3, 6]),
    ("must not fire: the booking works after a sum", seq(
        ("book_reservation", {"pay": 299}, "Error: payment amount does not add up", True),
        ("calculate", {"expression": "158 + 141 + 75"}, "374.0"),
        ("book_reservation", {"pay": 374}, '{"reservation_id": "HATHAT"}'),
        ("book_reservation", {"pay": 1}, "Error: payment amount does not add up", True)), []),
]  # fmt: skip


@pytest.mark.parametrize(("calls", "wasted"), [c[1:] for c in STORM_CASES], ids=[c[0] for c in STORM_CASES])
def test_error_storms(calls, wasted):
    assert sorted(s for i in find_error_storms(calls) for s in i.steps) == wasted


@pytest.mark.parametrize(
    ("count", "usual", "flagged_from"),
    [
        (101, None, 101),  # over the hard limit
        (100, None, None),  # at the limit
        (40, 10.0, 11),  # 4x the usual 10, 30 above
        (25, 10.0, None),  # 2.5x the usual: below the factor
        (12, 3.0, None),  # 4x but only 9 above: too small to matter
        (40, None, None),  # no history yet
    ],
)
def test_runaway(count, usual, flagged_from):
    issue = find_runaway(count, limit=100, usual=usual, factor=3.0, min_excess=10)
    if flagged_from is None:
        assert issue is None
    else:
        assert issue is not None and issue.steps[0] == flagged_from and issue.steps[-1] == count


# Shapes the audit used to miss, from the trajectories (tau-bench airline, ReAct on HotpotQA).
SEARCH_MISS = ("Search", "The Prince and Me (2004 film)", "Could not find [The Prince and Me (2004 film)]. Similar: []")
FLIGHTS = ("search_onestop_flight", {"origin": "IAH", "destination": "SEA", "date": "2024-05-24"}, '[{"flight": 1}]')
BOOK_FAIL = ("book_reservation", {"user_id": "mia_li_3668", "pay": "certificate_7504069"}, "Error: not found", True)
SAY = ("respond", {"content": "It seems the payment did not go through."}, "Okay, what now?")
THINK = ("think", {"thought": "payment does not add up"}, "")

NEW_REPEAT_CASES = [
    ("failing call retried identically", seq(BOOK_FAIL, SAY, BOOK_FAIL), [3]),
    ("must not fire: retried with changed arguments", seq(
        BOOK_FAIL, THINK, ("book_reservation", {"user_id": "mia_li_3668", "pay": "card"}, "{}")), []),
    ("must not fire: an identical retry that succeeds", seq(BOOK_FAIL, ("book_reservation", BOOK_FAIL[1], "{}")), []),
    ("same lookup, same answer, unrelated change between", seq(
        FLIGHTS, ("cancel_reservation", {"reservation_id": "HATHAU"}, "{}"), FLIGHTS), [3]),
    ("must not fire: the change touched what is read", seq(
        ("get_reservation_details", {"reservation_id": "HATHAU"}, "{}"),
        ("update_reservation_flights", {"reservation_id": "HATHAU"}, "{}"),
        ("get_reservation_details", {"reservation_id": "HATHAU"}, "{}")), []),
    ("replies and notes do not stretch the window", seq(
        FLIGHTS, THINK, SAY, SAY, SAY, ("calculate", {"e": "1+1"}, "2"), SAY, SAY, FLIGHTS), [9]),
    ("must not fire: the user asked to check again", seq(
        FLIGHTS, ("respond", {"content": "No flights fit."}, "Could you please check again for later flights?"),
        FLIGHTS), []),
    ("the same search miss again", seq(SEARCH_MISS, ("Search", "Kam Heskin", "Kam Heskin is..."), SEARCH_MISS), [3]),
    # tau-bench task022-trial1 (dev, fourth round): the user asks for other options and the agent searches
    # again; the same answer comes back, but the look was asked for.
    ("must not fire: the user asked to search for other options", seq(
        FLIGHTS, ("respond", {"content": "HAT041 costs $136, above your budget."},
                  "Can you please search for other nonstop flight options on the same day within my budget?"),
        FLIGHTS), []),
    ("the user asking something else does not excuse it", seq(
        FLIGHTS, ("respond", {"content": "HAT041 costs $136, above your budget."},
                  "Can you please book it with my gift card?"),
        FLIGHTS), [3]),
]  # fmt: skip


@pytest.mark.parametrize(("calls", "wasted"), [c[1:] for c in NEW_REPEAT_CASES], ids=[c[0] for c in NEW_REPEAT_CASES])
def test_repeats_the_audit_used_to_excuse(calls, wasted):
    assert sorted(s for i in find_repeats(calls) for s in i.steps) == wasted


def _miss(query):
    return ("Search", query, f"Could not find [{query}]. Similar: []")


FAILURE_RUN_CASES = [
    # (id, calls, {check: wasted steps})
    ("failures interleaved with replies and thinking", seq(BOOK_FAIL, THINK, (*BOOK_FAIL[:2], "Error: x", True), SAY,
        (*BOOK_FAIL[:2], "Error: y", True)), {"error_storm": [3, 5]}),
    ("search misses reported as success", seq(_miss("a"), _miss("b"), _miss("c")), {"soft_failure": [2, 3]}),
    ("a rejected flag is a soft failure", seq(*[("submit", f"flag{{{i}}}", "Wrong flag!") for i in range(3)]),
        {"soft_failure": [2, 3]}),
    ("an empty result list counts", seq(
        ("search_direct_flight", {"d": 1}, []), ("search_direct_flight", {"d": 2}, []),
        ("search_direct_flight", {"d": 3}, [])), {"soft_failure": [2, 3]}),
    # A tool that reports its failure in its answer, the call itself logged as a success (level DEFAULT):
    # tau-bench's "Error: ...", a shell's Traceback, a JSON answer whose `error` says what went wrong.
    ("an answer that says Error", seq(*[("book_reservation", {"p": i}, f"Error: payment {i} declined")
        for i in range(3)]), {"soft_failure": [2, 3]}),
    ("a JSON error answer", seq(*[("book_reservation", {"p": i}, {"error": f"card {i} declined"})
        for i in range(3)]), {"soft_failure": [2, 3]}),
    ("a traceback", seq(*[("run_script", {"n": i}, "Traceback (most recent call last):\n  File ...")
        for i in range(3)]), {"soft_failure": [2, 3]}),
    ("must not fire: an answer whose error field is empty", seq(*[
        ("get_order", {"id": i}, {"error": None, "order": {"id": i}}) for i in range(3)]), {}),
    ("must not fire: an answer about errors", seq(*[
        ("get_metrics", {"day": i}, f"Errors: {i}, error rate 0.{i}%") for i in range(3)]), {}),
    ("must not fire: a miss, then the suggested title works", seq(
        _miss("SAS"), ("Search", "Special Air Service", "The SAS is..."), _miss("x"), _miss("y")), {}),
    ("must not fire: failure words deep inside a long answer", seq(*[
        ("Search", f"q{i}", "Discovery Zone was founded in 1989. " * 5 + "No results were lost.") for i in range(3)]),
        {}),
]  # fmt: skip


@pytest.mark.parametrize(("calls", "wasted"), [c[1:] for c in FAILURE_RUN_CASES], ids=[c[0] for c in FAILURE_RUN_CASES])
def test_failure_runs(calls, wasted):
    issues = find_failure_runs(calls, soft_patterns=DEFAULT_SOFT_FAILURES)
    assert {i.check: sorted(i.steps) for i in issues} == wasted


def test_soft_failures_need_patterns():
    assert find_failure_runs(seq(_miss("a"), _miss("b"), _miss("c"))) == []


# Volatile arguments: a fresh request id, timestamp or nonce per call does not make the call different.
VOLATILE_CASES = [
    ("a new request_id each time", seq(
        ("get_order", {"order_id": "A1", "request_id": "9f1c2d3e-1111-4a4a-8b8b-000000000001"}, "pending"),
        ("get_order", {"order_id": "A1", "request_id": "9f1c2d3e-2222-4a4a-8b8b-000000000002"}, "pending")), [2]),
    ("a new timestamp and nonce each time", seq(
        ("fetch", {"url": "u", "ts": "2025-06-02T09:00:00Z", "nonce": "k3j4"}, "page"),
        ("fetch", {"url": "u", "ts": "2025-06-02T09:00:07.5+00:00", "nonce": "q9z1"}, "page")), [2]),
    ("must not fire: a different order, even when ids are UUIDs", seq(
        ("get_order", {"order_id": "9f1c2d3e-1111-4a4a-8b8b-000000000001"}, "pending"),
        ("get_order", {"order_id": "9f1c2d3e-2222-4a4a-8b8b-000000000002"}, "pending")), []),
    ("must not fire: a different date to search", seq(
        ("search_flights", {"date": "2025-06-02", "request_id": "r1"}, "[]"),
        ("search_flights", {"date": "2025-06-03", "request_id": "r2"}, "[]")), []),
]  # fmt: skip


@pytest.mark.parametrize(("calls", "wasted"), [c[1:] for c in VOLATILE_CASES], ids=[c[0] for c in VOLATILE_CASES])
def test_volatile_arguments_do_not_make_calls_differ(calls, wasted):
    assert sorted(s for i in find_repeats(calls) for s in i.steps) == wasted


def test_a_loop_through_fresh_request_ids_is_still_a_loop():
    calls = seq(*[(n, {"q": n, "request_id": f"req-{k}-{n}"}, "same") for k in range(3) for n in ("a", "b")])
    assert sorted(s for i in find_loops(calls) for s in i.steps) == [3, 4, 5, 6]

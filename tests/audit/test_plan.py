"""Plan versus action: parsing plans, alignment and the divergence score."""

from __future__ import annotations

import pytest

from monitors.audit.plan import is_structured, parse_plan, plan_divergence
from monitors.audit.sequence import numbered_steps
from tests.audit.helpers import seq

GOLD = [
    {"name": "get_reservation_details", "kwargs": {"reservation_id": "R1"}},
    {"name": "cancel_reservation", "kwargs": '{"reservation_id": "R1"}'},
]


def test_structured_plan_followed_exactly_scores_zero():
    calls = seq(("get_reservation_details", {"reservation_id": "R1"}), ("cancel_reservation", {"reservation_id": "R1"}))
    result = plan_divergence(GOLD, calls)
    assert result is not None
    assert (result.score, result.missed, result.unplanned) == (0.0, (), ())
    assert result.matched == ((0, 1), (1, 2))


def test_structured_plan_wrong_arguments_get_half_credit():
    calls = seq(("get_reservation_details", {"reservation_id": "R1"}), ("cancel_reservation", {"reservation_id": "R9"}))
    result = plan_divergence(GOLD, calls)
    assert result is not None
    assert result.score == pytest.approx(0.75 * (1 - 1.5 / 2))


def test_structured_plan_never_followed_scores_one():
    result = plan_divergence(GOLD, seq(("book_flight", {"x": 1}), ("send_certificate", {})))
    assert result is not None
    assert (result.score, result.missed, result.unplanned) == (1.0, (0, 1), (1, 2))


def test_order_matters():
    calls = seq(("cancel_reservation", {"reservation_id": "R1"}), ("get_reservation_details", {"reservation_id": "R1"}))
    result = plan_divergence(GOLD, calls)
    assert result is not None and len(result.matched) == 1 and result.score > 0.3


def test_ignored_tools_are_not_outside_the_plan():
    calls = seq(
        ("respond", "hello"),
        ("get_reservation_details", {"reservation_id": "R1"}),
        ("cancel_reservation", {"reservation_id": "R1"}),
    )
    assert plan_divergence(GOLD, calls, ignore={"respond"}).score == 0.0
    assert plan_divergence(GOLD, calls).score == pytest.approx(0.25 * 1 / 3, abs=1e-4)  # rounded to 4 places


def test_numbered_text_plan():
    plan = "I will:\n1. Open the file config.py\n2. Fix the timeout value\n3. Run the tests"
    followed = seq(("open", "config.py"), ("edit", "12:12 timeout = 30"), ("pytest", "tests/"))
    skipped = seq(("open", "config.py"), ("submit", ""))
    good, bad = plan_divergence(plan, followed), plan_divergence(plan, skipped)
    assert good is not None and bad is not None
    assert good.score < 0.1 < 0.5 < bad.score
    assert bad.missed == (1, 2)


@pytest.mark.parametrize(
    ("plan", "structured", "steps"),
    [
        (GOLD, True, 2),
        ('[{"name": "a"}, {"name": "b"}]', True, 2),
        (["read the file", "fix the bug"], True, 2),
        ("1. read the file\n2. fix the bug", True, 2),
        ("1. read failing test 2. fix assertion 3. run tests", True, 3),  # inline numbering
        ("bump to v2. then run the 3. tests again", False, 2),  # numbers out of sequence: prose
        ("First read the file, then fix the bug.", False, 2),
        ("", False, 0),
        (None, False, 0),
        (42, False, 0),
    ],
)
def test_parse_plan(plan, structured, steps):
    assert is_structured(plan) is structured
    assert len(parse_plan(plan)) == steps


def test_no_usable_plan():
    assert plan_divergence(["only one step"], seq(("ls", "."))) is None
    assert plan_divergence(None, seq(("ls", "."))) is None


def test_numbered_steps_of_a_first_turn():
    assert numbered_steps("Plan:\n1. look\n2) edit it\nStep 3: run") == ["look", "edit it", "run"]
    assert numbered_steps("no steps here") == []

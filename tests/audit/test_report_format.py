"""How an audit alert writes its numbers: durations, money to the cent, wasted steps as ranges."""

from __future__ import annotations

import pytest

from monitors.audit.report import _steps_text, describe_waste, duration_text
from monitors.audit.sequence import Waste


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0 s"), (45, "45 s"), (185, "3 min 5 s"), (3600, "1 h"), (22591, "6 h 16 min"), (90061, "1 d 1 h")],
)
def test_durations_read_at_a_glance(seconds: float, text: str) -> None:
    assert duration_text(seconds) == text


def test_the_runaway_alert_reads_hours_and_cents() -> None:
    text = describe_waste(Waste(steps=203, seconds=22591.0, tokens=1_234_567, cost=22.4748))
    assert text == "203 steps, 6 h 16 min, 1,234,567 tokens, $22.47"  # was "22591 s" and "$22.4748"
    assert describe_waste(Waste(steps=1, seconds=None, tokens=10, cost=0.0004)).endswith("under $0.01")


def test_wasted_steps_are_ranges() -> None:
    assert _steps_text(list(range(101, 304))) == "101-303"  # was "101, 102, ... 120 (+183 more)"
    assert _steps_text([9, 2, 5, 6, 7]) == "2, 5-7, 9"
    assert _steps_text(list(range(1, 100, 2))).endswith("37, 39 (+30 more)")

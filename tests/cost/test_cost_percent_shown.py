"""The percentage a cost alert shows is rounded down: a warning at 99.6% of the cap must not read
"(100%)", which an on-call reader takes for the cap being reached (and a page being due)."""

from __future__ import annotations

from monitors.cost.budgets import whole_percent


def test_a_spend_just_under_the_cap_does_not_read_as_the_cap() -> None:
    assert whole_percent(39.85, 40.0) == "99%"  # 99.625%
    assert whole_percent(40.0, 40.0) == "100%"
    assert whole_percent(52.54, 40.0) == "131%"
    assert whole_percent(32.0, 40.0) == "80%"  # exact thresholds stay exact despite float noise
    assert whole_percent(0.7 * 10, 10.0) == "70%"

"""Evaluator thresholds a YAML file can hold that would silently never match a score."""

from __future__ import annotations

import pytest
import yaml
from pydantic import ValidationError

from monitors.events.config import EventsConfig


@pytest.mark.parametrize(
    "evaluator",
    [
        "{name: tests_pass, below: true}",  # meant fail_on_false: would read NUMERIC scores below 1.0
        "{name: relevance, below: .nan}",  # no score is below NaN: the evaluator could never fail
        "{name: relevance, below: .inf}",  # every score is below infinity
    ],
)
def test_a_below_that_is_not_a_finite_number_is_a_config_error_naming_the_key(evaluator: str) -> None:
    with pytest.raises(ValidationError) as caught:
        EventsConfig.model_validate({"evaluators": [yaml.safe_load(evaluator)]})
    assert caught.value.errors()[0]["loc"] == ("evaluators", 0, "below")


def test_numeric_thresholds_are_still_accepted() -> None:
    config = EventsConfig.model_validate(
        {"evaluators": [{"name": "relevance", "below": 1}, {"name": "x", "below": 0.5}]}
    )
    assert [e.below for e in config.evaluators] == [1.0, 0.5]

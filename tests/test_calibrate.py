"""Calibration figures on tiny hand-made sets where the AUC and rates are known."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from monitors.contracts.errors import ConfigError
from monitors.drift.calibrate import calibrate, format_report, summarize
from monitors.drift.labelled import LabelledPair, load_changes, load_labelled_pairs
from monitors.drift.scoring import DriftPair


def labelled(labels: Sequence[str]) -> list[LabelledPair]:
    return [LabelledPair(DriftPair(f"o{i}", f"d{i}"), label) for i, label in enumerate(labels)]


# Genuine 0.9 0.8 0.7 0.2; drift 0.1 0.3 0.75. Genuine-above-drift orderings: 3 + 3 + 2 + 1 = 9 of 12.
SCORES = [0.9, 0.8, 0.7, 0.2, 0.1, 0.3, 0.75]
PAIRS = labelled(["match"] * 4 + ["drift"] * 3)


def test_summary_figures_on_a_known_set() -> None:
    report = summarize(PAIRS, SCORES, threshold=0.5, target_false_alarm=0.25)
    assert (report.matches, report.drifts, report.unscorable) == (4, 3, 0)
    assert report.auc == pytest.approx(9 / 12)
    assert report.false_alarm_rate == pytest.approx(1 / 4)  # 0.2
    assert report.recall == pytest.approx(2 / 3)  # 0.1, 0.3
    # One genuine pair of four may fall below: the threshold is the second-lowest genuine score.
    assert report.threshold_at_target == pytest.approx(0.7)
    assert report.false_alarm_at_target == pytest.approx(1 / 4)
    assert report.recall_at_target == pytest.approx(2 / 3)


def test_zero_false_alarm_target_puts_the_threshold_at_the_lowest_genuine_score() -> None:
    report = summarize(PAIRS, SCORES, threshold=0.5, target_false_alarm=0.0)
    assert report.threshold_at_target == pytest.approx(0.2)
    assert (report.false_alarm_at_target, report.recall_at_target) == (0.0, pytest.approx(1 / 3))


def test_perfect_separation_and_nan_scores() -> None:
    pairs = labelled(["match", "match", "drift", "drift", "match"])
    report = summarize(pairs, [0.9, 0.8, 0.1, 0.2, math.nan], threshold=0.5)
    assert report.auc == 1.0
    assert (report.false_alarm_rate, report.recall, report.unscorable) == (0.0, 1.0, 1)


def test_one_label_only_gives_no_auc() -> None:
    report = summarize(labelled(["match", "match"]), [0.4, 0.6], threshold=0.5)
    assert math.isnan(report.auc) and math.isnan(report.recall)
    assert report.false_alarm_rate == 0.5
    assert "ROC AUC n/a" in format_report(report)


def test_bad_target_rate_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        summarize(PAIRS, SCORES, threshold=0.5, target_false_alarm=1.0)


class AxisEmbedder:
    """Text "t:<x>" embeds to (x, sqrt(1-x^2)); the objective "goal" to (1, 0): cosine = x."""

    model_name = "axis"

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        rows = []
        for text in texts:
            x = 1.0 if text == "goal" else float(text.split(":")[1])
            rows.append([x, math.sqrt(1 - x * x)])
        return np.asarray(rows, dtype=np.float32)


def test_calibrate_scores_with_the_embedder_and_reports() -> None:
    cosines = {"match": [0.9, 0.6, 0.1], "drift": [0.2, 0.05]}
    pairs = [LabelledPair(DriftPair("goal", f"t:{x}"), label) for label, xs in cosines.items() for x in xs]
    report = calibrate(pairs, AxisEmbedder(), method="cosine", threshold=0.15)
    # Orderings genuine > drift: 0.9 (2) + 0.6 (2) + 0.1 (1) = 5 of 6.
    assert report.auc == pytest.approx(5 / 6)
    assert (report.false_alarm_rate, report.recall) == (pytest.approx(1 / 3), pytest.approx(1 / 2))
    text = format_report(report)
    assert "ROC AUC 0.833" in text
    assert "false alarms 33.3% of genuine pairs, drift recall 50.0%" in text


def test_calibrate_defaults_to_the_methods_threshold() -> None:
    pairs = [LabelledPair(DriftPair("goal", "t:0.5"), "match")]
    assert calibrate(pairs, AxisEmbedder(), method="cosine").threshold == pytest.approx(0.07)


def test_load_reads_aliases(tmp_path) -> None:
    good = [
        {"objective": "a", "did": "b", "label": "match", "repo": "g/r", "split": "dev"},
        {"objective": "c", "commit_message": "d", "label": "drift"},
    ]
    path = tmp_path / "pairs.jsonl"
    path.write_text("\n".join([json.dumps(good[0]), "", json.dumps(good[1])]), encoding="utf-8")
    assert load_labelled_pairs(path) == [
        LabelledPair(DriftPair("a", "b", "g/r"), "match", "dev"),
        LabelledPair(DriftPair("c", "d", None), "drift", None),
    ]


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("{not json", "not JSON"),
        (json.dumps(["a", "list"]), "not a JSON object"),
        (json.dumps({"objective": "x", "did": "y", "label": "maybe"}), "label must be one of match, drift"),
        (json.dumps({"objective": "x", "label": "match"}), "no did"),
        (json.dumps({"objective": "x", "did": "y", "label": "match", "repo": 7}), "repo and split must be strings"),
        (json.dumps({"objective": "x", "did": "y", "label": "match", "kind": "scope_creep"}), "kind must be"),
    ],
)
def test_a_malformed_line_is_a_config_error_naming_the_line(tmp_path, line: str, reason: str) -> None:
    path = tmp_path / "pairs.jsonl"
    good = json.dumps({"objective": "a", "did": "b", "label": "match"})
    path.write_text(f"{good}\n\n{line}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=f"pairs.jsonl: line 3: {reason}"):
        load_labelled_pairs(path)


def test_load_missing_file_is_a_config_error(tmp_path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_labelled_pairs(tmp_path / "absent.jsonl")


CHANGES = [
    {
        "repo": "g/r",
        "pr": 1,
        "commits": [{"sha": "a1", "message": "Add retry helper"}],
        "files": [{"path": "src/retry.py", "status": "A", "additions": 40, "deletions": 0}],
        "patch": "diff --git a/src/retry.py b/src/retry.py\n+++ b/src/retry.py\n@@ -0,0 +1,2 @@\n+def backoff(n):\n",
    },
    {
        "repo": "g/r",
        "pr": 2,
        "commits": [{"sha": "b1", "message": "Rewrite docs index"}],
        "files": [{"path": "docs/index.rst", "status": "M", "additions": 3, "deletions": 1}],
        "patch": "",
    },
]


def test_pairs_take_their_evidence_from_the_changes_file(tmp_path) -> None:
    (tmp_path / "changes.jsonl").write_text("\n".join(json.dumps(c) for c in CHANGES), encoding="utf-8")
    rows = [
        {"repo": "g/r", "objective": "retry", "commit_message": "x", "label": "match", "commit_pr": 1},
        {
            "repo": "g/r",
            "pr": 1,
            "objective": "retry",
            "label": "drift",
            "kind": "scope_creep",
            "extra_pr": 2,
            "final_from": "extra",
        },
        {"repo": "g/r", "objective": "other", "did": "Fix the parser", "label": "drift", "commit_pr": 9},
    ]
    (tmp_path / "pairs.jsonl").write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    pairs = load_labelled_pairs(tmp_path / "pairs.jsonl", load_changes(tmp_path / "changes.jsonl"))
    own, scope, fallback = pairs
    assert own.evidence is not None and own.pair.did == "Add retry helper"  # the changes' final commit wins
    assert own.evidence.added_names == ("backoff",)
    assert scope.kind_name == "scope_creep" and scope.evidence is not None
    # final_from "extra": PR 2's commit is the last one; both PRs' files are there.
    assert scope.evidence.final_commit == "Rewrite docs index"
    assert {f.path for f in scope.evidence.files} == {"src/retry.py", "docs/index.rst"}
    assert fallback.evidence is None and fallback.pair.did == "Fix the parser"


def test_report_per_kind_and_counts_the_pairs_without_changes() -> None:
    pairs = [
        LabelledPair(DriftPair("o", "d"), "match"),
        LabelledPair(DriftPair("o", "d"), "match"),
        LabelledPair(DriftPair("o", "d"), "drift"),
        LabelledPair(DriftPair("o", "d"), "drift", kind="scope_creep"),
    ]
    report = summarize(pairs, [0.9, 0.4, 0.1, 0.6], threshold=0.5)
    kinds = {k.kind: k for k in report.kinds}
    assert (kinds["drift"].auc, kinds["drift"].recall) == (1.0, 1.0)
    assert (kinds["scope_creep"].auc, kinds["scope_creep"].recall) == (0.5, 0.0)
    assert report.without_changes == 4
    assert "scope_creep: 1 pairs, ROC AUC 0.500" in format_report(report)


def test_several_kinds_lead_with_the_per_kind_figures_and_name_the_pooled_ones() -> None:
    pairs = [
        LabelledPair(DriftPair("o", "d"), "match"),
        LabelledPair(DriftPair("o", "d"), "match"),
        LabelledPair(DriftPair("o", "d"), "drift"),
        LabelledPair(DriftPair("o", "d"), "drift", kind="scope_creep"),
    ]
    report = summarize(pairs, [0.9, 0.4, 0.1, 0.6], threshold=0.5, method="cosine", target_false_alarm=0.5)
    lines = format_report(report).splitlines()
    assert lines[1].startswith("per kind of drift, each against all 2 genuine pairs (threshold 0.500;")
    assert lines[2].startswith("  drift: 1 pairs, ROC AUC 1.000, recall 100.0% at the threshold")
    assert lines[3].startswith("  scope_creep: 1 pairs, ROC AUC 0.500, recall 0.0% at the threshold")
    assert lines[4] == "ROC AUC 0.750 (all drift kinds together)"
    assert lines[5].endswith("drift recall 50.0% (all drift kinds together)")
    assert lines[6].endswith(", all drift kinds together)")


def test_one_kind_keeps_the_plain_headline() -> None:
    text = format_report(summarize(PAIRS, SCORES, threshold=0.5, method="cosine"))
    assert "ROC AUC 0.750\n" in text and "together" not in text and "per kind" not in text


def test_the_evidence_method_on_did_text_alone_warns_that_its_figures_are_not_comparable() -> None:
    pairs = [LabelledPair(DriftPair("o", "d"), label) for label in ("match", "match", "drift")]
    report = summarize(pairs, [0.9, 0.4, 0.1], threshold=0.5, method="evidence", target_false_alarm=0.5)
    assert report.warnings == (
        "3 of 3 pairs were judged on their did-text alone (no changes matched them); the evidence score's "
        "weights and threshold were fitted on pairs judged with their changes, so these figures are not "
        "comparable with the shipped ones: pass --changes with what each change request changed",
    )
    assert format_report(report).splitlines()[0] == f"warning: {report.warnings[0]}"
    assert report.as_json()["warnings"] == list(report.warnings)
    # The single-text methods read the did-text by design: nothing to warn about.
    plain = summarize(pairs, [0.9, 0.4, 0.1], threshold=0.5, method="cosine", target_false_alarm=0.5)
    assert plain.warnings == () and plain.as_json()["warnings"] == [] and "warning" not in format_report(plain)


def test_too_few_genuine_pairs_for_the_target_rate_say_the_threshold_is_no_estimate() -> None:
    # At 5% a threshold is only an estimate with 20 genuine pairs or more; below that it is the lowest score.
    few = summarize(labelled(["match"] * 19 + ["drift"]), [*range(19), -1], threshold=0.5, method="cosine")
    assert few.threshold_at_target == 0
    assert few.warnings == (
        "only 19 genuine pairs: a threshold for a 5% false-alarm rate needs at least 20 (with fewer it is simply "
        "the lowest genuine score), so threshold_at_target is no estimate: label more genuine pairs",
    )
    assert format_report(few).splitlines()[0] == f"warning: {few.warnings[0]}"
    enough = summarize(labelled(["match"] * 20 + ["drift"]), [*range(20), -1], threshold=0.5, method="cosine")
    assert enough.warnings == ()


def _run_cli(*args: str):
    from click.testing import CliRunner

    from monitors.app.cli.main import cli

    return CliRunner().invoke(cli, ["drift", "calibrate", *args])


def test_cli_exits_2_naming_a_malformed_line_and_on_an_empty_result(tmp_path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"objective": "a", "did": "b", "label": "match"}) + "\n{oops\n", encoding="utf-8")
    result = _run_cli(str(bad))
    assert result.exit_code == 2 and "bad.jsonl: line 2: not JSON" in result.output
    good = tmp_path / "good.jsonl"
    good.write_text(json.dumps({"objective": "a", "did": "b", "label": "match", "split": "dev"}), encoding="utf-8")
    result = _run_cli(str(good), "--split", "test")
    assert result.exit_code == 2 and "no labelled pairs of split test" in result.output


def test_cli_dry_run_counts_pairs_with_changes_as_json(tmp_path) -> None:
    (tmp_path / "changes.jsonl").write_text("\n".join(json.dumps(c) for c in CHANGES), encoding="utf-8")
    rows = [
        {"repo": "g/r", "objective": "retry", "did": "x", "label": "match", "commit_pr": 1},
        {"repo": "g/r", "objective": "docs", "did": "y", "label": "drift", "commit_pr": 7},
    ]
    (tmp_path / "pairs.jsonl").write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    result = _run_cli(
        str(tmp_path / "pairs.jsonl"), "--changes", str(tmp_path / "changes.jsonl"), "--dry-run", "--format", "json"
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"pairs": 2, "with_changes": 1}


DATA = Path(__file__).resolve().parent.parent / "data" / "drift_pairs"


@pytest.mark.slow
def test_cli_says_when_the_evidence_method_judged_did_text_alone(tmp_path) -> None:
    """Through the command and the real model: a few dev pairs of the bundled data, without and with
    the changes the evidence score was fitted with."""
    rows = [line for line in (DATA / "pairs.jsonl").read_text().splitlines() if '"split": "dev"' in line][:8]
    (tmp_path / "pairs.jsonl").write_text("\n".join(rows) + "\n", encoding="utf-8")
    pairs = str(tmp_path / "pairs.jsonl")

    enough = ("--false-alarm", "0.25")  # 4 genuine pairs are enough for a 25% target: no sample-size warning
    alone = _run_cli(pairs, *enough)
    assert alone.exit_code == 0, alone.output
    assert alone.output.startswith("warning: 8 of 8 pairs were judged on their did-text alone")
    assert "not comparable with the shipped ones: pass --changes" in alone.output
    assert json.loads(_run_cli(pairs, *enough, "--format", "json").output)["warnings"][0].startswith("8 of 8 pairs")

    changed = _run_cli(pairs, *enough, "--changes", str(DATA / "changes.jsonl"), "--format", "json")
    assert changed.exit_code == 0, changed.output
    report = json.loads(changed.output)
    assert (report["evidence_pairs"], report["without_changes"], report["warnings"]) == (8, 0, [])


@pytest.mark.parametrize("rate", ["2", "1", "-0.1"])
def test_a_false_alarm_target_outside_0_1_is_refused_naming_the_option_before_any_model(tmp_path, rate) -> None:
    from click.testing import CliRunner

    from monitors.app.cli.main import cli

    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text(json.dumps({"objective": "fix the login bug", "label": "match", "did": "fix login"}) + "\n")
    result = CliRunner().invoke(cli, ["drift", "calibrate", str(pairs), "--false-alarm", rate])
    assert result.exit_code == 2
    assert "Invalid value for '--false-alarm'" in result.output and "0<=x<1" in result.output
    assert "Traceback" not in result.output

"""Calibration figures on tiny hand-made sets where the AUC and rates are known."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence

import numpy as np
import pytest

from monitors.contracts.errors import ConfigError
from monitors.drift.calibrate import LabelledPair, calibrate, format_report, load_labelled_pairs, summarize
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


def test_load_reads_aliases_and_reports_bad_lines(tmp_path) -> None:
    good = [
        {"objective": "a", "did": "b", "label": "match", "repo": "g/r", "split": "dev"},
        {"objective": "c", "commit_message": "d", "label": "drift"},
    ]
    lines = [
        json.dumps(good[0]),
        "",
        "{not json",
        json.dumps(["a", "list"]),
        json.dumps({"objective": "x", "did": "y", "label": "maybe"}),
        json.dumps({"objective": "x", "label": "match"}),
        json.dumps({"objective": "x", "did": "y", "label": "match", "repo": 7}),
        json.dumps(good[1]),
    ]
    path = tmp_path / "pairs.jsonl"
    path.write_text("\n".join(lines), encoding="utf-8")
    loaded = load_labelled_pairs(path)
    assert loaded.pairs == [
        LabelledPair(DriftPair("a", "b", "g/r"), "match", "dev"),
        LabelledPair(DriftPair("c", "d", None), "drift", None),
    ]
    assert [p.split(":")[0] for p in loaded.problems] == ["line 3", "line 4", "line 5", "line 6", "line 7"]
    assert "label must be one of match, drift" in loaded.problems[2]


def test_load_missing_file_is_a_config_error(tmp_path) -> None:
    with pytest.raises(ConfigError, match="cannot read labelled pairs"):
        load_labelled_pairs(tmp_path / "absent.jsonl")

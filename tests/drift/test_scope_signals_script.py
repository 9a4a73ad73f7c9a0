"""scripts/drift_scope_signals.py: file groups and the leave-one-out repository history of the eighth round."""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))

import drift_scope_signals as signals

from monitors.drift.labelled import LabelledPair
from monitors.drift.scoring import DriftPair


def changed(path: str, churn: int, *tokens: str) -> signals.ChangedFile:
    return signals.ChangedFile(path, churn, frozenset(tokens), bool(signals.HOUSEKEEPING_FILE.search(path)))


def test_file_tokens_take_path_parts_and_identifiers_of_changed_lines() -> None:
    lines = signals.per_file_lines(
        "diff --git a/src/auth/session.py b/src/auth/session.py\n--- a/src/auth/session.py\n"
        "+++ b/src/auth/session.py\n@@ -1,2 +1,2 @@ def refresh_token(self):\n-    old_value = 1\n+    new_value = 2\n"
    )
    tokens = signals.file_tokens("src/auth/session.py", lines["src/auth/session.py"])
    assert {"auth", "session", "refresh_token", "old_value", "new_value"} <= tokens
    assert "src" not in tokens  # path parts under four letters join nothing


def test_common_identifiers_leave_the_pair_own_change_requests_out() -> None:
    files = {
        ("o/r", 1): [changed("a.py", 1, "shared", "own_only")],
        ("o/r", 2): [changed("b.py", 1, "shared")],
        ("o/r", 3): [changed("c.py", 1, "shared")],
        ("x/y", 4): [changed("d.py", 1, "own_only")],
    }
    history = signals.History(files)
    common = history.common("o/r", [("o/r", 1)], share=0.5)
    assert "shared" in common  # in both other change requests of the repository
    assert "own_only" not in common  # only in the pair's own change request, and in another repository


def test_files_join_on_a_rare_token_and_housekeeping_files_join_nothing() -> None:
    files = [
        changed("src/auth.py", 30, "refresh_token", "utils"),
        changed("tests/test_auth.py", 10, "refresh_token"),
        changed("docs/theme.css", 20, "utils", "sidebar"),
        changed("CHANGELOG.md", 5, "refresh_token", "sidebar"),
    ]
    groups = signals.file_groups(files, common={"utils"})
    assert [g.paths for g in groups] == [("src/auth.py", "tests/test_auth.py"), ("docs/theme.css",)]
    assert signals.second_share(groups) == pytest.approx(20 / 60)
    # A link the history knows joins what no token does.
    joined = signals.file_groups(
        files, common={"utils"}, linked=lambda a, b: {a, b} == {"src/auth.py", "docs/theme.css"}
    )
    assert len(joined) == 1 and signals.second_share(joined) == 0.0


def test_directories_changed_together_are_counted_without_the_left_out_change_requests() -> None:
    files = {
        ("o/r", 1): [changed("src/a.py", 1), changed("tests/t.py", 1)],
        ("o/r", 2): [changed("src/b.py", 1), changed("tests/u.py", 1), changed("CHANGES.rst", 1)],
        ("o/r", 3): [changed("src/c.py", 1), changed("docs/d.rst", 1)],
    }
    history = signals.History(files)
    assert history.cochanged("o/r", []) == Counter({("src", "tests"): 2, ("docs", "src"): 1})
    assert history.cochanged("o/r", [("o/r", 2)]) == Counter({("src", "tests"): 1, ("docs", "src"): 1})


def test_anchored_gap_needs_a_second_sizeable_group() -> None:
    groups = [signals.Group(0.7, ("a.py",), ()), signals.Group(0.3, ("b.py",), ())]
    assert signals.anchored_gap(groups, [0.6, 0.1], sizeable=0.2) == pytest.approx(-0.5)
    assert signals.anchored_gap(groups, [0.6, 0.1], sizeable=0.5) == float("inf")
    assert signals.anchored_gap(groups[:1], [0.6], sizeable=0.0) == float("inf")


def test_families_name_the_asked_for_change_request_and_its_drift_partner(tmp_path: Path) -> None:
    rows = [{"repo": "o/r", "pr": 10, "objective": "Fix login", "label": "drift", "commit_pr": 11}]
    (tmp_path / "pairs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    genuine = LabelledPair(DriftPair("Fix login", "fix", "o/r"), "match", "dev", "match", None, 10)
    drift = LabelledPair(DriftPair("Fix login", "other", "o/r"), "drift", "dev", "drift", None, 11)
    scope = LabelledPair(DriftPair("Fix login", "fix", "o/r"), "drift", "dev", "scope_creep", None, 10, 11)
    family = [("o/r", 10), ("o/r", 11)]
    assert signals.families(tmp_path, [genuine, drift, scope]) == [family, family, family]
    assert signals.own_changes(scope) == family and signals.own_changes(drift) == [("o/r", 11)]

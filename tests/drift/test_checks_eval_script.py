"""scripts/drift_checks_eval.py shows the dev split unless asked: tune on dev, report on test."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "drift_checks_eval.py"
PATCH = (
    "diff --git a/tests/test_api.py b/tests/test_api.py\n--- a/tests/test_api.py\n+++ b/tests/test_api.py\n"
    "@@ -1,4 +1,1 @@\n import api\n-\n-def test_{name}():\n-    assert api.get()\n"
)


def write_data(folder: Path) -> None:
    """One genuine pair per split whose change deletes a test, in the shipped files' format."""
    pairs, changes = [], []
    for number, split in ((1, "dev"), (2, "test")):
        objective = f"Speed up the {split} client"
        pairs.append({"objective": objective, "label": "match", "repo": "o/r", "split": split, "commit_pr": number})
        changes.append(
            {
                "repo": "o/r",
                "pr": number,
                "commits": [{"sha": f"s{number}", "message": f"Speed up the {split} client"}],
                "files": [{"path": "tests/test_api.py", "status": "M", "additions": 0, "deletions": 3}],
                "patch": PATCH.format(name=f"{split}_client"),
            }
        )
    pairs.append({"objective": "Fix the docs", "label": "drift", "repo": "o/r", "split": "dev", "commit_pr": 1})
    scope = {"objective": "Speed up the dev client", "label": "drift", "kind": "scope_creep", "repo": "o/r"}
    scope |= {"split": "dev", "pr": 1, "extra_pr": 2, "final_from": "own"}
    for name, rows in (("pairs.jsonl", pairs), ("changes.jsonl", changes), ("scope_pairs.jsonl", [scope])):
        (folder / name).write_text("".join(json.dumps(r) + "\n" for r in rows))


def evaluate(folder: Path, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--data", str(folder), *args], capture_output=True, text=True, check=True
    )
    return done.stdout


def test_the_test_split_is_shown_only_when_asked(tmp_path: Path) -> None:
    write_data(tmp_path)
    default = evaluate(tmp_path)
    assert "Speed up the dev client" in default and "test client" not in default
    assert "match: 1 of 1 pairs flagged by a check" in default
    asked = evaluate(tmp_path, "--split", "test")
    assert "Speed up the test client" in asked and "dev client" not in asked
    assert "match: 2 of 2 pairs" in evaluate(tmp_path, "--split", "all")

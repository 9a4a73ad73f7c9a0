"""benchmarks/real_changes.py: real pull requests' commits and diffs put on the benchmark's merge requests."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from benchmarks.real_changes import diff_entries, load_rows, split_patch, with_real_changes

CHANGES = Path(__file__).resolve().parents[1] / "data" / "drift_pairs" / "changes.jsonl"

PATCH = """\
diff --git a/src/app.py b/src/app.py
index 1111111..2222222 100644
--- a/src/app.py
+++ b/src/app.py
@@ -1,3 +1,4 @@ def main():
 import os
+import sys
 print(os)
diff --git a/tests/test_new.py b/tests/test_new.py
new file mode 100644
index 0000000..3333333
--- /dev/null
+++ b/tests/test_new.py
@@ -0,0 +1 @@
+def test_it(): pass
diff --git a/old.txt b/old.txt
deleted file mode 100644
index 4444444..0000000
--- a/old.txt
+++ /dev/null
@@ -1 +0,0 @@
-gone
diff --git a/docs/a.rst b/docs/b.rst
similarity index 100%
rename from docs/a.rst
rename to docs/b.rst
"""


def row(n: int, patch: str = PATCH) -> dict:
    return {
        "commits": [
            {"sha": f"{n}a", "message": f"first commit of row {n}"},
            {"sha": f"{n}b", "message": f"final commit of row {n}\n\nbody line"},
        ],
        "files": [
            {"path": "src/app.py", "status": "M", "additions": 1, "deletions": 0},
            {"path": "tests/test_new.py", "status": "A", "additions": 1, "deletions": 0},
            {"path": "old.txt", "status": "D", "additions": 0, "deletions": 1},
            {"path": "docs/b.rst", "status": "R", "additions": 0, "deletions": 0},
        ],
        "patch": patch,
    }


def test_a_patch_splits_into_one_entry_per_file_with_its_flags_and_hunks() -> None:
    entries = {e["new_path"]: e for e in split_patch(PATCH)}
    assert list(entries) == ["src/app.py", "tests/test_new.py", "old.txt", "docs/b.rst"]
    assert (
        entries["src/app.py"]["diff"].startswith("@@ -1,3 +1,4 @@") and "+import sys" in entries["src/app.py"]["diff"]
    )
    assert entries["tests/test_new.py"]["new_file"] and not entries["tests/test_new.py"]["deleted_file"]
    assert entries["old.txt"]["deleted_file"] and entries["old.txt"]["diff"].endswith("-gone\n")
    renamed = entries["docs/b.rst"]
    assert renamed["renamed_file"] and renamed["old_path"] == "docs/a.rst" and renamed["diff"] == ""


def test_files_a_cut_short_patch_left_out_are_listed_as_too_large() -> None:
    cut = PATCH.split("diff --git a/old.txt")[0]  # the patch ends before the deleted and renamed files
    entries = {e["new_path"]: e for e in diff_entries(row(0, cut))}
    assert "too_large" not in entries["src/app.py"]
    assert entries["old.txt"] == {
        "old_path": "old.txt",
        "new_path": "old.txt",
        "diff": "",
        "new_file": False,
        "deleted_file": True,
        "renamed_file": False,
        "too_large": True,
    }
    assert entries["docs/b.rst"]["renamed_file"] and entries["docs/b.rst"]["too_large"]


def test_every_file_of_the_real_changes_appears_in_its_split_patch() -> None:
    rows = load_rows(CHANGES)
    complete = [r for r in rows if not r["patch_truncated"]]
    assert len(complete) > 500
    for r in complete:
        entries = split_patch(r["patch"])
        paths = {e["new_path"] for e in entries} | {e["old_path"] for e in entries}
        assert {f["path"] for f in r["files"]} <= paths, (r["repo"], r["pr"])


def test_merge_requests_take_rows_in_order_and_reuses_are_made_distinct() -> None:
    final = datetime(2026, 11, 3, 12, 0)
    projects = {
        repo: {
            "merge_requests": {
                str(iid): {"title": f"t{iid}", "commits": [{"committed_date": final.isoformat()}], "diffs": []}
                for iid in iids
            }
        }
        for repo, iids in {"group/b": [10, 9], "group/a": [2]}.items()
    }
    out = with_real_changes(projects, [row(0), row(1)])
    a2, b9, b10 = (out["group/a"]["merge_requests"]["2"], *(out["group/b"]["merge_requests"][k] for k in ("9", "10")))
    # Sorted by project, then by iid as a number: a!2 takes row 0, b!9 row 1, b!10 row 0 again.
    assert [mr["commits"][-1]["message"] for mr in (a2, b9, b10)] == [
        "first commit of row 0",
        "first commit of row 1",
        "first commit of row 0",
    ]
    newest = b10["commits"][0]
    assert newest["title"] == "final commit of row 0 (#10)" and newest["message"].endswith("\n\nbody line")
    assert [c["committed_date"] for c in b10["commits"]] == [
        final.isoformat(),
        (final - timedelta(minutes=1)).isoformat(),
    ]
    assert len({c["id"] for mr in (a2, b9, b10) for c in mr["commits"]}) == 6
    assert a2["title"] == "t2" and {d["new_path"] for d in a2["diffs"]} >= {"src/app.py", "docs/b.rst"}
    assert all(d["new_path"].startswith("copy1/") and d["old_path"].startswith("copy1/") for d in b10["diffs"])
    assert not any(d["new_path"].startswith("copy") for d in a2["diffs"] + b9["diffs"])


def test_an_empty_changes_file_is_an_error(tmp_path: Path) -> None:
    empty = tmp_path / "changes.jsonl"
    empty.write_text("\n")
    with pytest.raises(ValueError, match="holds no changes"):
        load_rows(empty)

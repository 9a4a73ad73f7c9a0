"""Real pull requests' commits and diffs on the benchmark's merge requests, in the fake GitLab's format.

Each row of a changes file (data/drift_pairs/changes.jsonl: a PR's commit messages, per-file stats and
whole `git diff`) becomes one merge request's `commits` and `diffs`: merge request i (counted over the
projects and iids in sorted order) takes row i % len(rows), so the same file always gives the same data.

At 10k traces a week there are 1,951 merge requests and 600 rows, so a row serves about three times.
Exact repeats would be free embedding-cache hits no real week gets, so the reuses are made distinct as
real repositories are: the final commit's subject ends in " (#<iid>)" (as a squashed PR's merge commit
does), and from the second use of a row on its paths sit under a `copy<n>/` directory (the same change
in another package of a monorepo), which changes the paths the changes summary names. The first use of
every row is the PR exactly as recorded.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

_DIFF_HEADER = re.compile(r"^diff --git a/(?P<old>.+?) b/(?P<new>.+)$")


def load_rows(path: Path) -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if not rows:
        raise ValueError(f"{path} holds no changes")
    return rows


def with_real_changes(projects: dict[str, Any], rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Every merge request's commits and diffs replaced by a real PR's (title and description kept)."""
    i = 0
    for repo in sorted(projects):
        mrs = projects[repo]["merge_requests"]
        for iid in sorted(mrs, key=int):
            row, reuse = rows[i % len(rows)], i // len(rows)
            prefix = f"copy{reuse}/" if reuse else ""
            mr = mrs[iid]
            mr["commits"] = _commits(repo, int(iid), row, _final_date(mr))
            mr["diffs"] = [
                {**d, "old_path": prefix + d["old_path"], "new_path": prefix + d["new_path"]} for d in diff_entries(row)
            ]
            i += 1
    return projects


def _final_date(mr: dict[str, Any]) -> datetime:
    """The synthetic MR's newest commit date: the real commits end there, so the timeline is unchanged."""
    return max(datetime.fromisoformat(c["committed_date"]) for c in mr["commits"])


def _commits(repo: str, iid: int, row: dict[str, Any], final: datetime) -> list[dict[str, Any]]:
    """Newest first, as GitLab lists them; ids unique per MR, one minute apart, ending at `final`."""
    commits = row["commits"]
    out = []
    for k, commit in enumerate(commits):
        message = str(commit["message"])
        if k == len(commits) - 1:
            first, _, rest = message.partition("\n")
            message = f"{first} (#{iid})" + (f"\n{rest}" if rest else "")
        when = final - timedelta(minutes=len(commits) - 1 - k)
        sha = hashlib.sha1(f"{repo}!{iid}:{k}".encode()).hexdigest()
        out.append(
            {"id": sha, "title": message.split("\n", 1)[0], "message": message, "committed_date": when.isoformat()}
        )
    return out[::-1]


def diff_entries(row: dict[str, Any]) -> list[dict[str, Any]]:
    """The row's patch split per file, then its listed files the cut-short patch (40,000 characters)
    left out, with no diff and marked `too_large` as GitLab marks a diff it does not send."""
    entries = split_patch(row["patch"])
    seen = {e["new_path"] for e in entries} | {e["old_path"] for e in entries}
    for f in row["files"]:
        if f["path"] not in seen:
            status = f["status"]
            entries.append(
                {
                    "old_path": f["path"],
                    "new_path": f["path"],
                    "diff": "",
                    "new_file": status == "A",
                    "deleted_file": status == "D",
                    "renamed_file": status == "R",
                    "too_large": True,
                }
            )
    return entries


def split_patch(patch: str) -> list[dict[str, Any]]:
    """A whole `git diff` as GitLab diff entries: paths and flags from each file's header, the hunks as `diff`."""
    entries: list[dict[str, Any]] = []
    for chunk in re.split(r"(?m)^(?=diff --git )", patch):
        lines = chunk.splitlines(keepends=True)
        if not lines or not (header := _DIFF_HEADER.match(lines[0].rstrip("\n"))):
            continue
        old, new = header["old"], header["new"]
        hunk_start = next((n for n, line in enumerate(lines) if line.startswith("@@")), len(lines))
        meta = lines[1:hunk_start]
        for line in meta:
            if line.startswith("--- a/"):
                old = line[6:].rstrip("\n")
            elif line.startswith("+++ b/"):
                new = line[6:].rstrip("\n")
            elif line.startswith("rename from "):
                old = line[12:].rstrip("\n")
            elif line.startswith("rename to "):
                new = line[10:].rstrip("\n")
        entries.append(
            {
                "old_path": old,
                "new_path": new,
                "diff": "".join(lines[hunk_start:]),
                "new_file": any(line.startswith("new file mode") for line in meta),
                "deleted_file": any(line.startswith("deleted file mode") for line in meta),
                "renamed_file": any(line.startswith("rename from ") for line in meta),
            }
        )
    return entries

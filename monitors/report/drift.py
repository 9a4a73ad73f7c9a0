"""Goal-drift alerts as the report shows them: which change request, what fired and why, worst first.

A drift alert fires for any of several signals (monitors/drift/verdict.py): its score below the
threshold, an explicit check on the diff (tests removed, nothing done, files outside the scope, far
larger than the agent's usual change), or scope creep. The score alone does not say how bad an alert
is, so each row says what fired.
"""

from __future__ import annotations

from monitors.report.findings import StoredFinding

HEAD_CHARS = 12  # a head commit is named by its short SHA, as the alert does
REQUEST_FIELDS = ("Pull request", "Merge request")  # the field the drift alert names its request in


def reference(f: StoredFinding) -> str:
    """'acme-labs/agent-sdk#58' (GitHub numbers pull requests #58) or 'platform/web!92' (GitLab, !92)."""
    repo, iid = f.text("repo"), f.text("mr_iid")
    if repo and iid:
        return f"{repo}{'#' if f.text('forge') == 'github' else '!'}{iid}"
    return f.dedupe_key.rpartition("@")[0] or f.dedupe_key


def change_request(f: StoredFinding) -> str:
    """'platform/web!92 (opened), head 1785190c803c': the request, its state when the alert knew it,
    and its head's short SHA. Alerts stored before they carried the field are named from their evidence."""
    fields = dict(f.fields)
    for name in REQUEST_FIELDS:
        if fields.get(name):
            return fields[name]
    head = f.text("commit") or (f.dedupe_key.rpartition("@")[2] if "@" in f.dedupe_key else "")
    return f"{reference(f)}, head {head[:HEAD_CHARS]}" if head else reference(f)

"""Goal-drift alerts as the report shows them: which change request, what fired and why, worst first.

A drift alert fires for any of several signals (monitors/drift/verdict.py): its score below the
threshold, an explicit check on the diff (tests removed, nothing done, files outside the scope, far
larger than the agent's usual change), or scope creep. The score alone does not say how bad an alert
is: a pull request that deleted tests can score high (its commits read like the objective) and is
still the one to open first. So each row says what fired and why, and alerts are ranked by the most
serious signal that fired, then by how far the score is below its threshold (ORDER_NOTE).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from monitors.report.findings import StoredFinding

SCORE = "score"
SCOPE_CREEP = "scope_creep"
# Most serious first. Tests removed and nothing done are facts of the diff saying the work asked for was
# undone or not done; a low score says the work reads like something else; the rest say it did more.
SIGNAL_ORDER = ("tests_removed", "nothing_done", SCORE, "outside_scope", "too_large", SCOPE_CREEP)
ORDER_NOTE = (
    "Worst first: by the most serious signal that fired (tests removed, nothing done, score below the "
    "threshold, files outside the scope, far larger than usual, scope creep), then by how far the score "
    "is below its threshold."
)

HEAD_CHARS = 12  # a head commit is named by its short SHA, as the alert does
REQUEST_FIELDS = ("Pull request", "Merge request")  # the field the drift alert names its request in
# GitLab calls an open merge request "opened", GitHub an open pull request "open": one state, one word.
# (Both say "closed"; GitLab's "merged" and "locked" have no GitHub twin and stay as they are.)
_STATE_WORDS = {"opened": "open"}
_STATE = re.compile(r" \(([a-z_]+)\)(?=, head |$)")


def reference(f: StoredFinding) -> str:
    """'acme-labs/agent-sdk#58' (GitHub numbers pull requests #58) or 'platform/web!92' (GitLab, !92)."""
    repo, iid = f.text("repo"), f.text("mr_iid")
    if repo and iid:
        return f"{repo}{'#' if f.text('forge') == 'github' else '!'}{iid}"
    return f.dedupe_key.rpartition("@")[0] or f.dedupe_key


def change_request(f: StoredFinding) -> str:
    """'platform/web!92 (open), head 1785190c803c': the request, its state when the alert knew it (in
    one word for both forges), and its head's short SHA. Alerts stored before they carried the field
    are named from their evidence."""
    fields = dict(f.fields)
    for name in REQUEST_FIELDS:
        if fields.get(name):
            return _STATE.sub(lambda m: f" ({_STATE_WORDS.get(m.group(1), m.group(1))})", fields[name], count=1)
    head = f.text("commit") or (f.dedupe_key.rpartition("@")[2] if "@" in f.dedupe_key else "")
    return f"{reference(f)}, head {head[:HEAD_CHARS]}" if head else reference(f)


def signals(f: StoredFinding) -> list[str]:
    """What fired, most serious first: check names as the drift monitor stores them, SCORE when the score
    is below the threshold, SCOPE_CREEP when the alert's "Why" says so."""
    checks = f.evidence.get("checks")
    fired = [str(c) for c in checks] if isinstance(checks, list) else []
    if _below(f):
        fired.append(SCORE)
    if any(line.startswith("scope creep") for line in dict(f.fields).get("Why", "").splitlines()):
        fired.append(SCOPE_CREEP)
    return sorted(fired, key=_seriousness)


def why(f: StoredFinding) -> str:
    """Each reason the alert fired, as the alert gave it ('tests removed: 3 test(s) removed (...)')."""
    reasons = [line.strip() for line in dict(f.fields).get("Why", "").splitlines() if line.strip()]
    return "; ".join(reasons) or fired_label(f)


def fired_label(f: StoredFinding) -> str:
    """Short: 'tests removed (score 3.21, threshold -0.55)', 'score -2.34 below threshold -0.55'."""
    score = f"score {f.number('similarity'):.2f}"
    threshold = f"threshold {f.number('threshold'):.2f}"
    names = [f"{score} below {threshold}" if s == SCORE else s.replace("_", " ") for s in signals(f)]
    if _below(f):
        return ", ".join(names)
    return f"{', '.join(names)} ({score}, {threshold})" if names else f"{score} ({threshold})"


def drift_worst_first(findings: Iterable[StoredFinding]) -> list[StoredFinding]:
    """Drift alerts, worst first (ORDER_NOTE)."""
    drifts = [f for f in findings if f.monitor == "drift" and f.kind == "drift"]
    return sorted(drifts, key=lambda f: (_worst_signal(f), _margin(f), f.fingerprint))


def _below(f: StoredFinding) -> bool:
    return "similarity" in f.evidence and f.number("similarity") < f.number("threshold")


def _margin(f: StoredFinding) -> float:
    return f.number("similarity") - f.number("threshold")


def _seriousness(signal: str) -> int:
    # A check this version does not know ranks before scope creep, after those it knows.
    return SIGNAL_ORDER.index(signal) if signal in SIGNAL_ORDER else SIGNAL_ORDER.index(SCOPE_CREEP)


def _worst_signal(f: StoredFinding) -> int:
    # An alert of which nothing is known (stored without its checks, score not below) ranks last.
    return min((_seriousness(s) for s in signals(f)), default=len(SIGNAL_ORDER))

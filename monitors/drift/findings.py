"""The findings goal-drift reports: a drift alert, and an "unverifiable" note for the weekly report.

All text is plain; objectives, commit messages, paths and test names are agent-written and go into
fields as-is (shortened), for the renderers to escape. Links are built from the trace source and the
forge's own web URLs only.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import timedelta

from monitors.contracts.findings import Finding, Link, RunWindow, Severity, Status
from monitors.contracts.forge import ChangeEvidence, MergeRequestInfo
from monitors.contracts.monitor import RunContext
from monitors.drift.candidates import MrRef, TraceRef, as_text
from monitors.drift.text import subject
from monitors.drift.verdict import Verdict

MONITOR = "drift"
SHOWN_CHARS = 500  # objective / commit text shown in an alert
TOP_FILES = 3  # files named in "What was done"


def shorten(text: str, limit: int = SHOWN_CHARS) -> str:
    """One line: agent text's line breaks would start lines that read like the alert's own fields."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def traces_span(refs: Iterable[TraceRef], run_window: RunWindow | None) -> RunWindow | None:
    """What a finding about these traces is about: from the first one's start to the last one's last
    observation, when their times are real (the weekly report files the finding in the week of that span,
    not of the run that read it: a Monday run reads Sunday's traces, a replay reads many days, a trace
    parked for a failing forge is judged days later); else the run's window, as for the audit's sessions."""
    refs = list(refs)
    if not refs or not all(r.timed for r in refs):
        return run_window
    return RunWindow(min(r.start for r in refs), max(r.last for r in refs) + timedelta(milliseconds=1))


def links(
    ctx: RunContext, trace_id: str, mr_url: str = "", changes_url: str = "", kind_name: str = "Merge request"
) -> tuple[Link, ...]:
    found = []
    if url := ctx.source.trace_url(trace_id):
        found.append(Link("Langfuse trace", url))
    if mr_url.startswith(("https://", "http://")):
        found.append(Link(kind_name, mr_url))
    if changes_url.startswith(("https://", "http://")):
        found.append(Link("Changes", changes_url))
    return tuple(found)


def what_was_done(evidence: ChangeEvidence, *, files_known: bool) -> str:
    """A few lines: the final commit, then commits and files with the largest changes."""
    lines = [f"final commit: {shorten(subject(evidence.final_commit) or '(no message)', 200)}"]
    if files_known:
        top = ", ".join(f"{shorten(f.path, 80)} {_delta(f.additions, f.deletions)}" for f in evidence.files[:TOP_FILES])
        at_least = "at least " if evidence.files_at_least else ""
        more = f" and {at_least}{evidence.file_count - TOP_FILES:,} more" if evidence.file_count > TOP_FILES else ""
        # A forge that counts no further (GitLab: "1000+" files, +/- of the diffs read only) gives lower bounds.
        files = ("at least " if evidence.files_at_least else "") + _n(evidence.file_count, "file")
        delta = ", at least " if evidence.lines_at_least else " "
        lines.append(
            f"{_commits(evidence)}, {files} changed{delta}"
            f"{_delta(evidence.additions, evidence.deletions)}" + (f": {top}{more}" if top else "")
        )
    else:
        lines.append(f"{_commits(evidence)} (the changed files were not read)")
    return "\n".join(lines)


def _commits(evidence: ChangeEvidence) -> str:
    # GitLab leaves a list's total out past 10,000 rows: the count is then the page read, a lower bound.
    return ("at least " if evidence.commits_at_least else "") + _n(evidence.commit_count, "commit")


def drift_finding(
    ctx: RunContext,
    mr: MrRef,
    info: MergeRequestInfo,
    evidence: ChangeEvidence,
    ref: TraceRef,
    verdict: Verdict,
    refs: list[TraceRef],
) -> Finding:
    """The alert for one change request; `refs` are its traces this run judged, `ref` the one with the
    lowest score. Its window is the span of those traces.

    It shows the objective, what was done (final commit, commits, files), each reason it fired (a
    score below the threshold, the explicit checks) and links to the trace and to the changes.
    """
    agent = ref.agent or "unknown agent"
    kind_name = "Pull request" if mr.forge == "github" else "Merge request"
    reasons = verdict.reasons
    signals = (["scope creep"] if verdict.incoherent else []) + [c.name.replace("_", " ") for c in verdict.checks]
    headline = f"score {verdict.score:.2f} < {verdict.threshold:.2f}" if verdict.below else ", ".join(signals)
    return Finding(
        monitor=MONITOR,
        # The head is part of the key: new commits are a new piece of work to judge.
        dedupe_key=f"{mr}@{evidence.head_sha or info.final_commit.id}",
        severity=Severity.WARNING,
        kind="drift",
        rank=1,
        title=f"Goal drift: {shorten(agent, 80)} on {mr} ({headline})",
        summary=_summary(verdict),
        observed_at=ctx.now,
        window=traces_span(refs, ctx.window),
        fields=(
            ("Objective", shorten(as_text(ref.objective))),
            ("What was done", what_was_done(evidence, files_known=verdict.files_known)),
            ("Why", "\n".join(reasons)),
            ("Score", verdict.score_text),
            ("Agent", shorten(agent, 200)),
            (
                kind_name,
                f"{mr} ({info.state or 'unknown state'}), head {(evidence.head_sha or info.final_commit.id)[:12]}",
            ),
            ("Traces", str(len(refs))),
        ),
        evidence={
            "similarity": round(verdict.score, 4),
            "threshold": verdict.threshold,
            "method": verdict.method,
            "repo": mr.repo,
            "mr_iid": mr.iid,
            "forge": mr.forge,
            "commit": evidence.head_sha or info.final_commit.id,
            "traces": len(refs),
            "trace_id": ref.trace_id,
            "checks": [c.name for c in verdict.checks],
            "commits": evidence.commit_count,
            "files": evidence.file_count,
            "additions": evidence.additions,
            "deletions": evidence.deletions,
            **({"files_at_least": True} if evidence.files_at_least else {}),
            **({"lines_at_least": True} if evidence.lines_at_least else {}),
            **({"commits_at_least": True} if evidence.commits_at_least else {}),
            **({} if math.isnan(verdict.coherence) else {"coherence": round(verdict.coherence, 4)}),
        },
        links=links(ctx, ref.trace_id, info.web_url, info.changes_url, kind_name),
    )


def _summary(verdict: Verdict) -> str:
    if verdict.below and verdict.checks:
        return "What the change request did does not match the objective, and explicit checks fired."
    if verdict.below:
        return "What the change request did does not match the objective the agent was given."
    if verdict.incoherent and not verdict.checks:
        return "The change request does what was asked and something else: its commits are about unrelated work."
    return "The change request does something the objective did not ask for."


def _n(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def _delta(additions: int | None, deletions: int | None) -> str:
    return f"+{additions or 0:,}/-{deletions or 0:,}"


# The reason of traces with an objective and no change request: nothing for drift to check, not a failure.
# Stored findings and the weekly report match on this text, so it stays as it is.
NOT_LINKED = "traces state an objective but name no merge request"


def unverifiable_finding(ctx: RunContext, subject: str, reason: str, refs: Iterable[TraceRef]) -> Finding:
    """An INFO finding: these traces could not be checked, and why (kept for the weekly report)."""
    ordered = sorted(refs, key=lambda r: (r.start, r.trace_id))
    first = ordered[0]
    what = (
        f"Goal drift: traces of {shorten(subject, 120)} name no merge or pull request"
        if reason == NOT_LINKED
        else f"Goal drift could not be checked for {shorten(subject, 120)}"
    )
    return Finding(
        monitor=MONITOR,
        dedupe_key=f"unverifiable:{subject}:{reason}"[:300],
        severity=Severity.INFO,
        kind="unverifiable",
        title=what,
        summary=reason,
        observed_at=ctx.now,
        window=traces_span(ordered, ctx.window),
        fields=(
            ("Reason", reason),
            ("Agent", shorten(first.agent or "unknown agent", 200)),
            ("Traces", str(len(ordered))),
        ),
        evidence={"reason": reason, "subject": subject, "traces": len(ordered), "trace_id": first.trace_id},
        links=links(ctx, first.trace_id),
    )


def drift_resolved(
    ctx: RunContext, mr: MrRef, info: MergeRequestInfo, score: float, threshold: float, refs: Iterable[TraceRef]
) -> list[Finding]:
    """Every earlier commit's drift finding of `mr`, resolved: its new head matches the objective. The
    pipeline sends a notice only for the ones it had notified. Like the alert, a notice is about the span
    of `refs`, the traces that judged the new head."""
    head = info.final_commit
    window = traces_span(refs, ctx.window)
    reason = f"The new head commit {head.id[:12]} of {mr} matches the objective (score {score:.2f} >= {threshold:.2f})."
    return [
        Finding(
            monitor=MONITOR,
            dedupe_key=f"{mr}@{commit.id}",
            severity=Severity.WARNING,
            kind="drift",
            rank=1,
            title=f"Goal drift on {mr} at commit {commit.id[:12]}",
            summary=reason,
            observed_at=ctx.now,
            window=window,
            status=Status.RESOLVED,
        )
        for commit in info.commits
        if commit.id != head.id
    ]

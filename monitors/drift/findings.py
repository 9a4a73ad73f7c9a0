"""The findings goal-drift reports: a drift alert, and an "unverifiable" note for the weekly report.

All text is plain; objectives and commit messages are agent-written and go into fields as-is (shortened),
for the renderers to escape. Links are built from the trace source and GitLab's own web_url only.
"""

from __future__ import annotations

from collections.abc import Iterable

from monitors.contracts.findings import Finding, Link, Severity, Status
from monitors.contracts.forge import MergeRequestInfo
from monitors.contracts.monitor import RunContext
from monitors.drift.candidates import MrRef, TraceRef, as_text

MONITOR = "drift"
SHOWN_CHARS = 500  # objective / commit text shown in an alert


def shorten(text: str, limit: int = SHOWN_CHARS) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def links(ctx: RunContext, trace_id: str, mr_url: str = "") -> tuple[Link, ...]:
    found = []
    if url := ctx.source.trace_url(trace_id):
        found.append(Link("Langfuse trace", url))
    if mr_url.startswith(("https://", "http://")):
        found.append(Link("Merge request", mr_url))
    return tuple(found)


def drift_finding(
    ctx: RunContext,
    mr: MrRef,
    info: MergeRequestInfo,
    ref: TraceRef,
    similarity: float,
    threshold: float,
    traces: int,
    did_mode: str,
    cosine: float | None = None,
) -> Finding:
    """The alert for one merge request; `ref` is its trace with the lowest score.

    With a normalised method the score is not a cosine (it can be negative), so the alert calls it a
    score, says what it measures, and shows the plain cosine beside it.
    """
    commit = info.final_commit
    agent = ref.agent or "unknown agent"
    return Finding(
        monitor=MONITOR,
        # The final commit is part of the key: new commits are a new piece of work to judge.
        dedupe_key=f"{mr}@{commit.id}",
        severity=Severity.WARNING,
        kind="drift",
        rank=1,
        title=f"Goal drift: {shorten(agent, 80)} on {mr} (score {similarity:.2f} < {threshold:.2f})",
        summary="The merge request's final commit does not match the objective the agent was given.",
        observed_at=ctx.now,
        window=ctx.window,
        fields=(
            ("Objective", shorten(as_text(ref.objective))),
            ("What was done", shorten(commit.text)),
            ("Score", _score_text(similarity, threshold, cosine)),
            ("Agent", shorten(agent, 200)),
            ("Merge request", f"{mr} ({info.state or 'unknown state'}), final commit {commit.id[:12]}"),
            ("Traces", str(traces)),
        ),
        evidence={
            "similarity": round(similarity, 4),
            "threshold": threshold,
            "repo": mr.repo,
            "mr_iid": mr.iid,
            "commit": commit.id,
            "traces": traces,
            "trace_id": ref.trace_id,
            "did_text": did_mode,
            **({"cosine": round(cosine, 4)} if cosine is not None else {}),
        },
        links=links(ctx, ref.trace_id, info.web_url),
    )


def _score_text(score: float, threshold: float, cosine: float | None) -> str:
    if cosine is None:
        return f"{score:.3f} cosine similarity (threshold {threshold:.3f})"
    return (
        f"{score:.3f} (threshold {threshold:.3f}): how much closer the objective and the commit are to each other "
        f"than to the repository's other work; plain cosine {cosine:.2f}"
    )


def unverifiable_finding(ctx: RunContext, subject: str, reason: str, refs: Iterable[TraceRef]) -> Finding:
    """An INFO finding: these traces could not be checked, and why (kept for the weekly report)."""
    ordered = sorted(refs, key=lambda r: (r.start, r.trace_id))
    first = ordered[0]
    return Finding(
        monitor=MONITOR,
        dedupe_key=f"unverifiable:{subject}:{reason}"[:300],
        severity=Severity.INFO,
        kind="unverifiable",
        title=f"Goal drift could not be checked for {shorten(subject, 120)}",
        summary=reason,
        observed_at=ctx.now,
        window=ctx.window,
        fields=(
            ("Reason", reason),
            ("Agent", shorten(first.agent or "unknown agent", 200)),
            ("Traces", str(len(ordered))),
        ),
        evidence={"reason": reason, "subject": subject, "traces": len(ordered), "trace_id": first.trace_id},
        links=links(ctx, first.trace_id),
    )


def drift_resolved(ctx: RunContext, mr: MrRef, info: MergeRequestInfo, score: float, threshold: float) -> list[Finding]:
    """Every earlier commit's drift finding of `mr`, resolved: its new head matches the objective. The
    pipeline sends a notice only for the ones it had notified."""
    head = info.final_commit
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
            status=Status.RESOLVED,
        )
        for commit in info.commits
        if commit.id != head.id
    ]

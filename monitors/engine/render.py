"""The one place a Finding becomes a neutral Message: one alert, a resolved notice, or a group.

Notifiers never look at findings: they map a Message onto their own payload and escape every string
in it (see monitors.support.safe_text). Nothing built here is markup; agent text is passed through as
plain text. Every alert ends with a next step for its kind, including the exact `run-monitor silence`
command that mutes it (the key is the prefix `Silence.covers` matches).
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from dataclasses import replace

from monitors.contracts.findings import Finding, Link, Severity, Status, utc
from monitors.contracts.message import Message, Section

PRODUCT = "langfuse-monitors"
MUTE_FOR = "4h"
MAX_GROUP_LINKS = 10

# What a person should do first, per check. The silence command is appended by `next_step`.
_COST_STEP = "pause {who} or raise the cap of budget {budget}"
_STEPS: Mapping[str, str] = {
    "budget": _COST_STEP,
    "projection": "act before the cap is reached: " + _COST_STEP,
    "spike": "check the top contributors and costliest traces of {who}",
    "loop": "stop session {session} of {agent}: it repeats the same tool calls",
    "repeat": "check session {session} of {agent}: it makes the same call again and again",
    "runaway": "stop session {session} of {agent} and set a step limit for it",
    "backtrack": "check session {session} of {agent}: it undoes its own work",
    "error_storm": "check the failing tool in session {session} of {agent}",
    "plan": "compare the plan of session {session} with what {agent} did",
    "soft_failure": "check the failing tool in session {session} of {agent}: its answers say it failed",
    "conversation_loop": "read session {session} of {agent}: it keeps asking or answering the same thing",
    "monologue": "read session {session} of {agent}: its model repeats itself between two tool calls",
    "claimed_not_done": "check session {session} of {agent}: it says it did work that no tool call did",
    "error_burst": "open the example traces and fix the cause of {agent}'s error",
    "error_share": "open the example traces: {agent} fails far more often than usual",
    "failing_scores": "open the example traces: evaluator {evaluator} fails {agent} more often than allowed",
    "critical_score": "open the trace the critical evaluator {evaluator} failed for {agent}",
    "drift": "review the {change} against its objective before merging",
    "unverifiable": "give the agent's traces an objective and a merge request the monitor can read",
}
# An audit alert about a session that has ended has nothing left to stop; one whose session's times are
# not real cannot say whether it still runs (evidence `session_state`).
_ENDED_STEPS: Mapping[str, str] = {
    "loop": "review session {session} of {agent} and any merge request it opened: it repeated the same tool calls",
    "runaway": "review session {session} of {agent} and any merge request it opened, and set a step limit for {agent}",
}
_UNKNOWN_STEPS: Mapping[str, str] = {
    "loop": "stop session {session} of {agent} if it still runs: it repeats the same tool calls",
    "runaway": "stop session {session} of {agent} if it still runs, and set a step limit for it",
}


def message_for(finding: Finding) -> Message:
    """Build the alert for one finding: title, severity, summary, fields, next step, links and a footer."""
    fields = list(finding.fields)
    if finding.window is not None:
        fields.append(("Window", str(finding.window)))
    resolved = finding.status is Status.RESOLVED
    if not resolved:
        fields.append(("Next step", next_step(finding)))
    title = finding.title.strip() or _default_title(finding)
    return Message(
        title=f"Resolved: {title}" if resolved and not title.lower().startswith("resolved") else title,
        severity=finding.severity,
        summary=finding.summary,
        fields=tuple(fields),
        links=finding.links,
        footer=_footer(finding),
        fingerprint=finding.fingerprint,
        monitor=finding.monitor,
        kind=finding.kind,
        status=finding.status,
        observed_at=f"{utc(finding.observed_at):%Y-%m-%dT%H:%M:%SZ}",
    )


def silence_key(finding: Finding) -> str:
    """The narrowest `--key` that mutes this finding and its later days or checks."""
    evidence = finding.evidence
    if finding.monitor == "cost" and "budget" in evidence and "value" in evidence:
        return f"{evidence['budget']}:{evidence['value']}"  # every day and check of this budget and value
    if finding.monitor == "audit" and ":" in finding.dedupe_key:
        return finding.dedupe_key.rpartition(":")[0]  # "<session>:<check>" -> every check of this session
    if finding.monitor == "drift" and "@" in finding.dedupe_key:
        return finding.dedupe_key.partition("@")[0]  # "<repo>#58@<head>" -> the change request at every head
    return finding.dedupe_key


def next_step(finding: Finding) -> str:
    """'pause agent llm-fix or raise …; mute: run-monitor silence cost --key per-agent:llm-fix --for 4h'."""
    evidence = finding.evidence
    scope, value = str(evidence.get("scope", "")), str(evidence.get("value", ""))
    who = "the agents driving this spend" if scope in ("", "none") else f"{scope} {value}"
    template = _STEPS.get(finding.kind, "look at the finding's details")
    if finding.monitor == "audit":
        state = evidence.get("session_state")
        by_state = _ENDED_STEPS if state == "ended" else _UNKNOWN_STEPS if state == "unknown" else {}
        template = by_state.get(finding.kind, template)
    action = template.format(
        who=who,
        budget=evidence.get("budget", "?"),
        session=evidence.get("session", "?"),
        agent=evidence.get("agent", "the agent"),
        evaluator=evidence.get("evaluator", "?"),
        change="pull request" if evidence.get("forge") == "github" else "merge request",
    )
    command = f"run-monitor silence {finding.monitor} --key {shlex.quote(silence_key(finding))} --for {MUTE_FOR}"
    return f"{action}; mute: {command}"


def group_key(labels: Mapping[str, str], group_by: Sequence[str]) -> str | None:
    """'agent=llm-fix day=2026-11-21', or None when the finding lacks a label the route groups by."""
    if not group_by or any(not labels.get(name) for name in group_by):
        return None
    return " ".join(f"{name}={labels[name]}" for name in group_by)


def group_message(messages: Sequence[Message], group: str) -> Message:
    """One message for the parts of an incident: paged at the loudest part, every part kept in full.

    The loudest part's title, summary and fields lead; each part (the loudest too) follows as a section
    with its own summary, fields and next step, so nothing of the detail is lost. An alert that waited for
    the group's interval and ended meanwhile is shown by its resolved notice alone: beside its own end it
    would page the group as firing, an incident that nothing closes; one that escalated meanwhile (80%
    waiting, then 100%) is shown by its latest alert alone.
    """
    messages = _without_ended(messages)
    if len(messages) == 1:
        return messages[0]
    # Firing parts lead: a resolved part, however loud it was, is news of something that is over.
    ordered = sorted(messages, key=lambda m: (m.status is Status.RESOLVED, -m.severity, m.observed_at))
    loudest = ordered[0]
    over = "Resolved: " if loudest.status is Status.RESOLVED else ""  # every part is resolved
    firing = [m for m in messages if m.status is not Status.RESOLVED]
    counts = {s: sum(m.severity == s for m in firing) for s in sorted(Severity, reverse=True)}
    tally = ", ".join([f"{n} {s.label}" for s, n in counts.items() if n] + _resolved_count(messages))
    links: dict[str, Link] = {}
    for message in ordered:
        for link in message.links:
            links.setdefault(link.url, link)
    return Message(
        title=f"{over}{len(messages)} alerts, one incident ({group}): {loudest.title.removeprefix(over)}",
        severity=loudest.severity,
        summary=f"These alerts share {group} ({tally}). {loudest.summary}".strip(),
        fields=tuple((label, _group_step(value, firing)) for label, value in loudest.fields if label == "Next step"),
        links=tuple(links.values())[:MAX_GROUP_LINKS],
        sections=tuple(_part_section(m) for m in ordered),
        footer=f"{PRODUCT} · group: {group} · {len(messages)} alerts",
        fingerprint=f"group:{group}",
        monitor=loudest.monitor if len({m.monitor for m in messages}) == 1 else "",
        kind=loudest.kind,
        status=loudest.status,
        observed_at=max(m.observed_at for m in messages),
        group=group,
        parts=tuple(m.fingerprint for m in ordered),
    )


def with_still_open(message: Message, still_open: Sequence[str]) -> Message:
    """A group's resolved notice that leaves other parts of its incident open says so: a reader (and a
    channel with incidents of its own, PagerDuty) must not take the incident for over."""
    if not still_open:
        return message
    note = f"{len(still_open)} other alert(s) of this group still stand."
    return replace(message, still_open=tuple(still_open), summary=f"{message.summary} {note}".strip())


def _without_ended(messages: Sequence[Message]) -> list[Message]:
    """`messages` (oldest first) less the alerts that a later part of the same finding ends or replaces:
    its resolved notice, or its own later alert (a 100% page that came while the 80% warning waited for
    the group's interval makes the warning redundant, as it would be had the warning not waited)."""
    ended_at = {m.fingerprint: i for i, m in enumerate(messages) if m.status is Status.RESOLVED and m.fingerprint}
    latest = {m.fingerprint: i for i, m in enumerate(messages) if m.status is not Status.RESOLVED and m.fingerprint}
    return [
        m
        for i, m in enumerate(messages)
        if m.status is Status.RESOLVED or (i > ended_at.get(m.fingerprint, -1) and i == latest.get(m.fingerprint, i))
    ]


def _group_step(step: str, firing: Sequence[Message]) -> str:
    """The loudest part's next step heads the group; its silence command mutes that part alone, so when
    other parts fire too the header says so rather than let a reader think the incident is muted."""
    if len(firing) < 2 or "; mute: " not in step:
        return step
    action, command = step.split("; mute: ", 1)
    return f"{action}; mute this part: {command} (each part below has its own)"


def _resolved_count(messages: Sequence[Message]) -> list[str]:
    resolved = sum(m.status is Status.RESOLVED for m in messages)
    return [f"{resolved} resolved"] if resolved else []


def _part_section(message: Message) -> Section:
    lines = [message.summary] if message.summary.strip() else []
    lines += [f"{label}: {value}" for label, value in message.fields]
    lines.append(message.footer)
    mark, title = message.marked_title()
    return Section(f"{mark} {title}", tuple(lines))


def _default_title(finding: Finding) -> str:
    what = f" {finding.kind}" if finding.kind else ""
    return f"{finding.monitor}{what} finding"


def _footer(finding: Finding) -> str:
    # Names the monitor and the check so a reader knows which config section to tune or silence
    # (`run-monitor silence MONITOR --key KEY`).
    parts = [PRODUCT, f"monitor: {finding.monitor}"]
    if finding.kind:
        parts.append(f"check: {finding.kind}")
    parts.append(f"key: {finding.dedupe_key}")
    parts.append(f"observed {utc(finding.observed_at):%Y-%m-%d %H:%M} UTC")
    return " · ".join(parts)


def test_message() -> Message:
    """A harmless message for `run-monitor test-alert --channel NAME`."""
    return Message(
        title="Test alert from langfuse-monitors",
        severity=Severity.INFO,
        summary=("If you can read this, the channel is set up correctly. Nothing is wrong and no action is needed."),
        fields=(("Purpose", "channel check"),),
        footer=f"{PRODUCT} · test-alert",
        fingerprint="test-alert",
        kind="test",
    )


test_message.__test__ = False  # type: ignore[attr-defined]  # not a pytest test when imported into one

"""The one place a Finding becomes a neutral Message.

Notifiers never look at findings: they map a Message onto their own payload and escape every string
in it (see monitors.support.safe_text). Nothing built here is markup; agent text is passed through as plain text.
"""

from __future__ import annotations

from monitors.contracts.findings import Finding, Severity, utc
from monitors.contracts.message import Message

PRODUCT = "langfuse-monitors"


def message_for(finding: Finding) -> Message:
    """Build the alert for one finding: title, severity, summary, fields, links and a footer."""
    fields = list(finding.fields)
    if finding.window is not None:
        fields.append(("Window", str(finding.window)))
    return Message(
        title=finding.title.strip() or _default_title(finding),
        severity=finding.severity,
        summary=finding.summary,
        fields=tuple(fields),
        links=finding.links,
        footer=_footer(finding),
    )


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
        fields=(("Purpose", "webhook check"),),
        footer=f"{PRODUCT} · test-alert",
    )


test_message.__test__ = False  # type: ignore[attr-defined]  # not a pytest test when imported into one

"""The neutral message: built once from findings, mapped by each notifier onto its own format.

Every string in a Message is plain text and may hold untrusted agent text. Notifiers escape all of it
for their format (see `monitors.support.safe_text`); nothing here is markup. Links are built by us.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from monitors.contracts.findings import Link, Severity, Status


@dataclass(frozen=True, slots=True)
class Section:
    """A titled block of plain-text lines (the weekly digest is made of these)."""

    heading: str
    lines: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Message:
    """One alert (or a group of alerts of one incident, listed in `sections`).

    The identity fields are empty for messages that are not about findings (digest, test alert):
    `fingerprint` is what channels with their own deduplication key on (PagerDuty's dedup_key), a
    group's fingerprint names the group; `status` says whether the alert fires or has resolved.
    """

    title: str
    severity: Severity
    summary: str = ""
    fields: tuple[tuple[str, str], ...] = ()
    links: tuple[Link, ...] = ()
    sections: tuple[Section, ...] = ()
    footer: str = ""
    fingerprint: str = ""
    monitor: str = ""
    kind: str = ""
    status: Status = Status.FIRING
    observed_at: str = ""  # ISO 8601, UTC
    group: str = ""  # e.g. "agent=llm-fix day=2026-11-21" when a route grouped findings into this message
    parts: tuple[str, ...] = ()  # the fingerprints a grouped message stands for
    # A resolved notice of a group: the group's other parts whose alerts are still open on the channel it
    # goes to (set at delivery), so a channel with incidents (PagerDuty) does not close one that still fires.
    still_open: tuple[str, ...] = ()

    def marked_title(self) -> tuple[str, str]:
        """("[CRITICAL]", title) to head a terminal line or a group's part; a resolved notice is marked
        "[RESOLVED]" instead of the severity it fired at, its title without the "Resolved: " prefix."""
        if self.status is Status.RESOLVED:
            return "[RESOLVED]", self.title.removeprefix("Resolved: ")
        return f"[{self.severity.label.upper()}]", self.title

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["severity"] = self.severity.label
        data["status"] = self.status.value
        if not self.still_open:
            del data["still_open"]  # set at delivery on a group's notice; never in the outbox or on a terminal
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Message:
        return cls(
            title=str(data["title"]),
            severity=Severity.parse(data["severity"]),
            summary=str(data.get("summary", "")),
            fields=tuple((str(k), str(v)) for k, v in data.get("fields", ())),
            links=tuple(Link(str(link["label"]), str(link["url"])) for link in data.get("links", ())),
            sections=tuple(
                Section(str(s["heading"]), tuple(str(line) for line in s.get("lines", ())))
                for s in data.get("sections", ())
            ),
            footer=str(data.get("footer", "")),
            fingerprint=str(data.get("fingerprint", "")),
            monitor=str(data.get("monitor", "")),
            kind=str(data.get("kind", "")),
            status=Status(data.get("status", Status.FIRING)),
            observed_at=str(data.get("observed_at", "")),
            group=str(data.get("group", "")),
            parts=tuple(str(p) for p in data.get("parts", ())),
            still_open=tuple(str(p) for p in data.get("still_open", ())),
        )

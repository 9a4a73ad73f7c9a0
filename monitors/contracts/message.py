"""The neutral message: built once from findings, mapped by each notifier onto its own format.

Every string in a Message is plain text and may hold untrusted agent text. Notifiers escape all of it
for their format (see `monitors.support.safe_text`); nothing here is markup. Links are built by us.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from monitors.contracts.findings import Link, Severity


@dataclass(frozen=True, slots=True)
class Section:
    """A titled block of plain-text lines (the weekly digest is made of these)."""

    heading: str
    lines: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Message:
    title: str
    severity: Severity
    summary: str = ""
    fields: tuple[tuple[str, str], ...] = ()
    links: tuple[Link, ...] = ()
    sections: tuple[Section, ...] = ()
    footer: str = ""

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["severity"] = self.severity.label
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
        )

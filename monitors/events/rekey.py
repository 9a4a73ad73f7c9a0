"""Stored error tallies re-keyed after the signature masking changed (signature.SIGNATURE_VERSION).

The tallies are keyed by signature. Were they left under the older signatures, every error the monitor
already knows would have no usual count under its new signature once: "new", so a burst from
`min_count`, and a burst alerted before the upgrade would alert again under a new fingerprint.

Each stored group is re-keyed from its example (the earliest message, whole when shorter than
EXAMPLE_CHARS), else from its old signature's text; groups that now share a signature merge. The level
prefix stays, and so do the overflow group and groups without a status message (their signature is the
observation's name, which no mask touches). A merged group's alerts stay keyed on the old signature of
its largest part, the one most likely to have alerted already.
"""

from __future__ import annotations

from monitors.events.signature import normalise
from monitors.events.tally import EXAMPLE_CHARS, OVERFLOW, Group, Groups

_NO_MESSAGE = "(no status message)"


def rekey(groups: Groups) -> tuple[Groups, int]:
    """The groups under the current masking's signatures, and how many groups changed signature."""
    out: Groups = {}
    changed = 0
    for day, agents in groups.items():
        out[day] = {}
        for agent, sigs in agents.items():
            merged: dict[str, Group] = {}
            # Largest first: the group a merge keeps its alert key from.
            for old, group in sorted(sigs.items(), key=lambda kv: (-kv[1].count, kv[1].first, kv[0])):
                new = signature_now(old, group)
                changed += new != old
                moved = Group(group.count, group.first, group.last, list(group.earliest), group.example)
                moved.alert_signature = group.alert_signature or (old if new != old else "")
                if new in merged:
                    merged[new].merge(moved)
                else:
                    merged[new] = moved
            out[day][agent] = dict(sorted(merged.items()))
    return out, changed


def signature_now(old: str, group: Group) -> str:
    """What the current masking makes of a group stored under `old`."""
    level, sep, text = old.partition(": ")
    if old == OVERFLOW or not sep or text.startswith(_NO_MESSAGE):
        return old
    whole = group.example and len(group.example) < EXAMPLE_CHARS
    return f"{level}: {normalise(group.example if whole else text)}"

"""Stored error tallies re-keyed after the signature masking changed (signature.SIGNATURE_VERSION).

The tallies are keyed by signature. Were they left under the older signatures, every error the monitor
already knows would have no usual count under its new signature once: "new", so a burst from
`min_count`, and a burst alerted before the upgrade would alert again under a new fingerprint.

Each stored group is re-keyed from its example (the earliest message, whole when shorter than
EXAMPLE_CHARS), else from its old signature's text; groups that now share a signature merge. The level
prefix stays, and so do the overflow group and groups without a status message (their signature is the
observation's name, which no mask touches). A merged group's alerts stay keyed on the old signature of
its largest part, the one most likely to have alerted already.

A group whose example was cut (a Python traceback: its failure is at its end) is keyed from its old
signature's text, and the current masking of that is not always the current masking of the whole message
(version 1 masked error codes and exit statuses it now keeps; version 2 took a dated model name whole for
an <id>). So such groups stay pending (`pending_from`), under the version they were stored with: when the
monitor next sees an error whose signature under that version's frozen masking (MASKINGS) is theirs, it
moves them to that error's signature (`adopt`), on every day, keeping their alert key. Groups still
pending from an earlier upgrade are carried through the next one (`carry`).

A change that splits what an older version grouped (version 3 tells gpt-4o-<date> from
claude-3-5-sonnet-<date>, which version 2 both masked as <id>) cannot share a group's count out: the
group goes whole to the signature of its example, and the other part's errors have no history under
their own signature until the baseline days have passed.
"""

from __future__ import annotations

from collections.abc import Callable

from monitors.events.signature import normalise
from monitors.events.signature_v1 import normalise_v1
from monitors.events.signature_v2 import normalise_v2
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
    if not _has_message(old):
        return old
    level, _, text = old.partition(": ")
    return f"{level}: {normalise(group.example if _whole(group) else text)}"


# {agent: {signature under an older version: the signature rekey() gave it}} for groups re-keyed from
# their old signature's text: their errors' signature under the current masking is known when one is seen.
Pending = dict[str, dict[str, str]]
# The frozen maskings of the older versions, by version: what names a pending group's errors.
MASKINGS: dict[int, Callable[..., str]] = {1: normalise_v1, 2: normalise_v2}


def pending_from(groups: Groups) -> Pending:
    """The groups (stored under an older version) that rekey() can only key from their old signature's text."""
    out: Pending = {}
    for agents in groups.values():
        for agent, sigs in agents.items():
            for old, group in sigs.items():
                if _has_message(old) and not _whole(group):
                    out.setdefault(agent, {})[old] = signature_now(old, group)
    return out


def carry(pending: Pending, groups: Groups) -> Pending:
    """`pending` (left by an earlier upgrade) pointing where rekey(groups) moves each group it names."""
    out: Pending = {}
    for agents in groups.values():
        for agent, sigs in agents.items():
            for old, provisional in pending.get(agent, {}).items():
                if provisional in sigs:
                    out.setdefault(agent, {})[old] = signature_now(provisional, sigs[provisional])
    return out


def merged(first: Pending, second: Pending) -> Pending:
    return {agent: first.get(agent, {}) | second.get(agent, {}) for agent in first.keys() | second.keys()}


def adopt(groups: Groups, agent: str, provisional: str, signature: str) -> None:
    """Move `agent`'s groups from `provisional` to `signature` on every day, merging. Alerts stay keyed as
    before the move (the group's alert signature, else the key it had)."""
    for agents in groups.values():
        sigs = agents.get(agent, {})
        moved = sigs.pop(provisional, None)
        if moved is None:
            continue
        moved.alert_signature = moved.alert_signature or provisional
        if signature in sigs:
            target = sigs[signature]
            target.merge(moved)
            target.alert_signature = target.alert_signature or moved.alert_signature
        else:
            sigs[signature] = moved


def still_pending(groups: Groups, pending: Pending) -> Pending:
    """`pending` without the entries whose re-keyed group is gone (adopted, or pruned with its days)."""
    held: dict[str, set[str]] = {}
    for agents in groups.values():
        for agent, sigs in agents.items():
            held.setdefault(agent, set()).update(sigs)
    out: Pending = {}
    for agent, olds in pending.items():
        if kept := {old: new for old, new in olds.items() if new in held.get(agent, ())}:
            out[agent] = kept
    return out


def _has_message(signature: str) -> bool:
    """A status message's signature: not the overflow group, nor an observation's name."""
    _, sep, text = signature.partition(": ")
    return signature != OVERFLOW and bool(sep) and not text.startswith(_NO_MESSAGE)


def _whole(group: Group) -> bool:
    return bool(group.example) and len(group.example) < EXAMPLE_CHARS

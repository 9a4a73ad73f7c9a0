"""Each agent's recent tool-call count per session: the baseline the runaway check compares against.

Kept in ctx.state as {agent: [[session, count], ...]}, oldest first, `session` a short hash of the
session key (the key is agent-chosen text of any length). A session that spans the window edge is
audited by two runs (the second reads it whole): it counts once, at its latest count, and is left out
of its own baseline, so a long session is never compared against its own first half.
"""

from __future__ import annotations

import hashlib
from typing import Any

HISTORY_KEY = "agent_tool_calls"
MAX_AGENTS = 500  # agent names come from traces; bound the state


class UsualCounts:
    """Per agent, (session hash, tool calls) of its recent sessions; bare numbers (older state) have no hash."""

    def __init__(self, stored: Any) -> None:
        self._agents: dict[str, list[tuple[str | None, int]]] = {}
        for agent, entries in (stored if isinstance(stored, dict) else {}).items():
            if isinstance(entries, list) and len(self._agents) < MAX_AGENTS:
                self._agents[str(agent)] = [e for e in map(_entry, entries) if e is not None]

    def past(self, agent: str, session_key: str) -> list[int]:
        """The agent's recent counts, oldest first, without this session's own earlier count."""
        own = _session_id(session_key)
        return [count for session, count in self._agents.get(agent, []) if session != own]

    def remember(self, agent: str, session_key: str, count: int, size: int) -> None:
        if agent not in self._agents and len(self._agents) >= MAX_AGENTS:
            return
        own = _session_id(session_key)
        kept = [e for e in self._agents.get(agent, []) if e[0] != own]
        self._agents[agent] = [*kept, (own, count)][-size:]

    def to_json(self) -> dict[str, list[list[Any]]]:
        return {agent: [[s, c] for s, c in entries] for agent, entries in self._agents.items()}


def _entry(item: Any) -> tuple[str | None, int] | None:
    if isinstance(item, int) and not isinstance(item, bool):
        return None, item
    if isinstance(item, list) and len(item) == 2 and isinstance(item[1], int) and not isinstance(item[1], bool):
        return (str(item[0]) if item[0] is not None else None), item[1]
    return None


def _session_id(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "replace")).hexdigest()[:16]

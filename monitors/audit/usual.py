"""Each agent's recent tool-call count per session: the baseline the runaway check compares against.

Kept in ctx.state as {agent: [[session, count], ...]} (monitors.support.recent), `session` a short hash
of the session key (the key is agent-chosen text of any length). A session that spans the window edge is
audited by two runs (the second reads it whole): it counts once, at its latest count, and is left out
of its own baseline, so a long session is never compared against its own first half.
"""

from __future__ import annotations

import hashlib
from typing import Any

from monitors.support.recent import RecentByKey

HISTORY_KEY = "agent_tool_calls"
MAX_AGENTS = 500  # agent names come from traces; bound the state


class UsualCounts:
    """Per agent, the tool calls of its recent sessions, one count per session."""

    def __init__(self, stored: Any, size: int) -> None:
        self.size = size
        self._agents: dict[str, RecentByKey] = {}
        for agent, entries in (stored if isinstance(stored, dict) else {}).items():
            if isinstance(entries, list) and len(self._agents) < MAX_AGENTS:
                self._agents[str(agent)] = RecentByKey(entries, size)

    def past(self, agent: str, session_key: str) -> list[int]:
        """The agent's recent counts, oldest first, without this session's own earlier count."""
        history = self._agents.get(agent)
        return history.values_except(_session_id(session_key)) if history else []

    def remember(self, agent: str, session_key: str, count: int) -> None:
        if agent not in self._agents and len(self._agents) >= MAX_AGENTS:
            return
        self._agents.setdefault(agent, RecentByKey([], self.size)).put(_session_id(session_key), count)

    def to_json(self) -> dict[str, list[list[Any]]]:
        return {agent: history.to_json() for agent, history in self._agents.items()}


def _session_id(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "replace")).hexdigest()[:16]

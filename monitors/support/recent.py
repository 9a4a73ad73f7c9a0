"""A bounded history of recent values, one per key, kept in a monitor's JSON state.

The baselines that say what is usual for an agent (the size of its change requests, the tool calls of
its sessions) must count each item once, however often a run sees it again: a pull request pushed five
times, a session read by the two runs its window edge splits. So each value is stored under its key,
the latest wins and moves last, and the oldest fall off past `size`. Stored as [[key, value], ...];
a bare number (the format before keys) is read as a value without a key.
"""

from __future__ import annotations


class RecentByKey:
    def __init__(self, stored: object, size: int) -> None:
        self.size = size
        entries = (_entry(item) for item in (stored if isinstance(stored, list) else []))
        self._entries: list[tuple[str | None, int]] = [e for e in entries if e is not None][-size:]

    def values_except(self, key: str) -> list[int]:
        """The values, oldest first, without `key`'s own: an item is never part of its own baseline."""
        return [value for k, value in self._entries if k != key]

    def put(self, key: str, value: int) -> bool:
        """Hold `value` as `key`'s latest; False (nothing changed) when it already held exactly that."""
        if (key, value) in self._entries:
            return False
        self._entries = [*(e for e in self._entries if e[0] != key), (key, value)][-self.size :]
        return True

    def to_json(self) -> list[list[str | int | None]]:
        return [[key, value] for key, value in self._entries]


def _entry(item: object) -> tuple[str | None, int] | None:
    if isinstance(item, int | float) and not isinstance(item, bool):
        return None, int(item)
    if isinstance(item, list) and len(item) == 2:
        key, value = item
        if isinstance(value, int | float) and not isinstance(value, bool):
            return (None if key is None else str(key)), int(value)
    return None

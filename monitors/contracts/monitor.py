"""The monitor contract: a name, a Config model, and run(ctx) -> findings.

Monitors never call HTTP directly, never open the store and never send anything. Everything they read
comes through the RunContext (a trace source, small persisted state, the embedding cache, the forges),
which the pipeline builds. That makes each monitor testable as a function of its inputs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, ClassVar, Protocol

from pydantic import BaseModel

from monitors.contracts.findings import Finding, RunWindow, Status
from monitors.contracts.forge import ChangeCache, MemoryChangeCache
from monitors.contracts.source import Score, TraceSource


class KeyValueState(Protocol):
    """Small JSON-able state a monitor keeps between runs (cost caches, agents' usual counts).

    Writes made during a run are persisted in the same transaction as the outbox and the watermark,
    and are discarded by a dry run.
    """

    def get(self, key: str) -> Any | None: ...

    def put(self, key: str, value: Any) -> None: ...


class EmbeddingCache(Protocol):
    """Vectors keyed by (model, sha256 of the text)."""

    def get_many(self, model: str, hashes: Iterable[str]) -> dict[str, list[float]]: ...

    def put_many(self, model: str, vectors: Mapping[str, list[float]]) -> None: ...


class MemoryState:
    """A KeyValueState held in memory: tests, dry runs and the overlay the pipeline commits."""

    def __init__(self, initial: Mapping[str, Any] | None = None) -> None:
        self.values: dict[str, Any] = dict(initial or {})
        self.dirty: dict[str, Any] = {}

    def get(self, key: str) -> Any | None:
        return self.values.get(key)

    def put(self, key: str, value: Any) -> None:
        self.values[key] = value
        self.dirty[key] = value


class MemoryEmbeddingCache:
    def __init__(self) -> None:
        self.vectors: dict[tuple[str, str], list[float]] = {}

    def get_many(self, model: str, hashes: Iterable[str]) -> dict[str, list[float]]:
        return {h: self.vectors[(model, h)] for h in hashes if (model, h) in self.vectors}

    def put_many(self, model: str, vectors: Mapping[str, list[float]]) -> None:
        for h, v in vectors.items():
            self.vectors[(model, h)] = list(v)


@dataclass
class RunContext:
    """Everything one monitor run may read, built by the pipeline."""

    window: RunWindow
    now: datetime
    source: TraceSource
    state: KeyValueState = field(default_factory=MemoryState)
    embedding_cache: EmbeddingCache = field(default_factory=MemoryEmbeddingCache)
    # Built lazily: only goal-drift needs GitLab / GitHub, and only when the window has change requests.
    gitlab_factory: Callable[[], Any] | None = None
    github_factory: Callable[[], Any] | None = None
    # Goal-drift's evidence and scores per change request and head commit (the store's table).
    change_cache: ChangeCache = field(default_factory=MemoryChangeCache)
    metadata_keys: Mapping[str, str] = field(default_factory=dict)
    scores: list[Score] = field(default_factory=list)
    # Findings that no longer hold (status resolved, same monitor and dedupe_key as when they fired);
    # the pipeline sends a resolved notice where a route asks for one, if the finding was notified.
    resolved: list[Finding] = field(default_factory=list)
    counters: dict[str, int] = field(default_factory=dict)
    # Requests to the forges by endpoint ("gitlab:mr_commits"), beside the trace source's own counts.
    forge_requests: dict[str, int] = field(default_factory=dict)
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("monitors"))

    def count(self, name: str, n: int = 1) -> None:
        """Count something worth reporting in the run summary (e.g. skipped sessions)."""
        self.counters[name] = self.counters.get(name, 0) + n

    def count_forge_requests(self, by_endpoint: Mapping[str, int]) -> None:
        """Add requests a forge client made in this run, by endpoint (reported in the run summary)."""
        for endpoint, n in by_endpoint.items():
            if n > 0:
                self.forge_requests[endpoint] = self.forge_requests.get(endpoint, 0) + n

    def resolve(self, finding: Finding, reason: str) -> None:
        """Say that `finding` (as it fired) no longer holds, and why (shown in the resolved notice)."""
        self.resolved.append(replace(finding, status=Status.RESOLVED, summary=reason, observed_at=self.now))

    def meta_key(self, role: str) -> str:
        """The metadata key that holds `role` ("objective", "mr_iid", ...), as renamed in config."""
        return self.metadata_keys.get(role, role)


class Monitor(Protocol):
    name: ClassVar[str]
    Config: ClassVar[type[BaseModel]]

    def __init__(self, config: Any) -> None: ...

    def run(self, ctx: RunContext) -> Iterable[Finding]: ...

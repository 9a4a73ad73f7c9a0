"""Embedding a run's texts while its change requests are still being read from the forges.

Reading a change request mostly waits on the forge; embedding its texts is CPU work. The monitor hands
every forge answer to `EmbedAhead.add` as it arrives (monitors.drift.forges reads several at once), and
the texts of the answered change requests (their traces' objectives, the final commit, the changes
summary) are embedded in chunks while the other reads are in flight. The vectors stay in the embedder's
memory (monitors.support.embeddings), where scoring finds them: nothing is embedded twice. A chunk is
length-sorted like any embed call, so the vectors are the model's own for those texts; which texts
share a batch differs from embedding them all at the end, which moves a vector by float rounding only
(about 1e-7).

Only an answered change request's texts are embedded: a run whose forge is down loads no model.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from monitors.contracts.forge import MergeRequestInfo, MrProblem
from monitors.drift.candidates import MrRef
from monitors.support.embeddings import Embedder

CHUNK = 512  # texts per embed call: 8 batches of 64, large enough to sort by length, small enough to overlap


class EmbedAhead:
    """Collects the texts of answered change requests; embeds them once `chunk` are waiting."""

    def __init__(
        self, embedder: Embedder, texts_of: Callable[[MrRef, MergeRequestInfo], Iterable[str]], chunk: int = CHUNK
    ) -> None:
        self._embedder = embedder
        self._texts_of = texts_of
        self._chunk = chunk
        self._pending: dict[str, None] = {}  # an ordered set
        self._seen: set[str] = set()

    def add(self, mr: MrRef, result: MergeRequestInfo | MrProblem) -> None:
        if isinstance(result, MergeRequestInfo):
            self._pending.update((t, None) for t in self._texts_of(mr, result) if t not in self._seen)
        if len(self._pending) >= self._chunk:
            self.flush()

    def flush(self) -> None:
        """Embed whatever is waiting."""
        texts = list(self._pending)
        self._pending.clear()
        self._seen.update(texts)
        if texts:
            self._embedder.embed(texts)

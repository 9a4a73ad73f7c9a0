"""Goal-drift reads several change requests at once and embeds their texts while the others are read.

The forge reads (monitors.drift.forges) run on worker threads, one client each; results come back in
the order asked for. The texts of answered change requests are embedded ahead (monitors.drift.ahead)
into the embedder's memory, and scoring then finds them: no text is embedded twice and no score moves.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Sequence
from datetime import timedelta

import numpy as np
import pytest

from monitors.contracts.errors import SourceError
from monitors.contracts.forge import CommitInfo, MergeRequestInfo, MrProblem
from monitors.contracts.monitor import MemoryState, RunContext
from monitors.contracts.source import SourceStats
from monitors.drift.ahead import EmbedAhead
from monitors.drift.candidates import MrRef
from monitors.drift.forges import fetch_changes
from monitors.drift.monitor import GoalDriftConfig, GoalDriftMonitor
from monitors.sources.replay import ReplaySource
from monitors.support.embeddings import SentenceTransformerEmbedder
from tests.fakes.gitlab_server import FakeGitLab, Fault, running
from tests.test_embeddings import RecordingModel
from tests.test_goal_drift import HOST, T0, WINDOW, all_traces, gitlab_state, make_ctx

REFS = [MrRef("group/app", iid) for iid in range(1, 9)]


class StubForge:
    """A forge whose every read waits until `together` reads are in flight, then answers (or fails)."""

    def __init__(self, together: int, failing: frozenset[int] = frozenset()) -> None:
        self.stats = SourceStats()
        self.barrier = threading.Barrier(together)
        self.failing = failing
        self.lock = threading.Lock()
        self.threads: set[str] = set()

    def merge_request(self, repo: str, iid: int, **_: object) -> MergeRequestInfo | MrProblem:
        with self.lock:
            self.stats.count_request("gitlab:mr")
            self.threads.add(threading.current_thread().name)
        # A guard against a hang, not a measurement: the reads below either overlap or the test fails.
        self.barrier.wait(timeout=30)
        if iid in self.failing:
            return MrProblem("unavailable", "GitLab answered 503 after retries")
        commit = CommitInfo(f"sha{iid}", f"Change {iid}", f"Change {iid}", None)
        return MergeRequestInfo(repo, iid, f"MR {iid}", "", "", "opened", (commit,), head_sha=f"sha{iid}")


def ctx_with(factory: object) -> RunContext:
    return RunContext(
        window=WINDOW,
        now=T0 + timedelta(days=1),
        source=ReplaySource.from_observations([], host=HOST),
        state=MemoryState(),
        gitlab_factory=factory,  # type: ignore[arg-type]
    )


def test_reads_overlap_and_results_come_back_in_the_order_asked() -> None:
    built: list[StubForge] = []
    shared = StubForge(together=4)

    def factory() -> StubForge:
        built.append(shared)
        return shared

    ctx = ctx_with(factory)
    arrived: list[tuple[MrRef, str]] = []
    results = fetch_changes(
        ctx, REFS, {}, workers=4, on_result=lambda mr, r: arrived.append((mr, threading.current_thread().name))
    )
    # Four reads waited for each other at the barrier: they ran at once, on four worker threads.
    assert len(shared.threads) == 4 and len(built) == 4
    assert list(results) == REFS
    assert [r.iid for r in results.values() if isinstance(r, MergeRequestInfo)] == [mr.iid for mr in REFS]
    # Every result reached the caller once, in the caller's thread; the shared client counted once.
    assert sorted(arrived, key=lambda a: a[0].iid) == [(mr, threading.main_thread().name) for mr in REFS]
    assert ctx.counters["gitlab_requests"] == len(REFS) and ctx.forge_requests == {"gitlab:mr": len(REFS)}
    # The same client in a later run: only that run's requests are its, by endpoint as in total.
    later = ctx_with(factory)
    shared.barrier = threading.Barrier(1)
    fetch_changes(later, REFS[:3], {}, workers=2)
    assert shared.stats.by_endpoint == {"gitlab:mr": len(REFS) + 3}
    assert later.counters["gitlab_requests"] == 3 and later.forge_requests == {"gitlab:mr": 3}


def test_each_worker_thread_reads_through_a_client_of_its_own() -> None:
    clients: list[StubForge] = []

    def factory() -> StubForge:
        clients.append(StubForge(together=1))
        return clients[-1]

    ctx = ctx_with(factory)
    fetch_changes(ctx, REFS, {}, workers=3)
    assert 1 <= len(clients) <= 3
    assert all(len(c.threads) == 1 for c in clients)  # a client never crosses threads
    assert ctx.counters["gitlab_requests"] == len(REFS)
    # Summed by endpoint over every client the run used, whichever thread read what.
    assert ctx.forge_requests == {"gitlab:mr": len(REFS)} == sum((c.stats.by_endpoint for c in clients), Counter())


def test_one_failing_read_leaves_the_others_and_stays_retryable() -> None:
    ctx = ctx_with(lambda: StubForge(together=1, failing=frozenset({3})))
    results = fetch_changes(ctx, REFS, {}, workers=4)
    failed = [mr.iid for mr, r in results.items() if isinstance(r, MrProblem)]
    assert failed == [3] and results[REFS[2]].retryable  # type: ignore[union-attr]


def test_a_forge_down_for_every_read_still_fails_the_run() -> None:
    ctx = ctx_with(lambda: StubForge(together=1, failing=frozenset(mr.iid for mr in REFS)))
    with pytest.raises(SourceError, match="GitLab unavailable for all 8"):
        fetch_changes(ctx, REFS, {}, workers=4)


class CountingEmbedder:
    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(list(texts))
        return np.ones((len(texts), 2), dtype=np.float32)


def test_embed_ahead_waits_for_a_chunk_and_skips_texts_already_sent() -> None:
    embedder = CountingEmbedder()
    ahead = EmbedAhead(embedder, lambda mr, info: [f"objective {mr.iid}", info.final_commit.text], chunk=4)  # type: ignore[arg-type]
    forge = StubForge(together=1)
    ahead.add(REFS[0], forge.merge_request("group/app", 1))
    ahead.add(REFS[1], MrProblem("not_found", "gone"))  # nothing to embed for a change request not read
    assert embedder.calls == []
    ahead.add(REFS[1], forge.merge_request("group/app", 2))
    assert embedder.calls == [["objective 1", "Change 1", "objective 2", "Change 2"]]
    ahead.add(REFS[0], forge.merge_request("group/app", 1))  # the same texts again: already embedded
    ahead.flush()
    assert len(embedder.calls) == 1


class NoMemoryEmbedder(SentenceTransformerEmbedder):
    keeps_vectors = False  # the monitor then embeds nothing ahead: the reference run


def scores_and_batches(embedder: SentenceTransformerEmbedder, server: FakeGitLab) -> tuple[dict, list[str]]:
    ctx = make_ctx(all_traces(), server, MemoryState())
    list(GoalDriftMonitor(GoalDriftConfig(), embedder=embedder).run(ctx))
    model: RecordingModel = embedder._model
    return {s.trace_id: s.value for s in ctx.scores}, [t for batch in model.batches for t in batch]


def test_embedding_ahead_embeds_each_text_once_and_moves_no_score() -> None:
    with running(gitlab_state()) as server:
        ahead_scores, ahead_texts = scores_and_batches(SentenceTransformerEmbedder(model=RecordingModel()), server)
        plain_scores, plain_texts = scores_and_batches(NoMemoryEmbedder(model=RecordingModel()), server)
    assert ahead_scores == plain_scores and set(ahead_scores) == {"t-good", "t-drift"}
    assert len(ahead_texts) == len(set(ahead_texts))  # nothing embedded twice
    assert set(ahead_texts) == set(plain_texts)  # and nothing embedded that scoring does not use


def test_a_forge_down_for_every_read_loads_no_model() -> None:
    model = RecordingModel()
    with running(gitlab_state()) as server:
        server.faults.append(Fault(status=503, times=1000))
        with pytest.raises(SourceError):
            list(
                GoalDriftMonitor(GoalDriftConfig(), embedder=SentenceTransformerEmbedder(model=model)).run(
                    make_ctx(all_traces(), server)
                )
            )
    assert model.batches == []

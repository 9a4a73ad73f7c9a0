"""Reading goal-drift's change requests from their forges: GitLab merge requests, GitHub pull requests.

Each change request is read once per run, from the forge its reference names (monitors.drift.candidates),
with the evidence cached for its last judged head so an unchanged one costs a single request. Failures
stay per change request (an `MrProblem`), except two that mean the run itself should fail so its
watermark stays: a forge unavailable for every change request it was asked for, and a forge that
rejects the token for every one (a revoked token would otherwise turn drift detection off silently).

A forge answers one request at a time per connection, so with a remote forge most of a run would be
spent waiting: up to `workers` change requests are read at once, each worker thread with a client of
its own (its own connection and retry state; the clients' retry and rate-limit rules apply per call as
before). Results arrive in the calling thread as they complete (`on_result`, e.g. to embed their texts
while the rest are still being read) and are returned in the order they were asked for.

The run counts each forge's requests in total (`gitlab_requests`) and by endpoint (`gitlab:mr_diffs`,
as the clients name them), summed over the run's clients, each counted from where it stood when the
run first used it.
"""

from __future__ import annotations

import threading
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Any

from monitors.contracts.errors import ConfigError, SourceError
from monitors.contracts.forge import MergeRequestInfo, MrProblem
from monitors.contracts.monitor import RunContext
from monitors.drift.cache import CachedChange
from monitors.drift.candidates import MrRef

FORGE_NAMES = {"gitlab": "GitLab", "github": "GitHub"}
_NOUNS = {"gitlab": "merge request(s)", "github": "pull request(s)"}
Fetched = dict[MrRef, MergeRequestInfo | MrProblem]
OnResult = Callable[[MrRef, MergeRequestInfo | MrProblem], None]
WORKERS = 4  # change requests read at once per forge (the monitor's `forge_workers`)


def fetch_changes(
    ctx: RunContext,
    wanted: Sequence[MrRef],
    cached: Mapping[MrRef, CachedChange],
    *,
    changes: bool = True,
    workers: int = WORKERS,
    on_result: OnResult | None = None,
) -> Fetched:
    """Every wanted change request, read from its forge (the cached evidence passed along); with
    `changes=False` its commits only (a method that scores the final commit alone, checks off).

    `on_result` is called in this thread with each result as it arrives; the returned dict follows the
    forges' names, then `wanted`'s order, whatever order the reads finished in."""
    by_forge: dict[str, list[MrRef]] = defaultdict(list)
    for mr in wanted:
        by_forge[mr.forge].append(mr)
    factories = {"gitlab": ctx.gitlab_factory, "github": ctx.github_factory}
    if by_forge and not any(factories[forge] for forge in by_forge):
        needed = " and ".join(f"{f} (url and token)" for f in sorted(by_forge))
        raise ConfigError(f"goal-drift needs a forge source to read change requests: configure {needed}")
    results: Fetched = {}
    for forge, refs in sorted(by_forge.items()):
        factory = factories[forge]
        if factory is None:
            problem = MrProblem("no_access", f"{FORGE_NAMES[forge]} is not configured ({forge}.url and {forge}.token)")
            results.update(dict.fromkeys(refs, problem))
            continue
        read, requests = _reader(factory, cached, changes)
        with ThreadPoolExecutor(max(1, min(workers, len(refs))), thread_name_prefix=f"drift-{forge}") as pool:
            futures = {pool.submit(read, mr): mr for mr in refs}
            arrived: Fetched = {}
            try:
                for future in as_completed(futures):
                    mr = futures[future]
                    arrived[mr] = future.result()
                    if on_result is not None:
                        on_result(mr, arrived[mr])
            except BaseException:
                for future in futures:  # an error (or an interrupt) stops the reads not yet started
                    future.cancel()
                raise
        results.update((mr, arrived[mr]) for mr in refs)
        total, by_endpoint = requests()
        ctx.count(f"{forge}_requests", total)
        ctx.count_forge_requests(by_endpoint)
        _fail_when_the_forge_is_down(forge, [results[mr] for mr in refs])
    return results


def _reader(
    factory: Callable[[], Any], cached: Mapping[MrRef, CachedChange], changes: bool
) -> tuple[Callable[[MrRef], MergeRequestInfo | MrProblem], Callable[[], tuple[int, Counter[str]]]]:
    """(read one change request, requests made so far in total and by endpoint): each thread reads
    through a client of its own."""
    local = threading.local()
    lock = threading.Lock()
    # id(client): (client, its request count and counts by endpoint when first seen)
    made: dict[int, tuple[Any, int, Counter[str]]] = {}

    def client() -> Any:
        if getattr(local, "client", None) is None:
            local.client = factory()
            with lock:  # a factory may hand every thread the same client: count its requests once
                if id(local.client) not in made:
                    stats = local.client.stats
                    made[id(local.client)] = (local.client, stats.requests, _by_endpoint(stats))
        return local.client

    def read(mr: MrRef) -> MergeRequestInfo | MrProblem:
        entry = cached.get(mr)
        evidence = entry.evidence if entry and entry.evidence.files_read == changes else None
        return client().merge_request(mr.repo, mr.iid, cached=evidence, changes=changes)

    def requests() -> tuple[int, Counter[str]]:
        total, by_endpoint = 0, Counter[str]()
        for c, before, before_by_endpoint in made.values():
            total += c.stats.requests - before
            by_endpoint += _by_endpoint(c.stats) - before_by_endpoint  # Counter subtraction keeps n > 0
        return total, by_endpoint

    return read, requests


def _by_endpoint(stats: Any) -> Counter[str]:
    return Counter(getattr(stats, "by_endpoint", {}))


def _fail_when_the_forge_is_down(forge: str, results: Sequence[MergeRequestInfo | MrProblem]) -> None:
    name, noun = FORGE_NAMES[forge], _NOUNS[forge]
    problems = [r for r in results if isinstance(r, MrProblem)]
    down = [p for p in problems if p.retryable]
    if down and len(down) == len(results):
        raise SourceError(f"{name} unavailable for all {len(down)} {noun}: {down[0].detail}")
    rejected = [p for p in problems if p.code == "bad_token"]
    if rejected and len(rejected) == len(results):
        raise SourceError(f"{name} rejected the token for all {len(rejected)} {noun}: check {forge}.token")

"""Reading goal-drift's change requests from their forges: GitLab merge requests, GitHub pull requests.

Each change request is read once per run, from the forge its reference names (monitors.drift.candidates),
with the evidence cached for its last judged head so an unchanged one costs a single request. Failures
stay per change request (an `MrProblem`), except two that mean the run itself should fail so its
watermark stays: a forge unavailable for every change request it was asked for, and a forge that
rejects the token for every one (a revoked token would otherwise turn drift detection off silently).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence

from monitors.contracts.errors import ConfigError, SourceError
from monitors.contracts.forge import MergeRequestInfo, MrProblem
from monitors.contracts.monitor import RunContext
from monitors.drift.cache import CachedChange
from monitors.drift.candidates import MrRef

FORGE_NAMES = {"gitlab": "GitLab", "github": "GitHub"}
_NOUNS = {"gitlab": "merge request(s)", "github": "pull request(s)"}
Fetched = dict[MrRef, MergeRequestInfo | MrProblem]


def fetch_changes(
    ctx: RunContext, wanted: Sequence[MrRef], cached: Mapping[MrRef, CachedChange], *, changes: bool = True
) -> Fetched:
    """Every wanted change request, read from its forge (the cached evidence passed along); with
    `changes=False` its commits only (a method that scores the final commit alone, checks off)."""
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
        source = factory()
        before = source.stats.requests
        for mr in refs:
            entry = cached.get(mr)
            evidence = entry.evidence if entry and entry.evidence.files_read == changes else None
            results[mr] = source.merge_request(mr.repo, mr.iid, cached=evidence, changes=changes)
        ctx.count(f"{forge}_requests", source.stats.requests - before)
        _fail_when_the_forge_is_down(forge, [results[mr] for mr in refs])
    return results


def _fail_when_the_forge_is_down(forge: str, results: Sequence[MergeRequestInfo | MrProblem]) -> None:
    name, noun = FORGE_NAMES[forge], _NOUNS[forge]
    problems = [r for r in results if isinstance(r, MrProblem)]
    down = [p for p in problems if p.retryable]
    if down and len(down) == len(results):
        raise SourceError(f"{name} unavailable for all {len(down)} {noun}: {down[0].detail}")
    rejected = [p for p in problems if p.code == "bad_token"]
    if rejected and len(rejected) == len(results):
        raise SourceError(f"{name} rejected the token for all {len(rejected)} {noun}: check {forge}.token")

"""Goal-drift monitor: did the agent do what it was asked? Objective vs the merge request's final commit.

Per run: read the traces in the window that carry an objective or a merge-request reference (metadata
keys `objective`, `mr_iid`, `repo`, renamable), fetch each distinct merge request once from GitLab, build
"what was done" (the final commit by date; optionally plus the MR title/description, or all commits),
score every (objective, did) pair in one batched call and alert below the threshold. Each evaluated
trace gets a `goal_drift_similarity` score written back to Langfuse with a deterministic id, so reruns
overwrite instead of duplicating. Traces that cannot be checked become INFO findings with the reason.

Run state (`ctx.state`): per repository the recent (objective, did) pairs, the background the default
`csls` scoring compares against; and traces whose merge request GitLab failed to serve, retried by the
next runs. When GitLab fails for every merge request the run fails (SourceError) so the watermark stays.

numpy, torch and sentence-transformers are imported only when there is something to score.
"""

from __future__ import annotations

import hashlib
import math
from collections import defaultdict
from collections.abc import Iterator
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from monitors.contracts.errors import ConfigError, SourceError
from monitors.contracts.findings import Finding
from monitors.contracts.forge import ChangeEvidence, MergeRequestInfo, MrProblem
from monitors.contracts.monitor import RunContext
from monitors.contracts.source import ObservationQuery, Score
from monitors.drift.candidates import (
    PENDING_KEY,
    PENDING_MAX,
    PENDING_TRIES,
    MrRef,
    TraceRef,
    as_text,
    fill_from_sessions,
    fold_traces,
    from_pending,
    parse_mr_ref,
    to_pending,
)
from monitors.drift.findings import drift_finding, unverifiable_finding
from monitors.support.embeddings import DEFAULT_MODEL

EVIDENCE = "evidence"  # the default method: monitors.drift.evidence_score (kept light: no import here)
DID_CHARS = 4000  # the embedding model reads ~256 tokens anyway; bounds the work for huge commit lists
HISTORY_PREFIX = "history:"  # ctx.state key per repository: recent [objective, did] pairs
HISTORY_SIZE = 30
HISTORY_CHARS = 1000  # bounds the state's size
_FIELDS = frozenset({"core", "basic", "metadata", "trace_context"})
Evaluated = dict[MrRef, tuple[MergeRequestInfo, list[TraceRef]]]


class GoalDriftConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    threshold: float | None = Field(
        None, ge=-2.0, le=2.0, description="Alert below this score (default: the method's calibrated one)."
    )
    method: str | None = Field(
        None, description="Scoring method: evidence (default: final commit + changes) or one of drift_scoring.METHODS."
    )
    model: str = Field(DEFAULT_MODEL, description="sentence-transformers model name or local path.")
    did_text: Literal["final_commit", "final_commit+mr", "all_commits"] = Field(
        "final_commit", description="What counts as 'what was done': the final commit, plus the MR, or all commits."
    )
    batch_size: int = Field(64, ge=1, le=4096, description="Texts per embedding batch.")
    write_scores: bool = Field(True, description="Write the similarity back to Langfuse as a trace score.")
    score_name: str = Field("goal_drift_similarity", min_length=1, max_length=100, description="Score name.")
    default_repo: str | None = Field(None, description="GitLab project path for traces that name only an MR iid.")
    root_only: bool = Field(False, description="Read only root observations (only if agents tag the root span).")

    @field_validator("method")
    @classmethod
    def _known_method(cls, method: str | None) -> str | None:
        from monitors.drift.scoring import METHODS  # light: no numpy at import

        if method is not None and method != EVIDENCE and method not in METHODS:
            raise ValueError(f"unknown method {method!r}; expected one of {EVIDENCE}, {', '.join(METHODS)}")
        return method


def evidence_of(info: MergeRequestInfo) -> ChangeEvidence:
    """The change request's evidence: cached, or built from its commits, files and patches (commits alone
    when the source reads no changes, e.g. the offline fixture)."""
    if info.evidence is not None:
        return info.evidence
    from monitors.drift.evidence import build_evidence

    oldest_first = list(reversed(info.commits_newest_first()))
    return build_evidence(
        [c.text for c in oldest_first],
        info.files or (),
        info.patches,
        final_commit=info.final_commit.text,
        head_sha=info.head_sha or info.final_commit.id,
        patch_complete=info.patch_complete,
    )


def _did(pair: Any) -> str:
    return pair.final if hasattr(pair, "final") else pair.did


def _history_entry(pair: Any) -> list[str]:
    entry = [pair.objective[:HISTORY_CHARS], _did(pair)[:HISTORY_CHARS]]
    return [*entry, pair.summary[:HISTORY_CHARS]] if hasattr(pair, "summary") else entry


def score_id(trace_id: str, score_name: str) -> str:
    """Deterministic score id: a rerun (or a later window seeing the same trace) overwrites the score."""
    return hashlib.sha256(f"{trace_id}:{score_name}".encode()).hexdigest()[:32]


def did_text(info: MergeRequestInfo, mode: str) -> str:
    """The text that stands for what the agent did, per the `did_text` setting."""
    if mode == "all_commits":
        text = "\n\n".join(c.text for c in info.commits_newest_first())
    elif mode == "final_commit+mr":
        text = "\n\n".join(p for p in (info.final_commit.text, info.title, info.description.strip()) if p)
    else:
        text = info.final_commit.text
    return text[:DID_CHARS]


class GoalDriftMonitor:
    """Objective vs final commit of the agent's merge request, by sentence-embedding similarity."""

    name: ClassVar[str] = "drift"
    Config: ClassVar[type[GoalDriftConfig]] = GoalDriftConfig

    def __init__(self, config: GoalDriftConfig, *, embedder: Any = None) -> None:
        self.config = config
        self._embedder = embedder  # tests inject a fake; otherwise built on first use

    def run(self, ctx: RunContext) -> Iterator[Finding]:
        threshold, method = self.scoring_settings()
        traces = self._read_traces(ctx)
        candidates: dict[MrRef, list[TraceRef]] = defaultdict(list)
        problems: dict[tuple[str, str], list[TraceRef]] = defaultdict(list)
        for ref in traces.values():
            target = self._classify(ctx, ref)
            (candidates[target] if isinstance(target, MrRef) else problems[target]).append(ref)
        ctx.count("drift_candidates", sum(map(len, candidates.values())))
        mrs = self._fetch(ctx, list(candidates))
        evaluated: Evaluated = {}
        pending: list[TraceRef] = []
        for mr, refs in candidates.items():
            result = mrs[mr]
            if isinstance(result, MergeRequestInfo):
                evaluated[mr] = (result, refs)
                continue
            for ref in refs:
                ref.tries += 1
            if result.retryable and max(r.tries for r in refs) < PENDING_TRIES:
                pending.extend(refs)
            else:
                problems[(str(mr), f"GitLab: {result.detail}")].extend(refs)
        self._keep_pending(ctx, pending, problems)
        yield from self._evaluate(ctx, evaluated, threshold, method)
        for (subject, reason), refs in sorted(problems.items()):
            ctx.count("unverifiable")
            yield unverifiable_finding(ctx, subject, reason, refs)

    def scoring_settings(self) -> tuple[float, str]:
        """(threshold, method): the configured ones, or the calibrated defaults of drift_scoring."""
        from monitors.drift import scoring as drift_scoring

        method = self.config.method or EVIDENCE
        if method != EVIDENCE and method not in drift_scoring.METHODS:
            raise ConfigError(f"monitors.drift.method: unknown method {method!r}")
        if self.config.threshold is not None:
            return self.config.threshold, method
        if method == EVIDENCE:
            from monitors.drift.evidence_score import THRESHOLD

            return THRESHOLD, method
        # Each method has its own scale: the default threshold follows the method.
        per_method = getattr(drift_scoring, "METHOD_THRESHOLDS", {})
        return float(per_method.get(method, drift_scoring.DEFAULT_THRESHOLD)), method

    def _read_traces(self, ctx: RunContext) -> dict[str, TraceRef]:
        keys = {role: ctx.meta_key(role) for role in ("feature", "objective", "repo")}
        keys["mr"] = ctx.meta_key("mr_iid")
        # One read for both keys: a trace with only one of them is still worth reporting ("no
        # objective", "no merge request"), and Langfuse cannot filter on "key is set" server-side, so
        # rows without either key are dropped as they stream. Memory grows with traces, not rows.
        rows = ctx.source.observations(
            ObservationQuery(
                ctx.window, fields=_FIELDS, root_only=self.config.root_only, expand_metadata=(keys["objective"],)
            )
        )
        wanted = (keys["objective"], keys["mr"])
        traces = fold_traces((o for o in rows if any(o.metadata.get(k) not in (None, "") for k in wanted)), keys)
        fill_from_sessions(traces)
        for ref in from_pending(ctx.state.get(PENDING_KEY)):
            traces.setdefault(ref.trace_id, ref).tries = ref.tries
        return traces

    def _classify(self, ctx: RunContext, ref: TraceRef) -> MrRef | tuple[str, str]:
        """The merge request to check for `ref`, or (subject, reason) when it cannot be checked."""
        target = parse_mr_ref(ref.mr, ref.repo, self.config.default_repo) if as_text(ref.mr) else None
        subject = str(target) if isinstance(target, MrRef) else f"session {ref.group_key}"
        if ref.objective is None or not as_text(ref.objective):
            ctx.count("no_objective")
            return subject, "the objective is empty" if ref.objective is not None else "the trace states no objective"
        if target is None:
            ctx.count("no_mr_reference")
            # Many agents never open a merge request: one note per agent, not one per session.
            return f"agent {ref.agent or 'unknown'}", "traces state an objective but name no merge request"
        if isinstance(target, str):
            ctx.count("bad_mr_reference")
            return subject, target
        return target

    def _fetch(self, ctx: RunContext, wanted: list[MrRef]) -> dict[MrRef, MergeRequestInfo | MrProblem]:
        if not wanted:
            return {}
        if ctx.gitlab_factory is None:
            raise ConfigError("gitlab: goal-drift needs a GitLab source (gitlab.url and gitlab.token)")
        gitlab = ctx.gitlab_factory()
        before = gitlab.stats.requests
        results = {mr: gitlab.merge_request(mr.repo, mr.iid) for mr in wanted}
        ctx.count("gitlab_requests", gitlab.stats.requests - before)
        down = [r for r in results.values() if isinstance(r, MrProblem) and r.retryable]
        if len(down) == len(results):
            # GitLab itself is down: fail the run so the watermark stays and the next run retries.
            raise SourceError(f"GitLab unavailable for all {len(down)} merge request(s): {down[0].detail}")
        rejected = [r for r in results.values() if isinstance(r, MrProblem) and r.code == "bad_token"]
        if rejected and len(rejected) == len(results):
            # A revoked or expired token turns drift detection off silently unless the run fails.
            raise SourceError(f"GitLab rejected the token for all {len(rejected)} merge request(s): check gitlab.token")
        return results

    def _keep_pending(
        self, ctx: RunContext, pending: list[TraceRef], problems: dict[tuple[str, str], list[TraceRef]]
    ) -> None:
        """Park traces GitLab failed to serve for the next run; overflow is reported, never dropped."""
        pending.sort(key=lambda r: r.start)
        for ref in pending[:-PENDING_MAX] if len(pending) > PENDING_MAX else []:
            problems[(f"session {ref.group_key}", "GitLab kept failing; too many traces waiting")].append(ref)
        kept = pending[-PENDING_MAX:]
        ctx.count("deferred", len(kept))
        if kept or ctx.state.get(PENDING_KEY):
            ctx.state.put(PENDING_KEY, [to_pending(r) for r in kept])

    def _evaluate(self, ctx: RunContext, evaluated: Evaluated, threshold: float, method: str) -> Iterator[Finding]:
        if not evaluated:
            return
        from monitors.drift.evidence import summary_text
        from monitors.drift.evidence_score import EvidenceTexts
        from monitors.drift.scoring import DriftPair

        dids = {mr: did_text(info, self.config.did_text) for mr, (info, _) in evaluated.items()}
        summaries = {mr: summary_text(evidence_of(info)) for mr, (info, _) in evaluated.items()}
        keys = {
            r.trace_id: (as_text(r.objective), dids[mr], mr.repo) for mr, (_, refs) in evaluated.items() for r in refs
        }
        if method == EVIDENCE:
            summary_of = {
                (as_text(r.objective), dids[mr], mr.repo): summaries[mr]
                for mr, (_, refs) in evaluated.items()
                for r in refs
            }
            texts = [EvidenceTexts(o, d, summary_of[(o, d, repo)], repo) for o, d, repo in sorted(set(keys.values()))]
            similarity = self._score(ctx, texts, method)
        else:
            similarity = self._score(ctx, [DriftPair(*k) for k in sorted(set(keys.values()))], method)
        for mr, (info, refs) in evaluated.items():
            sims = [(similarity[keys[r.trace_id]], r) for r in refs]
            if any(math.isnan(sim) for sim, _ in sims):
                # Only the did-text can be blank here (e.g. a message of git trailers only).
                ctx.count("unverifiable")
                yield unverifiable_finding(ctx, str(mr), "the final commit message has no text to compare", refs)
                continue
            ctx.count("evaluated", len(sims))
            for sim, ref in sims:
                self._add_score(ctx, ref, sim, info, threshold)
            worst, ref = min(sims, key=lambda s: (s[0], s[1].trace_id))
            if worst < threshold:
                ctx.count("drifted")
                cosine = self._cosine(ctx, keys[ref.trace_id], method)
                yield drift_finding(ctx, mr, info, ref, worst, threshold, len(refs), self.config.did_text, cosine)

    def _score(self, ctx: RunContext, pairs: list[Any], method: str) -> dict[tuple[str, str, str], float]:
        """Score all pairs in one call, against this run's pairs plus the repositories' recent history.

        History entries are [objective, did] or, since the evidence score, [objective, did, summary];
        the evidence score takes only the entries that have a summary as background.
        """
        from monitors.drift.evidence_score import EvidenceTexts, score_texts
        from monitors.drift.scoring import DriftPair, score_pairs

        history = {repo: list(ctx.state.get(f"{HISTORY_PREFIX}{repo}") or []) for repo in {p.repo for p in pairs}}
        # History keeps texts cut at HISTORY_CHARS: compare cut texts so a pair never meets itself.
        current = {(p.repo, p.objective[:HISTORY_CHARS]) for p in pairs}
        usable = [
            (repo, [str(x) for x in h])
            for repo, entries in sorted(history.items())
            for h in entries
            if isinstance(h, list) and len(h) in (2, 3) and (repo, str(h[0])[:HISTORY_CHARS]) not in current
        ]
        if method == EVIDENCE:
            reference_texts = [EvidenceTexts(h[0], h[1], h[2], repo) for repo, h in usable if len(h) == 3]
            scores = [s.score for s in score_texts(self._get_embedder(ctx), pairs, reference=reference_texts)]
        else:
            reference = [DriftPair(h[0], h[1], repo) for repo, h in usable]
            scores = score_pairs(self._get_embedder(ctx), pairs, method=method, reference=reference)
        for repo, entries in history.items():
            fresh = [_history_entry(p) for p in pairs if p.repo == repo]
            kept = [h for h in entries if h not in fresh]
            ctx.state.put(f"{HISTORY_PREFIX}{repo}", (kept + fresh)[-HISTORY_SIZE:])
        return {(p.objective, _did(p), p.repo): float(s) for p, s in zip(pairs, scores, strict=True)}

    def _cosine(self, ctx: RunContext, key: tuple[str, str, str], method: str) -> float | None:
        """The plain cosine of an alerting pair, shown beside a normalised score so a human can read it."""
        if method == "cosine":
            return None
        from monitors.drift.scoring import DriftPair, score_pairs

        return float(score_pairs(self._get_embedder(ctx), [DriftPair(*key)], method="cosine")[0])

    def _get_embedder(self, ctx: RunContext) -> Any:
        if self._embedder is None:
            from monitors.support.embeddings import SentenceTransformerEmbedder

            self._embedder = SentenceTransformerEmbedder(
                self.config.model, cache=ctx.embedding_cache, batch_size=self.config.batch_size
            )
        return self._embedder

    def _add_score(self, ctx: RunContext, ref: TraceRef, sim: float, info: MergeRequestInfo, threshold: float) -> None:
        if not self.config.write_scores:
            return
        mr = f"{info.repo}!{info.iid}"
        ctx.scores.append(
            Score(
                id=score_id(ref.trace_id, self.config.score_name),
                trace_id=ref.trace_id,
                name=self.config.score_name,
                value=round(sim, 6),
                timestamp=ref.start,
                comment=f"objective vs final commit {info.final_commit.id[:12]} of {mr}; threshold {threshold:.3f}",
            )
        )

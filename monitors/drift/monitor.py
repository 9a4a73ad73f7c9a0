"""Goal-drift monitor: did the agent do what it was asked? Objective vs what its change request changed.

Per run: read the traces in the window that carry an objective or a change-request reference (metadata
keys `objective`, `mr_iid`, `repo`, `scope`, renamable); read each distinct change request once from
its forge (a GitLab merge request or a GitHub pull request: monitors.drift.forges), turn it into
evidence (final commit, commits, changed files, names in the diff: monitors.drift.evidence), score
every (objective, evidence) pair in one batched call (monitors.drift.evidence_score by default), run
the explicit checks (monitors.drift.checks) and alert when the score is below the threshold or a check
fires. Each judged trace gets a `goal_drift_similarity` score in Langfuse with a deterministic id.
Traces that cannot be checked become INFO findings with the reason.

Between runs, per change request (the store's drift_changes table, monitors.drift.cache): the head
last judged with its evidence, scores and scored traces. An unchanged change request costs one forge
request and no scoring; a run that meets only traces already judged reads nothing. In the run state:
per repository the recent pairs (the scoring background), per agent the latest size of each of its
recent change requests (the `too_large` baseline: a change request pushed five times counts once), and
traces whose change request a forge failed to serve, retried by the next runs. When a forge fails for
every change request the run fails (SourceError) so the watermark stays.

numpy, torch and sentence-transformers are imported only when there is something to score.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

from monitors.contracts.errors import ConfigError
from monitors.contracts.findings import Finding
from monitors.contracts.forge import ChangeEvidence, MergeRequestInfo
from monitors.contracts.monitor import RunContext
from monitors.contracts.source import ObservationQuery, Score
from monitors.drift.ahead import EmbedAhead
from monitors.drift.cache import CachedChange, objective_key
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
from monitors.drift.checks import CheckResult, parse_scope, run_checks, updated_history, usual_sizes
from monitors.drift.coherence import COHERENCE_THRESHOLD, commit_coherence
from monitors.drift.config import EVIDENCE, GoalDriftConfig, did_text, score_id
from monitors.drift.evidence import evidence_of, summary_text
from monitors.drift.findings import NOT_LINKED, drift_finding, drift_resolved, unverifiable_finding
from monitors.drift.forges import FORGE_NAMES, fetch_changes
from monitors.drift.pool import PairKey, Scored, score_with_history
from monitors.drift.verdict import Verdict

CHURN_PREFIX = "churn:"  # ctx.state key per agent: lines changed by each of its recent change requests
_FIELDS = frozenset({"core", "basic", "metadata", "trace_context"})


@dataclass
class _Judged:
    """One change request in this run: what it is, its traces, and what the cache knew of it."""

    mr: MrRef
    info: MergeRequestInfo
    refs: list[TraceRef]
    evidence: ChangeEvidence
    entry: CachedChange
    new_head: bool  # not judged at this head before: its cached scores do not hold


class GoalDriftMonitor:
    """Objective vs what the agent's merge request or pull request changed."""

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
        cached = self._cached(ctx, list(candidates))
        # Change requests whose every trace was judged at the cached head need no request at all.
        settled = {mr: refs for mr, refs in candidates.items() if mr in cached and _all_scored(cached[mr], refs)}
        # The changed files are read when something uses them: the evidence score or the checks.
        changes = method == EVIDENCE or self.config.checks
        wanted = [mr for mr in candidates if mr not in settled]
        ahead = self._embed_ahead(ctx, candidates, method) if wanted else None
        fetched = fetch_changes(
            ctx,
            wanted,
            cached,
            changes=changes,
            workers=self.config.forge_workers,
            on_result=ahead.add if ahead else None,
        )
        if ahead is not None:
            ahead.flush()
        judged: list[_Judged] = [
            _Judged(mr, cached[mr].as_info(mr.repo, mr.iid, mr.forge), refs, cached[mr].evidence, cached[mr], False)
            for mr, refs in settled.items()
        ]
        ctx.count("already_judged", sum(map(len, settled.values())))
        pending: list[TraceRef] = []
        for mr, result in fetched.items():
            refs = candidates[mr]
            if isinstance(result, MergeRequestInfo):
                judged.append(self._judged(mr, result, refs, cached.get(mr)))
                continue
            for ref in refs:
                ref.tries += 1
            if result.retryable and max(r.tries for r in refs) < PENDING_TRIES:
                pending.extend(refs)
            else:
                problems[(str(mr), f"{FORGE_NAMES[mr.forge]}: {result.detail}")].extend(refs)
        self._keep_pending(ctx, pending, problems)
        # In time order, so an agent's usual change size is built from its earlier work first.
        judged.sort(key=lambda j: (min(r.start for r in j.refs), str(j.mr)))
        yield from self._evaluate(ctx, judged, threshold, method)
        for (subject, reason), refs in sorted(problems.items()):
            ctx.count("unverifiable")
            yield unverifiable_finding(ctx, subject, reason, refs)

    def scoring_settings(self) -> tuple[float, str]:
        """(threshold, method): the configured ones, or the calibrated defaults."""
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
        return float(drift_scoring.METHOD_THRESHOLDS[method]), method

    def _read_traces(self, ctx: RunContext) -> dict[str, TraceRef]:
        keys = {role: ctx.meta_key(role) for role in ("feature", "objective", "repo", "scope")}
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
        """The change request to check for `ref`, or (subject, reason) when it cannot be checked."""
        target = (
            parse_mr_ref(ref.mr, ref.repo, self.config.default_repo, self.config.forge_of) if as_text(ref.mr) else None
        )
        subject = str(target) if isinstance(target, MrRef) else f"session {ref.group_key}"
        if ref.objective is None or not as_text(ref.objective):
            ctx.count("no_objective")
            return subject, "the objective is empty" if ref.objective is not None else "the trace states no objective"
        if target is None:
            ctx.count("no_mr_reference")
            # Many agents never open a merge request: one note per agent, not one per session.
            return f"agent {ref.agent or 'unknown'}", NOT_LINKED
        if isinstance(target, str):
            ctx.count("bad_mr_reference")
            return subject, target
        return target

    @staticmethod
    def _cached(ctx: RunContext, wanted: list[MrRef]) -> dict[MrRef, CachedChange]:
        if not wanted:
            return {}
        found = ctx.change_cache.get_changes([mr.cache_key for mr in wanted])
        parsed = {mr: CachedChange.parse(found.get(mr.cache_key)) for mr in wanted}
        return {mr: entry for mr, entry in parsed.items() if entry is not None}

    @staticmethod
    def _judged(mr: MrRef, info: MergeRequestInfo, refs: list[TraceRef], old: CachedChange | None) -> _Judged:
        evidence = evidence_of(info)
        entry = CachedChange.of(info, evidence)
        same_head = old is not None and old.head == entry.head
        if same_head and old is not None:
            entry = entry.same_head(old)
        return _Judged(mr, info, refs, evidence, entry, new_head=not same_head)

    def _embed_ahead(self, ctx: RunContext, candidates: dict[MrRef, list[TraceRef]], method: str) -> EmbedAhead | None:
        """Texts embedded while the forge reads run (monitors.drift.ahead), when the embedder keeps them."""
        embedder = self._get_embedder(ctx)
        if not getattr(embedder, "keeps_vectors", False):
            return None
        from monitors.drift.scoring import DriftPair, embedded_texts

        def texts_of(mr: MrRef, info: MergeRequestInfo) -> list[str]:
            if method == EVIDENCE:
                evidence = evidence_of(info)
                dids = [evidence.final_commit, summary_text(evidence)]
            else:
                dids = [did_text(info, self.config.did_text)]
            objectives = dict.fromkeys(as_text(r.objective) for r in candidates[mr])
            return [t for o in objectives for d in dids for t in embedded_texts(DriftPair(o, d))]

        return EmbedAhead(embedder, texts_of)

    def _keep_pending(
        self, ctx: RunContext, pending: list[TraceRef], problems: dict[tuple[str, str], list[TraceRef]]
    ) -> None:
        """Park traces a forge failed to serve for the next run; overflow is reported, never dropped."""
        pending.sort(key=lambda r: r.start)
        for ref in pending[:-PENDING_MAX] if len(pending) > PENDING_MAX else []:
            problems[(f"session {ref.group_key}", "the forge kept failing; too many traces waiting")].append(ref)
        kept = pending[-PENDING_MAX:]
        ctx.count("deferred", len(kept))
        if kept or ctx.state.get(PENDING_KEY):
            ctx.state.put(PENDING_KEY, [to_pending(r) for r in kept])

    def _evaluate(self, ctx: RunContext, judged: list[_Judged], threshold: float, method: str) -> Iterator[Finding]:
        if not judged:
            return
        keys = {(j.mr, r.trace_id): self._pair_key(j, r, method) for j in judged for r in j.refs}
        scores = self._scores(ctx, judged, keys, method)
        coherences = self._coherences(ctx, judged, method)
        touched: dict[str, dict[str, Any]] = {}
        for j in judged:
            sims = [(scores[keys[(j.mr, r.trace_id)]], r) for r in j.refs]
            if any(math.isnan(s.score) for s, _ in sims):  # only the did-text can be blank here
                ctx.count("unverifiable")
                yield unverifiable_finding(ctx, str(j.mr), "the final commit message has no text to compare", j.refs)
                continue
            ctx.count("evaluated", len(sims))
            for scored, ref in sims:
                j.entry.scores[_score_key(method, keys[(j.mr, ref.trace_id)].objective)] = scored.score
                if ref.trace_id not in j.entry.traces:
                    self._add_score(ctx, ref, scored.score, j, threshold)
                    j.entry.traces.append(ref.trace_id)
            worst, ref = min(sims, key=lambda s: (s[0].score, s[1].trace_id))
            verdict = self._verdict(ctx, j, ref, worst, threshold, method, coherences[j.mr])
            touched[j.mr.cache_key] = j.entry.to_json()
            if verdict.alerts:
                ctx.count("drifted")
                ctx.count("checks_fired", len(verdict.checks))
                yield drift_finding(ctx, j.mr, j.info, j.evidence, ref, verdict, j.refs)
            else:  # the head now matches: a drift alert on an earlier commit of this MR no longer holds
                ctx.resolved.extend(drift_resolved(ctx, j.mr, j.info, worst.score, threshold, j.refs))
        ctx.change_cache.put_changes(touched, now=ctx.now)

    def _pair_key(self, j: _Judged, ref: TraceRef, method: str) -> PairKey:
        objective = as_text(ref.objective)
        if method == EVIDENCE:
            return PairKey(objective, j.evidence.final_commit, summary_text(j.evidence), j.mr.repo)
        return PairKey(objective, did_text(j.info, self.config.did_text), "", j.mr.repo)

    def _scores(
        self, ctx: RunContext, judged: list[_Judged], keys: dict[tuple[MrRef, str], PairKey], method: str
    ) -> dict[PairKey, Scored]:
        """Scores from the cache where the head and objective were judged before; the rest in one batch."""
        known: dict[PairKey, Scored] = {}
        for j in judged:
            for r in j.refs:
                key = keys[(j.mr, r.trace_id)]
                value = j.entry.scores.get(_score_key(method, key.objective))
                if value is not None and not j.new_head:
                    known[key] = Scored(value)
        needed = sorted({k for k in keys.values() if k not in known}, key=lambda k: (k.repo, k.objective, k.did))
        ctx.count("scored", len(needed))
        fresh = score_with_history(ctx, self._get_embedder(ctx), needed, method) if needed else {}
        return {**known, **fresh}

    def _coherences(self, ctx: RunContext, judged: list[_Judged], method: str) -> dict[MrRef, float]:
        """The evidence method's scope-creep signal per change request, in one batch (NaN when it is off)."""
        if method != EVIDENCE or not self.config.scope_coherence:
            return {j.mr: math.nan for j in judged}
        values = commit_coherence(self._get_embedder(ctx), [j.evidence for j in judged])
        return {j.mr: value for j, value in zip(judged, values, strict=True)}

    def _verdict(
        self,
        ctx: RunContext,
        j: _Judged,
        ref: TraceRef,
        scored: Scored,
        threshold: float,
        method: str,
        coherence: float = math.nan,
    ) -> Verdict:
        files_known = j.evidence.files_read
        checks: tuple[CheckResult, ...] = ()
        if self.config.checks:
            agent_key = f"{CHURN_PREFIX}{ref.agent or 'unknown'}"
            stored = ctx.state.get(agent_key)
            usual = usual_sizes(stored, j.mr.cache_key)
            # A string may arrive JSON-encoded (SDK v5): as_text decodes it; a list is taken as it is.
            raw_scope = as_text(ref.scope) if isinstance(ref.scope, str) else ref.scope
            scope = parse_scope(raw_scope) or self.config.scope_of(j.mr.repo)
            objective = as_text(ref.objective)
            checks = tuple(run_checks(objective, j.evidence, files_known=files_known, scope=scope, usual_churn=usual))
            history = updated_history(stored, j.mr.cache_key, j.evidence.additions + j.evidence.deletions)
            if files_known and history is not None:
                ctx.state.put(agent_key, history)
        cosine = None
        if method not in (EVIDENCE, "cosine") and scored.score < threshold:
            cosine = self._cosine(ctx, as_text(ref.objective), j.evidence.final_commit)
        return Verdict(
            scored.score,
            threshold,
            method,
            checks,
            files_known,
            scored.final,
            scored.summary,
            cosine,
            coherence,
            COHERENCE_THRESHOLD if method == EVIDENCE and self.config.scope_coherence else math.nan,
        )

    def _cosine(self, ctx: RunContext, objective: str, did: str) -> float:
        """The plain cosine of an alerting pair, shown beside a normalised score so a human can read it."""
        from monitors.drift.scoring import DriftPair, score_pairs

        return float(score_pairs(self._get_embedder(ctx), [DriftPair(objective, did)], method="cosine")[0])

    def _get_embedder(self, ctx: RunContext) -> Any:
        if self._embedder is None:
            from monitors.support.embeddings import SentenceTransformerEmbedder

            self._embedder = SentenceTransformerEmbedder(
                self.config.model, cache=ctx.embedding_cache, batch_size=self.config.batch_size
            )
        return self._embedder

    def _add_score(self, ctx: RunContext, ref: TraceRef, value: float, j: _Judged, threshold: float) -> None:
        if not self.config.write_scores:
            return
        head = (j.evidence.head_sha or j.info.final_commit.id)[:12]
        ctx.scores.append(
            Score(
                id=score_id(ref.trace_id, self.config.score_name),
                trace_id=ref.trace_id,
                name=self.config.score_name,
                value=round(value, 6),
                timestamp=ref.start,
                comment=f"objective vs what {j.mr} changed up to {head}; threshold {threshold:.3f}",
            )
        )


def _score_key(method: str, objective: str) -> str:
    return f"{method}:{objective_key(objective)}"


def _all_scored(entry: CachedChange, refs: list[TraceRef]) -> bool:
    return all(r.trace_id in entry.traces for r in refs)

"""Events monitor ("events"): error bursts and failing evaluations on individual traces.

Langfuse alerts on aggregates; this monitor looks at the traces behind them. Per run, since the
watermark:
  - observations at level ERROR (optionally WARNING), read with a level filter, so a run reads the
    failures and not the traffic; grouped by agent (trace name) and a normalised signature
    (signature.py). Rules: a burst (at least `min_count` of one signature for one agent in a UTC day,
    given a minimum volume) and an error share well above the agent's usual share (rules.py);
  - observation counts per agent and day: one aggregate (Metrics) request, the share's denominator;
  - for each configured evaluator, its failing scores (the failing condition is pushed to the server)
    and the agent's score counts (one aggregate per score view and day): a failure share above the
    evaluator's maximum, or any failure of an evaluator marked critical.
Tallies are kept per UTC day in the run state (tally.py), so hourly and daily schedules judge the same
day the same way. The first run also reads the share's baseline days, once.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import ClassVar

from monitors.contracts.findings import Finding, RunWindow
from monitors.contracts.monitor import RunContext
from monitors.contracts.source import CostQuery, ObservationQuery, ScoreCountQuery, ScoreQuery
from monitors.events.config import Evaluator, EventsConfig
from monitors.events.findings import burst_finding, failing_finding, share_finding
from monitors.events.rekey import MASKINGS, Pending, adopt, carry, merged, pending_from, rekey, still_pending
from monitors.events.rules import bursts, errors_of, failing, share_excess, usual_share
from monitors.events.signature import SIGNATURE_VERSION, normalise
from monitors.events.tally import (
    Counts,
    Groups,
    add_count,
    cover,
    day_windows,
    days_of,
    dump_groups,
    group_for,
    load_counts,
    load_groups,
    prune,
    score_key,
    span_end,
    split_score_key,
    untallied,
)

ERRORS_KEY, VOLUME_KEY, SCORES_KEY, SCORE_TOTALS_KEY = "errors", "volume", "failing_scores", "score_totals"
# The [start, end) already added to the tallies, so an overlapping rerun never counts anything twice.
ERRORS_READ_KEY, SCORES_READ_KEY = "errors_read", "scores_read"
# The masking the stored error tallies are keyed with; absent: version 1, which stored none.
SIGNATURE_VERSION_KEY = "signature_version"
# Groups re-keyed from their old signature's text, until an error of theirs is seen (rekey.Pending): by
# the version they were stored with (the first key predates versions past 2 and holds version 1's).
PENDING_KEY = "signatures_pending"
PENDING_KEYS = {1: PENDING_KEY, 2: "signatures_pending_v2"}
_FIELDS = frozenset({"core", "basic", "trace_context"})


def _midnight(when: datetime) -> datetime:
    return when.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def _score_spans(raw: object, evaluators: Iterable[str]) -> dict[str, object]:
    """Evaluator -> the [start, end) of its scores already tallied. Stored before evaluators had a span
    each, one span was every configured evaluator's."""
    if isinstance(raw, Mapping):
        return {str(name): span for name, span in raw.items()}
    return {name: raw for name in evaluators} if raw is not None else {}


def _ends_after(span: object, when: datetime) -> bool:
    end = span_end(span)
    return end is not None and end > when


def _pending(raw: object) -> Pending:
    """A stored rekey.Pending, read as written; a hand-edited store loses only its malformed agents."""
    if not isinstance(raw, dict):
        return {}
    kept = {agent: olds for agent, olds in raw.items() if isinstance(olds, dict)}
    return {str(agent): {str(o): str(n) for o, n in olds.items()} for agent, olds in kept.items()}


class EventsMonitor:
    """Errors and failing evaluations, grouped per agent and day."""

    name: ClassVar[str] = "events"
    Config: ClassVar[type[EventsConfig]] = EventsConfig

    def __init__(self, config: EventsConfig) -> None:
        self.config = config

    def run(self, ctx: RunContext) -> Iterator[Finding]:
        rules = self.config.errors
        covered = ctx.state.get(ERRORS_READ_KEY)
        read = self._read_window(ctx, first_run=covered is None)
        errors, pending = self._errors(ctx)
        volume = load_counts(ctx.state.get(VOLUME_KEY)) if rules.share.enabled else None
        for piece in untallied(read, covered):
            self._tally_errors(ctx, piece, errors, pending)
            if volume is not None:
                self._tally_volume(ctx, piece, volume)
        ctx.state.put(ERRORS_READ_KEY, cover(read, covered))
        # Keep what the next runs' baselines need: the days of this window and the baseline days before.
        oldest = ctx.window.start.date() - timedelta(days=rules.share.baseline_days)
        prune([errors, *([volume] if volume is not None else [])], oldest)
        ctx.state.put(ERRORS_KEY, dump_groups(errors))
        for version, key in PENDING_KEYS.items():
            if pending.get(version) or ctx.state.get(key) is not None:
                ctx.state.put(key, still_pending(errors, pending.get(version, {})))
        if volume is not None:
            ctx.state.put(VOLUME_KEY, volume)
        for day in days_of(ctx.window):
            yield from self._error_findings(ctx, day, errors, volume)
        if self.config.evaluators:
            yield from self._score_findings(ctx)

    def _errors(self, ctx: RunContext) -> tuple[Groups, dict[int, Pending]]:
        """The stored error tallies, re-keyed once when they were stored under another masking, and the
        groups whose errors' current signature is not known yet (rekey.Pending), by the version whose
        masking names them."""
        errors = load_groups(ctx.state.get(ERRORS_KEY))
        pending = {version: _pending(ctx.state.get(key)) for version, key in PENDING_KEYS.items()}
        stored = ctx.state.get(SIGNATURE_VERSION_KEY)
        if stored != SIGNATURE_VERSION:
            before = 1 if stored is None else stored if isinstance(stored, int) else 0  # version 1 stored none
            pending = {version: carry(held, errors) for version, held in pending.items()}
            if before in MASKINGS:
                pending[before] = merged(pending.get(before, {}), pending_from(errors))
            errors, changed = rekey(errors)
            if changed:
                ctx.count("signatures_rekeyed", changed)
            ctx.state.put(SIGNATURE_VERSION_KEY, SIGNATURE_VERSION)
        return errors, pending

    def _read_window(self, ctx: RunContext, *, first_run: bool) -> RunWindow:
        """The run's window, reaching back over the baseline days on the first run."""
        if not self.config.errors.share.enabled or not first_run:
            return ctx.window
        start = _midnight(ctx.window.start) - timedelta(days=self.config.errors.share.baseline_days)
        ctx.count("baseline_days_read", self.config.errors.share.baseline_days)
        return RunWindow(start, ctx.window.end)

    def _tally_errors(self, ctx: RunContext, window: RunWindow, errors: Groups, pending: dict[int, Pending]) -> None:
        query = ObservationQuery(window, fields=_FIELDS, levels=tuple(self.config.errors.levels))
        read = 0
        for obs in ctx.source.observations(query):
            read += 1
            fallback = obs.name or obs.type
            signature = f"{obs.level}: {normalise(obs.status_message, fallback=fallback)}"
            for version, held in pending.items():
                if olds := held.get(obs.trace_name or ""):
                    old = f"{obs.level}: {MASKINGS[version](obs.status_message, fallback=fallback)}"
                    provisional = olds.pop(old, None)
                    if provisional is not None and provisional != signature:
                        adopt(errors, obs.trace_name or "", provisional, signature)
            group_for(errors, obs.start_time.date(), obs.trace_name or "", signature).add(
                obs.start_time, obs.trace_id, obs.status_message or ""
            )
        ctx.count("errors_read", read)

    def _tally_volume(self, ctx: RunContext, window: RunWindow, volume: Counts) -> None:
        buckets = ctx.source.costs(CostQuery(window.start, window.end, granularity="day", group_by="traceName"))
        for bucket in buckets:
            add_count(volume, bucket.start.date(), bucket.group or "", bucket.count)

    def _error_findings(self, ctx: RunContext, day: date, errors: Groups, volume: Counts | None) -> Iterator[Finding]:
        rules, links = self.config.errors, self.config.trace_links
        levels = [level for level in ("ERROR", "WARNING") if level in rules.levels]
        observations = volume.get(day.isoformat(), {}) if volume is not None else {}
        alerted: set[str] = set()
        for burst in bursts(errors, volume, day, rules):
            alerted.add(burst.agent)
            usual = usual_share(errors, volume, burst.agent, day, rules) if volume is not None else None
            yield burst_finding(
                ctx,
                day,
                burst,
                levels=levels,
                usual=usual,
                agent_errors=errors_of(errors, day, burst.agent),
                observations=observations.get(burst.agent),
                links=links,
            )
        if volume is None:
            return
        # A burst already explains its agent's share: one alert per incident, not two.
        for agent in sorted(set(errors.get(day.isoformat(), {})) - alerted):
            excess = share_excess(errors, volume, day, agent, rules)
            if excess is not None:
                sigs = errors[day.isoformat()][agent]
                top = sorted(sigs.items(), key=lambda kv: (-kv[1].count, kv[0]))
                yield share_finding(ctx, day, excess, top, links)

    def _score_findings(self, ctx: RunContext) -> Iterator[Finding]:
        failing_groups = load_groups(ctx.state.get(SCORES_KEY))
        totals = load_counts(ctx.state.get(SCORE_TOTALS_KEY))
        evaluators = {e.name: e for e in self.config.evaluators}
        covered = _score_spans(ctx.state.get(SCORES_READ_KEY), evaluators)
        # Each evaluator is read from the start of the window's first day on: one added mid-day (or a first
        # run at noon) counts that day's earlier scores too, so "N of M scores" is the day's so far. Once
        # read, only the window is new; evaluators with the same unread pieces share the count requests.
        read = RunWindow(_midnight(ctx.window.start), ctx.window.end)
        unread: dict[tuple[RunWindow, ...], list[Evaluator]] = {}
        for evaluator in evaluators.values():
            unread.setdefault(tuple(untallied(read, covered.get(evaluator.name))), []).append(evaluator)
        for pieces, sharing in unread.items():
            names = tuple(sorted(e.name for e in sharing))
            categorical = any(e.data_type == "CATEGORICAL" for e in sharing)
            for piece in pieces:
                for evaluator in sharing:
                    self._tally_failing(ctx, piece, evaluator, failing_groups)
                for day in day_windows(piece):
                    for count in ctx.source.score_counts(ScoreCountQuery(day, names, categorical)):
                        add_count(totals, day.start.date(), score_key(count.name, count.trace_name), count.count)
        # An evaluator taken out of the config keeps its span while its tallies are kept: put back the
        # same day, it is not counted twice.
        spans = {name: span for name, span in covered.items() if _ends_after(span, read.start)}
        spans |= {name: cover(read, covered.get(name)) for name in evaluators}
        ctx.state.put(SCORES_READ_KEY, spans)
        prune([failing_groups, totals], ctx.window.start.date())  # score rules need no history
        ctx.state.put(SCORES_KEY, dump_groups(failing_groups))
        ctx.state.put(SCORE_TOTALS_KEY, totals)
        for day in days_of(ctx.window):
            for key, groups in sorted(failing_groups.get(day.isoformat(), {}).items()):
                name, agent = split_score_key(key)
                if name not in evaluators or "" not in groups:
                    continue
                scores = totals.get(day.isoformat(), {}).get(key, 0)
                verdict = failing(evaluators[name], agent, groups[""], scores)
                if verdict is not None:
                    yield failing_finding(ctx, day, verdict, self.config.trace_links)

    def _tally_failing(self, ctx: RunContext, window: RunWindow, evaluator: Evaluator, groups: Groups) -> None:
        query = ScoreQuery(
            window,
            evaluator.name,
            evaluator.data_type,
            value_below=evaluator.below,
            values=("false",) if evaluator.fail_on_false else tuple(evaluator.failing_values),
        )
        read = 0
        for score in ctx.source.read_scores(query):
            read += 1
            key = score_key(evaluator.name, score.trace_name or "")
            group_for(groups, score.timestamp.date(), key, "").add(score.timestamp, score.trace_id, score.comment)
        ctx.count("failing_scores_read", read)

"""Scope creep by commit coherence: the newest commits of one change request falling apart into topics."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pytest

from monitors.contracts.forge import FileStat
from monitors.drift.coherence import COHERENCE_THRESHOLD, commit_coherence, incoherent, newest_subjects
from monitors.drift.evidence import build_evidence
from monitors.drift.housekeeping import housekeeping
from monitors.drift.verdict import Verdict

TOPICS = ("token", "refresh", "retry", "backoff", "changelog", "pool", "urllib3")


class TopicEmbedder:
    """A text is the normalised sum of the topic axes it mentions (an axis of its own if none): cosines are known."""

    model_name = "fake-topics"

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(list(texts))
        rows = np.zeros((len(texts), len(TOPICS) + len(texts)), dtype=np.float32)
        for i, text in enumerate(texts):
            for j, topic in enumerate(TOPICS):
                rows[i, j] = float(topic in text.lower())
            if not rows[i].any():
                rows[i, len(TOPICS) + i] = 1.0
        return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def commits(*messages: str) -> list[str]:
    return list(messages)


FILES = [FileStat("src/auth/token.py", "modified", 30, 4)]


@pytest.mark.parametrize(
    ("messages", "expected"),
    [
        # One commit, or the same subject twice: nothing to fall apart, never alerts.
        (commits("Refresh the token before it expires"), math.nan),
        (commits("Refresh the token", "Refresh the token\n\nSigned-off-by: a <a@b.c>"), math.nan),
        # A series on one topic: every subject shares the token/refresh axes.
        (
            commits("token: refresh before expiry", "token refresh: test the expiry", "refresh the token in the CLI"),
            1.0,
        ),
        # Asked for the token refresh, also rewrote the HTTP pool: the pool commit is alone on its topic.
        (commits("token: refresh before expiry", "http: replace the pool with urllib3 2"), 0.0),
        # Newest three only: an old unrelated commit has scrolled out.
        (commits("http: replace the pool", "token: refresh", "token refresh tests", "refresh token docs"), 1.0),
        # Half related: "token" and "token refresh" share one of two axes, cosine 1/sqrt(2).
        (commits("token: handle expiry", "refresh the token"), 1 / math.sqrt(2)),
        # Housekeeping is no second piece of work: the changelog entry and the review follow-up are left out.
        (commits("token: refresh before expiry", "Update changelog"), math.nan),
        (commits("token: refresh before expiry", "token refresh tests", "Address review comments"), 1.0),
        # ...but other work beside it still falls apart from the asked-for work.
        (commits("token: refresh before expiry", "Add changelog entry", "http: replace the pool"), 0.0),
        # The window is the newest three before housekeeping is dropped: an older commit is not reached back to.
        (commits("http: replace the pool", "token: refresh", "fix typo", "Merge branch 'main' into token"), math.nan),
    ],
)
def test_coherence_on_real_shaped_commit_series(messages: list[str], expected: float) -> None:
    (value,) = commit_coherence(TopicEmbedder(), [build_evidence(messages, FILES)])
    if math.isnan(expected):
        assert math.isnan(value)
        assert not incoherent(value)
    else:
        assert value == pytest.approx(expected, abs=1e-6)


def test_the_lowest_subject_sets_the_coherence() -> None:
    # Two commits on the token, one on retries: the retry commit's mean cosine to the others is 0.
    ev = build_evidence(["token refresh", "token refresh tests", "retry with backoff"], FILES)
    (value,) = commit_coherence(TopicEmbedder(), [ev])
    assert value == pytest.approx(0.0, abs=1e-6)
    assert incoherent(value)
    assert newest_subjects(ev) == ["token refresh", "token refresh tests", "retry with backoff"]


def test_one_batch_and_nothing_embedded_for_single_commit_change_requests() -> None:
    embedder = TopicEmbedder()
    single = build_evidence(["token refresh"], FILES)
    double = build_evidence(["token refresh", "retry with backoff"], FILES)
    values = commit_coherence(embedder, [single, double, single])
    assert math.isnan(values[0]) and math.isnan(values[2])
    assert values[1] == pytest.approx(0.0, abs=1e-6)
    assert embedder.calls == [["token refresh", "retry with backoff"]]
    other = TopicEmbedder()
    assert all(math.isnan(v) for v in commit_coherence(other, [single, single]))
    assert other.calls == []


@pytest.mark.parametrize(
    ("coherence", "threshold", "alerts"),
    [
        (0.01, COHERENCE_THRESHOLD, True),
        (0.30, COHERENCE_THRESHOLD, False),
        (math.nan, COHERENCE_THRESHOLD, False),  # fewer than two subjects
        (0.01, math.nan, False),  # the signal is off (scope_coherence: false)
    ],
)
def test_verdict_alerts_on_incoherent_commits_only_when_on(coherence: float, threshold: float, alerts: bool) -> None:
    verdict = Verdict(1.5, -0.71, "evidence", coherence=coherence, coherence_threshold=threshold)
    assert verdict.alerts is alerts
    assert verdict.below is False
    if alerts:
        (line,) = verdict.reasons
        assert line == (
            "scope creep: the newest commits read like unrelated pieces of work (lowest mean cosine of one of the "
            "last 3 commit subjects, housekeeping left out, to the others 0.01, threshold 0.05)"
        )
    else:
        assert verdict.reasons == []


@pytest.mark.parametrize(
    "text",
    [
        "Merge branch 'main' into fix/token-refresh",
        "Merge pull request #12 from alice/retry",
        "Merge remote-tracking branch 'origin/main'",
        "fixup! token: refresh before expiry",
        "squash! add retries",
        "WIP",
        "Address review comments",
        "Apply suggestions from code review",
        "address PR feedback",
        "Code review fixes",
        "Add changelog entry",
        "Update CHANGELOG.md",
        "Add news fragment",
        "docs: add release notes for 2.1",
        "Add myself to AUTHORS",
        "Fix typo",
        "fix typos in README",
        "chore: fix lint",
        "Run black",
        "style: apply isort",
        "Reformat with ruff",
        "Bump version to 2.1.0",
        "Release 4.0.2",
        "fix tests",
        "Fix CI",
        "cleanup",
        "nit",
    ],
)
def test_housekeeping_subjects_are_recognised(text: str) -> None:
    assert housekeeping(text)


@pytest.mark.parametrize(
    "text",
    [
        "Fix token refresh before expiry",
        "Add retry with exponential backoff",
        "feat(api): add support for deploy tokens",
        # Documentation is not housekeeping: a guide rewritten beside a bug fix is more than was asked.
        "Update the docs for the retry option",
        "Document the token refresh in the user guide",
        # A fix that names its topic is work, even when it says typo.
        "Fix typo in config key that broke token refresh on every request",
        "Merge request approvals: add the approvals API",
        "Release the connection pool on close",
        "Bump the retry limit to 5",
        'Revert "Update certificate bundle."',
        "",
    ],
)
def test_work_is_not_housekeeping(text: str) -> None:
    assert not housekeeping(text)

"""A change request with no commits is a note saying so, on every forge path, never a crash.

Every source that builds a MergeRequestInfo answers `no_commits` before anything reads its final
commit; these runs hold the offline GitHub forge (the demo's) to it, the one path no other test covers.
"""

from __future__ import annotations

from monitors.contracts.findings import Severity
from monitors.sources.github import OfflineGitHub
from tests.test_goal_drift import make_ctx, obs_for_trace, run


def test_a_pull_request_with_no_commits_is_unverifiable_with_that_reason() -> None:
    pulls = {
        "7": {"title": "Fix login", "commits": [], "files": []},
        # Commits without a sha are dropped as malformed: nothing is left either.
        "8": {"title": "Fix login", "commits": [{"message": "Fix login redirect"}], "files": []},
    }
    forge = OfflineGitHub(data={"repos": {"acme/web": {"pulls": pulls}}})
    observations = [
        *obs_for_trace("t-7", "login-bot", {"objective": "Fix the login redirect", "mr_iid": "acme/web#7"}),
        *obs_for_trace("t-8", "login-bot", {"objective": "Fix the login redirect", "mr_iid": "acme/web#8"}),
    ]
    ctx = make_ctx(observations, None)
    ctx.github_factory = lambda: forge
    findings = run(ctx)
    assert sorted((f.kind, f.severity, f.summary) for f in findings) == [
        ("unverifiable", Severity.INFO, "GitHub: acme/web#7 has no commits"),
        ("unverifiable", Severity.INFO, "GitHub: acme/web#8 has no commits"),
    ]
    assert ctx.scores == []

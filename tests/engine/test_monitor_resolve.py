"""Monitors say when a finding no longer holds: a drifted merge request whose new head matches its
objective."""

from __future__ import annotations

from monitors.contracts.findings import Status
from tests.test_goal_drift import all_traces, commit, gitlab, make_ctx, run

__all__ = ["gitlab"]  # the fake GitLab fixture
FINAL_COMMIT = "csls"  # objective vs the final commit, normalised against the window


def test_drift_alert_resolves_when_the_new_head_matches_the_objective(gitlab) -> None:
    # The final-commit method: the default evidence method also reads every commit of the MR, so an MR
    # that still carries the billing rewrite keeps drifting there (the resolve path is the same). Checks
    # off: this fake merge request has no diff, which the "nothing done" check would flag.
    first = make_ctx(all_traces(), gitlab)
    drifted = {f.dedupe_key for f in run(first, method=FINAL_COMMIT, checks=False) if f.kind == "drift"}
    assert "group/app!20@bill9" in drifted
    assert "group/app!20@bill9" not in {f.dedupe_key for f in first.resolved}
    # The agent pushes a commit that does what it was asked: "Fix the login page".
    fixed = commit("login10", "2026-03-10T09:00:00Z", "Fix the login page layout")
    gitlab.add_mr("group/app", 20, [fixed, commit("bill9", "2026-03-10T06:00:00Z", "Rewrite the billing export")])
    second = make_ctx(all_traces(), gitlab)
    findings = run(second, method=FINAL_COMMIT, checks=False)
    assert not [f for f in findings if f.kind == "drift" and f.dedupe_key.startswith("group/app!20@")]
    [resolved] = [f for f in second.resolved if f.dedupe_key == "group/app!20@bill9"]
    assert resolved.status is Status.RESOLVED and resolved.fingerprint == "drift:group/app!20@bill9"
    assert "login10" in resolved.summary and "matches the objective" in resolved.summary

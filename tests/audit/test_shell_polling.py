"""Status commands run through the shell while waiting (`gh run view`, `kubectl get pods`, `git status`)
are polling, not loops or repeats; a failing command retried with no change is still a loop."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from monitors.audit.config import ToolSequenceConfig
from monitors.audit.monitor import ToolSequenceMonitor
from monitors.audit.shell import ShellRead, StatusCommands, command_of, read_shell
from monitors.contracts.findings import Finding, RunWindow
from monitors.contracts.monitor import RunContext
from monitors.contracts.records import Observation
from monitors.sources.replay import ReplaySource
from tests.audit.helpers import T0, shell_observations

RUNNING = '{"conclusion":"","status":"in_progress"}'
DONE = '{"conclusion":"success","status":"completed"}'
PYTEST_FAIL = (
    "============================= test session starts ==============================\n"
    "collected 12 items\n\ntests/test_api.py ....F\n\nFAILED tests/test_api.py::test_refund - "
    "AssertionError: assert 402 == 200\n========================= 1 failed, 4 passed in 0.61s ========================="
)
PODS = "NAME                  READY  STATUS             RESTARTS  AGE\n"
PODS_STARTING = PODS + "web-7c9d8f6b5-x2k4p   0/1    ContainerCreating  0         12s"
PODS_READY = PODS + "web-7c9d8f6b5-x2k4p   1/1    Running            0         71s"
PUSHED = "To github.com:acme/payments.git\n   4f1c2d9..8a7e3b1  fix/refund-rounding -> fix/refund-rounding"


def _audit(observations: list[Observation], config: dict | None = None) -> list[Finding]:
    window = RunWindow(T0, T0 + timedelta(days=1))
    ctx = RunContext(window=window, now=window.end, source=ReplaySource.from_observations(observations))
    return list(ToolSequenceMonitor(ToolSequenceConfig.model_validate(config or {})).run(ctx))


def _kinds(findings: list[Finding]) -> dict[str, list[int]]:
    return {f.kind: f.evidence["steps"] for f in findings}


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("gh run view 812 --json status,conclusion", ShellRead(False, True)),
        ("sleep 30 && gh run view 812 --json status -q .status", ShellRead(True, True)),
        ("timeout 600 gh run watch 812 --exit-status", ShellRead(True, True)),  # `gh run watch` waits itself
        ("timeout 20 gh pr checks 41", ShellRead(False, True)),
        ("watch -n 5 gh pr checks 41", ShellRead(True, True)),
        ("watch -n 5 'kubectl get pods -n prod'", ShellRead(True, True)),
        ("bash -c 'sleep 20; kubectl -n prod get pods'", ShellRead(True, True)),
        ('bash -lc "gh run view 812 | jq -r .status"', ShellRead(False, True)),
        ("GH_PAGER= GH_REPO=acme/payments gh run view 812", ShellRead(False, True)),
        ("env -u GH_TOKEN gh pr checks 41", ShellRead(False, True)),
        ("kubectl rollout status deploy/web -n prod --timeout=120s", ShellRead(True, True)),
        ("docker ps --filter name=web --format '{{.Status}}'", ShellRead(False, True)),
        ("cd /repo && git status --short", ShellRead(False, True)),
        ("git -C /repo status", ShellRead(False, True)),
        ("curl -fsS https://ci.example.com/api/runs/812/status 2>&1 | tail -1", ShellRead(False, True)),
        ("until gh run view 812 --json status -q .status | grep -q completed; do sleep 9; done", ShellRead(True, True)),
        ("for i in $(seq 1 20); do kubectl get pods -n prod; sleep 15; done", ShellRead(True, True)),
        ("sleep 60", ShellRead(True, False)),
        ("sleep 5; echo waiting", ShellRead(True, False)),
        # Anything else is not read as waiting or as a status check.
        ("pytest tests/test_api.py -x", None),
        ("sleep 30 && pytest -x", None),
        ("git commit -m 'status'", None),
        ("git push origin fix/refund-rounding", None),
        ("gh run view 812 && gh run rerun 812", None),
        ("gh run view 812 --log > ci.log", None),
        ("curl -X POST https://ci.example.com/api/deploy", None),
        ("curl -X POST https://jobs.example.com/api/jobs/5/status -d state=done", None),  # sets a status
        ("curl --data-raw '{}' https://jobs.example.com/api/status", None),
        ("kubectl delete pod web-7c9d8f6b5-x2k4p", None),
        ("bash deploy.sh", None),
        ("echo 'unbalanced", None),
    ],
)
def test_shell_commands_are_read_under_their_wrappers(command: str, expected: ShellRead | None) -> None:
    assert read_shell(command) == expected


def test_the_command_comes_from_each_agents_shape() -> None:
    assert command_of("Bash", {"command": "git status", "description": "Show status"}, shell_tool=True) == "git status"
    assert command_of("local_shell", {"command": ["bash", "-lc", "gh pr checks 41"]}, shell_tool=True) == (
        "bash -lc 'gh pr checks 41'"
    )
    assert command_of("git", "status", shell_tool=False) == "git status"  # SWE-agent names the tool after the program
    assert command_of("get_order", {"id": 7}, shell_tool=False) is None


def test_claude_code_waiting_on_ci_with_sleep_in_the_command_is_polling() -> None:
    steps = [
        ("git push origin fix/refund-rounding", PUSHED),
        ("gh run list --branch fix/refund-rounding -L 1 --json databaseId -q '.[0].databaseId'", "812"),
        *[("sleep 30 && gh run view 812 --json status,conclusion", RUNNING)] * 4,
        ("sleep 30 && gh run view 812 --json status,conclusion", DONE),
        ("gh pr merge 41 --squash", "Merged pull request #41"),
    ]
    assert _audit(shell_observations("cc-ci", steps)) == []


def test_status_checks_between_shell_sleeps_are_polling_not_a_loop() -> None:
    wait = [("sleep 60", "")]
    steps = [("git push origin fix/refund-rounding", PUSHED)]
    steps += [*[("gh run view 812 --json status,conclusion", RUNNING), *wait] * 4, ("gh run view 812", DONE)]
    assert _audit(shell_observations("cc-ci-sleeps", steps)) == []


def test_pending_checks_exit_non_zero_and_are_still_polling() -> None:
    pending = "build\tpending\t0\thttps://github.com/acme/payments/actions/runs/812\nSome checks are still pending"
    steps = [("git push origin fix/refund-rounding", PUSHED)]
    steps += [("gh pr checks 41", pending, True), ("sleep 45", "")] * 4 + [("gh pr checks 41", "build\tpass\t2m")]
    assert _audit(shell_observations("cc-checks", steps)) == []


def test_openhands_waiting_for_pods_is_polling() -> None:
    def run(command: str) -> dict:
        return {"command": command, "is_input": "false"}

    steps = [(run("kubectl apply -f deploy/web.yaml"), "deployment.apps/web configured")]
    steps += [(run("kubectl get pods -n prod"), PODS_STARTING), (run("sleep 20"), "")] * 3
    steps += [(run("kubectl get pods -n prod"), PODS_READY)]
    assert _audit(shell_observations("oh-pods", steps, tool="execute_bash")) == []


def test_must_still_fire_the_same_failing_tests_rerun_with_a_status_check_between() -> None:
    steps = [("pytest tests/test_api.py -x", PYTEST_FAIL, True), ("git status --short", " M src/refunds.py")] * 4
    found = _kinds(_audit(shell_observations("cc-pytest", steps)))
    assert found["loop"] == [3, 4, 5, 6, 7, 8]


def test_must_still_fire_the_same_failing_tests_rerun_after_a_sleep() -> None:
    steps = [("sleep 30 && pytest tests/test_api.py -x", PYTEST_FAIL, True)] * 5
    assert _kinds(_audit(shell_observations("cc-pytest-sleep", steps)))["repeat"] == [2, 3, 4, 5]


def test_must_still_fire_a_status_read_over_and_over_with_no_wait_and_no_change() -> None:
    steps = [("git push origin fix/refund-rounding", PUSHED)] + [("gh run view 812", RUNNING)] * 4
    assert 3 in _kinds(_audit(shell_observations("cc-impatient", steps)))["repeat"]


def test_status_commands_are_configurable() -> None:
    steps = [("./deploy.sh web", "deploying web")]
    steps += [("deployctl status web", "rolling out 2/5"), ("sleep 30", "")] * 3 + [("deployctl status web", "done")]
    observations = shell_observations("cc-deployctl", steps)
    assert "loop" in _kinds(_audit(observations))
    assert _audit(observations, {"polling": {"status_commands": ["deployctl status"]}}) == []
    gh = [("git push origin main", PUSHED)] + [("gh run view 812", RUNNING), ("sleep 30", "")] * 3
    assert _audit(shell_observations("cc-gh", gh)) == []
    assert "loop" in _kinds(_audit(shell_observations("cc-gh", gh), {"polling": {"status_commands": []}}))


@pytest.mark.parametrize("pattern", ["", "--watch", "gh 'run"])
def test_a_bad_status_command_is_rejected_with_its_key(pattern: str) -> None:
    with pytest.raises(ValidationError) as info:
        ToolSequenceConfig.model_validate({"polling": {"status_commands": [pattern]}})
    assert info.value.errors()[0]["loc"][:2] == ("polling", "status_commands")


def test_options_and_their_values_may_come_between_the_words_of_a_pattern() -> None:
    status = StatusCommands(["kubectl get", "git status"])
    assert status.match(["kubectl", "-n", "prod", "--context", "eu", "get", "pods"])
    assert status.match(["/usr/bin/git", "--no-pager", "status"])
    assert not status.match(["git", "commit", "-m", "status"])
    assert not status.match(["kubectl", "apply", "-f", "get.yaml"])

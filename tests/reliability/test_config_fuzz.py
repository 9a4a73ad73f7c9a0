"""Invalid configurations: `run-monitor validate` exits 2 with a line naming the bad key, never a
traceback. A hand-written table of mistakes, then hypothesis over a grammar of keys and values.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitors.app.cli.main import cli

VALID: dict[str, Any] = {
    "langfuse": {"host": "https://lf.example", "public_key": "pk", "secret_key": "sk"},
    "store": {"url": "sqlite:///state.db"},
    "channels": {"ops": {"kind": "slack", "webhook_url": "https://hooks.slack.com/services/T/B/x"}},
    "default_route": {"channels": ["ops"]},
    "monitors": {"cost": {"budgets": [{"name": "global", "daily_cap": 10}]}, "audit": {}, "drift": {}},
}

# (the key expected in the message, a change to the valid config)
MISTAKES: list[tuple[str, dict[str, Any]]] = [
    ("langfuse.host", {"langfuse": {**VALID["langfuse"], "host": "lf.example"}}),
    ("langfuse.query_delay", {"langfuse": {**VALID["langfuse"], "query_delay": "soon"}}),
    ("langfuse.timeout", {"langfuse": {**VALID["langfuse"], "timeout": 1e20}}),  # was an OverflowError traceback
    ("langfuse.query_delay", {"langfuse": {**VALID["langfuse"], "query_delay": "99999999999999999999d"}}),
    ("langfuse.max_retries", {"langfuse": {**VALID["langfuse"], "max_retries": -1}}),
    ("langfuse.page_size", {"langfuse": {**VALID["langfuse"], "page_size": 5000}}),
    ("langfuse.api", {"langfuse": {**VALID["langfuse"], "api": "v9"}}),
    ("langfuse.public_key", {"langfuse": {"host": "https://lf.example", "secret_key": "sk"}}),
    ("langfuse.secret_key", {"langfuse": {**VALID["langfuse"], "secret_key": "${NOT_SET_ANYWHERE}"}}),
    ("langfuse", {"langfuse": "https://lf.example"}),
    ("lanfguse", {"lanfguse": {}}),
    ("channels.ops.webhook_url", {"channels": {"ops": {"kind": "slack", "webhook_url": "not a url"}}}),
    ("channels.ops.kind", {"channels": {"ops": {"kind": "pager", "webhook_url": "https://x.example"}}}),
    ("channels.ops.colour", {"channels": {"ops": {**VALID["channels"]["ops"], "colour": "red"}}}),
    ("channels.ops.timeout", {"channels": {"ops": {**VALID["channels"]["ops"], "timeout": 0}}}),
    ("default_route.channels", {"default_route": {"channels": ["nowhere"]}}),
    ("default_route.min_severity", {"default_route": {"channels": ["ops"], "min_severity": "loud"}}),
    ("routes.0.monitors", {"routes": [{"monitors": ["costs"], "channels": ["ops"]}]}),
    ("routes.0.channels", {"routes": [{"monitors": ["cost"]}]}),
    ("monitors.costs", {"monitors": {"costs": {}}}),
    ("monitors.cost.budgets.0.daily_cap", {"monitors": {"cost": {"budgets": [{"name": "g", "daily_cap": -5}]}}}),
    ("monitors.cost.budgets.0.name", {"monitors": {"cost": {"budgets": [{"name": "a b!", "daily_cap": 5}]}}}),
    ("monitors.cost.timezone", {"monitors": {"cost": {"timezone": "Mars/Olympus"}}}),
    ("monitors.audit.loop.min_cycles", {"monitors": {"audit": {"loop": {"min_cycles": 1}}}}),
    ("monitors.audit.alert_checks", {"monitors": {"audit": {"alert_checks": ["everything"]}}}),
    ("monitors.drift.threshold", {"monitors": {"drift": {"threshold": "high"}}}),
    ("alerting.realert", {"alerting": {"realert": "often"}}),
    ("alerting.max_attempts", {"alerting": {"max_attempts": 0}}),
    ("report.timezone", {"report": {"timezone": "Nowhere/City"}}),
    ("store.lock_lease", {"store": {"url": "sqlite:///s.db", "lock_lease": -3}}),  # was accepted: no lock at all
    ("metadata_keys.objectiv", {"metadata_keys": {"objectiv": "goal"}}),
]


def _validate(tmp_path: Path, raw: Any, text: str | None = None) -> Any:
    path = tmp_path / "monitors.yaml"
    path.write_text(text if text is not None else yaml.safe_dump(raw))
    return CliRunner().invoke(cli, ["validate", "-c", str(path)], env={})


def _assert_rejected(result: Any, key: str | None) -> None:
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    assert "Traceback" not in result.output and isinstance(result.exception, SystemExit)
    if key is not None:
        assert any(f": {key}" in line for line in result.output.splitlines()), (key, result.output)


def test_the_valid_base_is_valid(tmp_path: Path) -> None:
    result = _validate(tmp_path, VALID)
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(("key", "change"), MISTAKES, ids=[m[0] for m in MISTAKES])
def test_each_mistake_names_its_key(tmp_path: Path, key: str, change: dict[str, Any]) -> None:
    _assert_rejected(_validate(tmp_path, {**VALID, **change}), key)


@pytest.mark.parametrize(
    "text",
    ["langfuse: [unclosed", "- a list\n- at the top", "just a string", "monitors: {cost: {budgets: 7}}", "\t:bad"],
)
def test_broken_documents_are_exit_2(tmp_path: Path, text: str) -> None:
    _assert_rejected(_validate(tmp_path, None, text), None)


# --- hypothesis: a grammar of sections, keys and values -------------------------------------------------

KNOWN = {
    "langfuse": ["host", "public_key", "secret_key", "api", "query_delay", "timeout", "max_retries", "page_size"],
    "store": ["url", "lock_lease"],
    "alerting": ["realert", "max_attempts", "retries_per_run"],
    "report": ["output_dir", "channels", "timezone"],
    "metadata_keys": ["feature", "objective", "mr_iid", "repo", "plan"],
}
bad_values = st.one_of(
    st.none(), st.booleans(), st.integers(-(10**6), 10**6), st.floats(allow_nan=False), st.text(max_size=12),
    st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
    st.sampled_from([-3, 1e20, float("inf"), "-1h", "1e9", "${UNSET_VAR}", "${file:/nonexistent}", "https://",
                     "\x00", "ñ" * 300]),
)  # fmt: skip


@st.composite
def broken_configs(draw: st.DrawFn) -> tuple[dict[str, Any], str]:
    """A valid config with one key of one section set to a random value, or an unknown key added."""
    raw = yaml.safe_load(yaml.safe_dump(VALID))
    section = draw(st.sampled_from(sorted(KNOWN)))
    body = raw.setdefault(section, {})
    if draw(st.booleans()):
        key = draw(st.sampled_from(KNOWN[section]))
    else:
        key = "x_" + draw(st.text(alphabet="abcdefghij_", min_size=1, max_size=8))
    body[key] = draw(bad_values)
    return raw, f"{section}.{key}"


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(broken_configs())
def test_fuzzed_configs_are_valid_or_exit_2_naming_the_key(tmp_path: Path, case: tuple[dict[str, Any], str]) -> None:
    raw, key = case
    result = _validate(tmp_path, raw)
    if result.exit_code == 0:
        return  # the random value happened to be acceptable (e.g. a string for metadata_keys.plan)
    _assert_rejected(result, key)

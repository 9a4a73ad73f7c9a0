"""Config validation: every problem named as file: dotted.path: reason, all at once."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from monitors.contracts.errors import ConfigError
from monitors.engine.config import load_config, settings_from_dict
from monitors.engine.schedule_config import load_schedules

BASE = {
    "langfuse": {"host": "http://127.0.0.1:3000", "public_key": "${LF_PK}", "secret_key": "${LF_SK}"},
    "store": {"url": "sqlite:///state.db"},
}
ENV = {"LF_PK": "pk-lf-test", "LF_SK": "sk-lf-test"}


def _problems(raw: dict, env: dict | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        settings_from_dict(raw, env=ENV if env is None else env)
    return info.value.problems


def test_valid_config_types_values() -> None:
    raw = BASE | {"langfuse": BASE["langfuse"] | {"query_delay": "10m"}, "alerting": {"realert": "6h"}}
    settings = settings_from_dict(raw, env=ENV)
    assert settings.langfuse.secret_key.get_secret_value() == "sk-lf-test"
    assert "sk-lf-test" not in repr(settings) and "sk-lf-test" not in str(settings.model_dump())
    assert settings.langfuse.query_delay == timedelta(minutes=10)
    assert settings.alerting.realert == timedelta(hours=6)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"langfuse": BASE["langfuse"] | {"page_size": "many"}}, "monitors.yaml: langfuse.page_size: "),
        ({"langfuse": BASE["langfuse"] | {"colour": "blue"}}, "monitors.yaml: langfuse.colour: unknown key"),
        (
            {"langfuse": BASE["langfuse"] | {"query_delay": "soon"}},
            "monitors.yaml: langfuse.query_delay: 'soon' is not a duration",
        ),
        (
            {"langfuse": BASE["langfuse"] | {"host": "cloud.langfuse.com"}},
            "monitors.yaml: langfuse.host: must be an http(s) URL",
        ),
        ({"alerts": {}}, "monitors.yaml: alerts: unknown key"),
        ({"routes": [{"channels": ["nowhere"]}]}, "monitors.yaml: routes.0.channels: unknown channel 'nowhere'"),
        (
            {"routes": [{"channels": [], "min_severity": "loud"}]},
            "monitors.yaml: routes.0.min_severity: unknown severity 'loud'",
        ),
        (
            {"monitors": {"costs": {}}},
            "monitors.yaml: monitors.costs: Unknown monitor: 'costs' (valid: audit, cost, drift, events)",
        ),
        ({"report": {"timezone": "Mars/Olympus"}}, "monitors.yaml: report.timezone: unknown time zone"),
    ],
)
def test_each_bad_key_is_named(change: dict, expected: str) -> None:
    problems = _problems(BASE | change)
    assert any(p.startswith(expected) for p in problems), problems


def test_missing_secret_names_key_and_variable_without_value() -> None:
    problems = _problems(BASE, env={"LF_PK": "pk-lf-test"})
    assert problems == ["monitors.yaml: langfuse.secret_key: environment variable LF_SK is not set"]


def test_missing_secret_file_is_named_with_the_variable_pointing_at_it(tmp_path: Path) -> None:
    absent = tmp_path / "LF_SK"
    problems = _problems(BASE, env={"LF_PK": "pk-lf-test", "LF_SK_FILE": str(absent)})
    assert problems == [
        f"monitors.yaml: langfuse.secret_key: environment variable LF_SK is not set and LF_SK_FILE names {absent}, "
        "which is missing or empty (is LF_SK in the Secret?)"
    ]


def test_all_problems_reported_at_once() -> None:
    raw = BASE | {"langfuse": BASE["langfuse"] | {"page_size": 0, "max_retries": -1}, "extra": 1}
    problems = _problems(raw)
    assert len(problems) == 3, problems


def test_secret_from_mounted_file(tmp_path: Path) -> None:
    secret = tmp_path / "sk"
    secret.write_text("sk-lf-from-file\n")
    raw = BASE | {"langfuse": BASE["langfuse"] | {"secret_key": f"${{file:{secret}}}"}}
    assert settings_from_dict(raw, env=ENV).langfuse.secret_key.get_secret_value() == "sk-lf-from-file"


def test_env_default_syntax() -> None:
    raw = BASE | {"store": {"url": "${STORE_URL:-sqlite:///fallback.db}"}}
    assert settings_from_dict(raw, env=ENV).store.url.get_secret_value() == "sqlite:///fallback.db"


def test_yaml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "monitors.yaml"
    path.write_text("langfuse:\n  host: [unclosed\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.problems[0].startswith(f"{path}: line ")


def test_schedules_validate_cron_and_monitor(tmp_path: Path) -> None:
    path = tmp_path / "schedules.yaml"
    jobs = [
        {"name": "cost", "monitor": "cost", "cron": "*/15 * * * *"},
        {"name": "bad-cron", "monitor": "cost", "cron": "every day"},
        {"name": "cost", "monitor": "costs", "cron": "0 * * * *"},
    ]
    path.write_text(yaml.safe_dump({"timezone": "UTC", "jobs": jobs}))
    with pytest.raises(ConfigError) as info:
        load_schedules(path)
    text = "\n".join(info.value.problems)
    bad_cron = "'every day' is not a cron expression (wrong number of fields; got 2, expected 5)"
    assert f"{path}: jobs.1.cron: {bad_cron}" in text
    assert f"{path}: jobs.2.name: duplicate job name 'cost'" in text
    assert f"{path}: jobs.2.monitor: unknown monitor 'costs'" in text


@pytest.mark.parametrize(
    ("host", "setting", "expected"),
    [
        ("https://cloud.langfuse.com", "auto", 15),
        ("https://us.cloud.langfuse.com", "auto", 15),
        ("https://langfuse.internal.example", "auto", None),
        ("https://cloud.langfuse.com.evil.example", "auto", None),
        ("https://cloud.langfuse.com", 600, 600),
        ("https://cloud.langfuse.com", None, None),
    ],
)
def test_request_budget_follows_the_host(host: str, setting, expected) -> None:
    raw = BASE | {"langfuse": BASE["langfuse"] | {"host": host, "requests_per_minute": setting}}
    assert settings_from_dict(raw, env=ENV).langfuse.minute_budget() == expected


def test_request_budget_must_be_positive() -> None:
    problems = _problems(BASE | {"langfuse": BASE["langfuse"] | {"requests_per_minute": 0}})
    assert problems == ["monitors.yaml: langfuse.requests_per_minute: must be at least 1 (or auto, or null for no cap)"]


def test_schedules_report_type_errors_and_cron_zone_problems_together(tmp_path: Path) -> None:
    path = tmp_path / "schedules.yaml"
    jobs = [
        {"name": "cost", "monitor": "cost", "cron": "*/15 * * * *", "misfire_grace": "5x"},
        {"name": "drift", "monitor": "drift", "cron": "0 6 * * * *"},
        {"name": "audit", "monitor": "audit", "cron": "0 7 * * 1", "timezone": "Europe/Atlantis"},
        {"name": 7, "monitor": "cost", "cron": 15},
    ]
    path.write_text(yaml.safe_dump({"timezone": "UTC", "jobs": jobs}))
    with pytest.raises(ConfigError) as info:
        load_schedules(path)
    problems = [p.removeprefix(f"{path}: ") for p in info.value.problems]
    assert [p.split(":")[0] for p in problems] == [
        "jobs.0.misfire_grace",
        "jobs.3.name",
        "jobs.3.cron",
        "jobs.1.cron",
        "jobs.2.timezone",
    ]
    assert "unknown time zone 'Europe/Atlantis'" in problems[-1]


def test_a_literal_dollar_brace_an_empty_variable_and_an_oversized_secret_file(tmp_path: Path) -> None:
    raw = BASE | {"langfuse": BASE["langfuse"] | {"secret_key": "sk-lf-a$${b}c"}}
    assert settings_from_dict(raw, env=ENV).langfuse.secret_key.get_secret_value() == "sk-lf-a${b}c"
    empty = BASE | {"langfuse": BASE["langfuse"] | {"secret_key": "${LF_SK}"}}
    assert _problems(empty, env=ENV | {"LF_SK": ""}) == [
        "monitors.yaml: langfuse.secret_key: environment variable LF_SK is set but empty"
    ]
    big = tmp_path / "disk.img"
    big.write_bytes(b"x" * (1024 * 1024 + 1))
    oversized = BASE | {"langfuse": BASE["langfuse"] | {"secret_key": f"${{file:{big}}}"}}
    assert _problems(oversized) == [
        f"monitors.yaml: langfuse.secret_key: secret file {big} is over 1 MiB: not a secret (wrong path?)"
    ]


@pytest.mark.parametrize(
    "url", ["sqlite://", "sqlite:///", "sqlite:///:memory:", "sqlite:///file:db?mode=memory&uri=true"]
)
def test_an_in_memory_store_is_refused_naming_the_key(url: str) -> None:
    # It would open fine and forget every watermark, sent alert and silence when the run ends.
    problems = _problems(BASE | {"store": {"url": url}})
    assert len(problems) == 1, problems
    assert problems[0].startswith("monitors.yaml: store.url: an in-memory SQLite database keeps nothing"), problems


def test_a_store_file_or_server_is_taken() -> None:
    for url in ("sqlite:///state.db", "sqlite:////var/lib/monitors/state.db", "postgresql://u@db/monitors"):
        assert settings_from_dict(BASE | {"store": {"url": url}}, env=ENV).store.url.get_secret_value() == url


def test_what_routes_name_is_checked_when_another_section_is_broken() -> None:
    # Before, a broken key anywhere hid every route problem until it was fixed: two rounds of validate.
    raw = BASE | {
        "langfuse": BASE["langfuse"] | {"page_size": "lots"},
        "channels": {"term": {"kind": "stdout"}, "am": {"kind": "alertmanager", "url": "http://am:9093"}},
        "routes": [{"monitors": ["cots"], "channels": ["term", "nowhere", "am"], "group_interval": "40d"}],
        "default_route": {"channels": ["missing"]},
        "report": {"timezone": "Mars/Olympus"},
    }
    problems = [p.removeprefix("monitors.yaml: ") for p in _problems(raw)]
    assert [p.split(":", 1)[0] for p in problems] == [
        "langfuse.page_size",
        "routes.0.channels",
        "routes.0.channels",
        "routes.0.monitors",
        "routes.0.group_interval",
        "routes.0.group_interval",
        "default_route.channels",
        "report.timezone",
    ], problems
    assert "routes.0.monitors: unknown monitor 'cots' (valid: cost, drift, audit, events)" in problems
    assert "routes.0.channels: unknown channel 'nowhere' (defined: term, am)" in problems
    assert any(p.startswith("routes.0.channels: 'am' is an alertmanager channel") for p in problems)
    assert any(
        p.startswith("routes.0.group_interval: 40d is longer than store.outbox_retention (30d)") for p in problems
    )


def test_a_route_that_does_not_validate_is_not_checked_again() -> None:
    # Its own problem is reported; what it names is checked once it validates.
    problems = _problems(BASE | {"routes": [{"monitors": ["cots"], "min_severity": "loud", "channels": ["x"]}]})
    assert len(problems) == 1 and problems[0].startswith("monitors.yaml: routes.0.min_severity: "), problems

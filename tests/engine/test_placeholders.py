"""A variable a command said it would not use reads as a placeholder: nothing is ever built from it.

The loader leaves it unset only in the keys the command names (`needs`, `unused`); anything that would
send a placeholder somewhere (Langfuse, a channel, a forge) refuses with the key and the variable instead.
"""

from __future__ import annotations

import pytest

from monitors.contracts.errors import ConfigError
from monitors.engine.config import settings_from_dict
from monitors.engine.wiring import build_notifiers, build_source, github_factory, gitlab_factory
from monitors.notifiers.stdout import StdoutNotifier

RAW = {
    "langfuse": {"host": "https://cloud.langfuse.com", "public_key": "${LF_PK}", "secret_key": "${LF_SK}"},
    "gitlab": {"token": "${GITLAB_TOKEN}"},
    "github": {"token": "${GITHUB_TOKEN}"},
    "store": {"url": "sqlite:///state/monitors.db"},
    "channels": {
        "page": {"kind": "pagerduty", "routing_key": "${PD_KEY}"},
        "hook": {"kind": "webhook", "webhook_url": "${HOOK_URL}", "headers": {"Authorization": "Bearer ${HOOK_TOKEN}"}},
    },
    "default_route": {"channels": ["page", "hook"]},
}
EVERYTHING = ("langfuse", "gitlab", "github", "channels")


def test_unused_keys_load_as_placeholders_named_in_settings() -> None:
    settings = settings_from_dict(RAW, env={}, unused=EVERYTHING)
    assert settings.placeholders("channels.page") == ["PD_KEY"]  # a routing key is no URL: its own shape
    assert settings.placeholders("channels.hook") == ["HOOK_URL", "HOOK_TOKEN"]
    assert settings.placeholders("langfuse") == ["LF_PK", "LF_SK"]
    assert settings.placeholders("gitlab.token") == ["GITLAB_TOKEN"]
    assert set(settings.channel_configs) == {"page", "hook"}  # every channel is still there to print to


def test_nothing_that_sends_is_built_from_a_placeholder() -> None:
    settings = settings_from_dict(RAW, env={}, unused=EVERYTHING)
    with pytest.raises(ConfigError, match=r"langfuse: LF_PK, LF_SK not set, needed to read traces from Langfuse"):
        build_source(settings)
    with pytest.raises(ConfigError, match=r"channels.page: PD_KEY not set, needed to send to this channel"):
        build_notifiers(settings)
    with pytest.raises(ConfigError, match=r"gitlab: GITLAB_TOKEN not set, needed to read merge requests"):
        gitlab_factory(settings)()  # type: ignore[misc]
    with pytest.raises(ConfigError, match=r"github: GITHUB_TOKEN not set, needed to read pull requests"):
        github_factory(settings)()  # type: ignore[misc]
    # A dry run prints every channel on the terminal: no channel of its own is built.
    printed = build_notifiers(settings, dry_run=True)
    assert set(printed) == {"page", "hook"} and all(isinstance(n, StdoutNotifier) for n in printed.values())


def test_a_key_the_command_uses_or_a_placeholder_its_check_rejects_is_still_needed() -> None:
    mail = {"kind": "email", "host": "smtp.example", "from_addr": "m@example.com", "to": ["${ONCALL}"]}
    raw = RAW | {"channels": RAW["channels"] | {"mail": mail}}
    with pytest.raises(ConfigError) as info:
        settings_from_dict(raw, env={}, unused=("langfuse", "channels", "github"))
    assert info.value.problems == [
        "monitors.yaml: gitlab.token: environment variable GITLAB_TOKEN is not set",
        # An address is neither a URL nor a key: no placeholder stands in for it, the variable is needed after all.
        "monitors.yaml: channels.mail.to.0: environment variable ONCALL is not set",
    ]


def test_why_a_key_is_needed_follows_its_problem() -> None:
    with pytest.raises(ConfigError) as info:
        settings_from_dict(RAW, env={}, unused=("langfuse", "channels", "github"), needed_for={"gitlab.token": "drift"})
    assert info.value.problems == [
        "monitors.yaml: gitlab.token: environment variable GITLAB_TOKEN is not set (needed: drift)"
    ]


def test_a_store_command_loads_when_an_unused_section_would_not_validate_with_an_empty_value() -> None:
    # Unset, langfuse.host used to read as "", which failed its URL check and stopped `silence` with
    # "invalid configuration" and not one line saying why.
    raw = RAW | {"langfuse": RAW["langfuse"] | {"host": "${LANGFUSE_HOST}"}}
    settings = settings_from_dict(raw, env={}, needs=("store",))
    assert "LANGFUSE_HOST" in settings.placeholders("langfuse.host")

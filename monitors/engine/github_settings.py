"""The `github:` section of monitors.yaml: where goal-drift reads pull requests, and how it signs in.

Exactly one way to authenticate: `token`, or a GitHub App (`app_id`, `private_key`, and
`installation_id` when the app is installed on one account: without it each repository's installation is
looked up); a mixture is a problem naming the key. The private key is checked to be an RSA PEM here, so `validate`
catches a wrong or truncated key before a run does; it is never shown.
"""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationInfo, field_validator

from monitors.contracts.values import Duration
from monitors.engine.interpolate import PLACEHOLDERS


class GitHubSettings(BaseModel):
    """The `github:` section: pull requests for goal-drift, read with a token or as a GitHub App."""

    model_config = ConfigDict(extra="forbid", validate_default=True)

    url: str = Field(
        "https://api.github.com",
        description="GitHub API root; GitHub Enterprise Server: https://HOST/api/v3.",
    )
    token: SecretStr | None = Field(
        None,
        description="Read-only token: pull requests + contents (${GITHUB_TOKEN}). Or a GitHub App: "
        "app_id, private_key (and installation_id) instead.",
    )
    app_id: int | str | None = Field(None, description="GitHub App: its app ID (or client ID), instead of a token.")
    installation_id: int | None = Field(
        None,
        ge=1,
        description="GitHub App: the installation's ID (the end of its settings URL); leave it out to look up "
        "each repository's installation (an app installed on several accounts).",
    )
    private_key: SecretStr | None = Field(
        None, description="GitHub App: its private key, a PEM (use ${GITHUB_APP_PRIVATE_KEY})."
    )
    timeout: Duration = "30s"
    max_rate_limit_wait: Duration = Field(
        "60s", description="Wait out a rate limit this long at most; beyond, the PR waits for the next run."
    )
    offline_file: Path | None = Field(None, description="Read pull requests from a JSON file (demo).")

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not re.match(r"^https?://[^\s/]+", value):
            raise ValueError("must be an http(s) URL such as https://api.github.com")
        return value.rstrip("/")

    # Token or app, checked key by key (each validator sees the keys declared above it) so every
    # problem names its key.
    @field_validator("app_id")
    @classmethod
    def _app_id(cls, value: int | str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        if info.data.get("token") is not None:
            raise ValueError("set either github.token or a GitHub App (app_id, private_key), not both")
        text = str(value).strip()
        if isinstance(value, bool) or not re.fullmatch(r"[1-9][0-9]*|Iv[0-9A-Za-z.]+", text):
            raise ValueError("must be the GitHub App's numeric app ID (or its client ID, Iv...)")
        return text

    @field_validator("installation_id")
    @classmethod
    def _installation_id(cls, value: int | None, info: ValidationInfo) -> int | None:
        if value is not None:  # optional with an app: absent, each repository's installation is looked up
            _app_key_problem("installation_id", True, info)
        return value

    @field_validator("private_key")
    @classmethod
    def _private_key(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        _app_key_problem("private_key", value is not None, info)
        # Empty or a placeholder: its variable is unset, which is reported already (or not needed by
        # this command: `status` reads no pull request).
        if value is not None and value.get_secret_value() not in ("", *PLACEHOLDERS):
            from monitors.sources.github_app import load_private_key

            load_private_key(value.get_secret_value())
        return value


def _app_key_problem(key: str, present: bool, info: ValidationInfo) -> None:
    """A GitHub App key without app_id, or app_id without it: ValueError naming both."""
    if present and "app_id" in info.data and info.data["app_id"] is None:
        if info.data.get("token") is not None:
            raise ValueError(f"a GitHub App key: set either github.token or github.app_id with github.{key}")
        raise ValueError("a GitHub App key: needs github.app_id as well")
    if not present and info.data.get("app_id") is not None:
        raise ValueError("required with github.app_id (GitHub App authentication)")

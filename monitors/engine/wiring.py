"""Build a run's dependencies (source, store, notifiers, GitLab, GitHub) from settings and CLI options."""

from __future__ import annotations

import threading
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

from monitors.contracts.errors import ConfigError
from monitors.contracts.source import TraceSource
from monitors.engine.config import Settings
from monitors.engine.registry import notifier_class
from monitors.store.store import Store
from monitors.support.retry import RetryPolicy


def demo_path(name: str) -> Path:
    """A file bundled in monitors/demo (sample traces, merge requests, config)."""
    return Path(str(resources.files("monitors") / "demo" / name))


def build_source(settings: Settings, source_file: Path | None = None) -> TraceSource:
    """A replay of `source_file` when given, otherwise Langfuse as configured."""
    if source_file is not None:
        from monitors.sources.replay import ReplaySource

        if not source_file.exists():
            raise ConfigError(f"--source: no such file: {source_file}")
        host = settings.langfuse.host if settings.langfuse else None
        return ReplaySource(source_file, host=host)
    lf = settings.langfuse
    if lf is None:
        where = settings.source_file or "monitors.yaml"
        raise ConfigError(f"{where}: langfuse: section required to read traces (or pass --source FILE)")
    _refuse_placeholders(settings, "langfuse", "to read traces from Langfuse")
    from monitors.sources.langfuse import LangfuseSource

    return LangfuseSource(
        lf.host,
        lf.public_key.get_secret_value(),
        lf.secret_key.get_secret_value(),
        timeout=lf.timeout.total_seconds(),
        retry=RetryPolicy(attempts=lf.max_retries + 1),
        api=lf.api,
        page_size=lf.page_size,
        requests_per_minute=lf.minute_budget(),
    )


def _refuse_placeholders(settings: Settings, key: str, needed: str) -> None:
    """A key whose variable a command said it would not use holds a placeholder: never send it anywhere."""
    unset = settings.placeholders(key)
    if unset:
        where = settings.source_file or "monitors.yaml"
        raise ConfigError(f"{where}: {key}: {', '.join(unset)} not set, needed {needed}")


def _beside_config(path: Path, settings: Settings) -> Path:
    """A relative path in monitors.yaml is relative to that file, not to the working directory."""
    if path.is_absolute() or settings.source_file is None:
        return path
    return settings.source_file.parent / path


def gitlab_factory(settings: Settings) -> Callable[[], Any] | None:
    """Build the GitLab client lazily: only goal-drift asks, and only when it has merge requests."""
    gl = settings.gitlab
    if gl is None:
        return None

    def build() -> Any:
        from monitors.sources.gitlab import GitLabSource, OfflineGitLab

        if gl.offline_file is not None:
            return OfflineGitLab(_beside_config(gl.offline_file, settings))
        if gl.token is None:
            raise ConfigError("gitlab.token: required to read merge requests (use ${GITLAB_TOKEN})")
        _refuse_placeholders(settings, "gitlab", "to read merge requests from GitLab")
        return GitLabSource(gl.url, gl.token.get_secret_value(), timeout=gl.timeout.total_seconds())

    return build


def github_factory(settings: Settings) -> Callable[[], Any] | None:
    """Build the GitHub client lazily: only goal-drift asks, and only when it has pull requests."""
    gh = settings.github
    if gh is None:
        return None

    # A GitHub App's tokens are shared by the run's reader threads: one token for the run, not one each.
    app_tokens: list[Any] = []
    app_lock = threading.Lock()

    def auth(retry: RetryPolicy) -> Any:
        if gh.token is not None:
            return gh.token.get_secret_value()
        if gh.app_id is None or gh.private_key is None:
            raise ConfigError(
                "github.token: required to read pull requests (use ${GITHUB_TOKEN}), or a GitHub App: "
                "github.app_id and github.private_key (and github.installation_id)"
            )
        if not gh.private_key.get_secret_value():
            raise ConfigError("github.private_key: empty (use ${GITHUB_APP_PRIVATE_KEY})")
        with app_lock:
            if not app_tokens:
                app_tokens.append(_app_tokens(gh, retry))
            return app_tokens[0]

    def build() -> Any:
        from monitors.sources.github import GitHubSource, OfflineGitHub

        if gh.offline_file is not None:
            return OfflineGitHub(_beside_config(gh.offline_file, settings))
        _refuse_placeholders(settings, "github", "to read pull requests from GitHub")
        retry = RetryPolicy(
            max_delay=gh.max_rate_limit_wait.total_seconds(), max_total_wait=gh.max_rate_limit_wait.total_seconds() * 2
        )
        return GitHubSource(auth(retry), gh.url, timeout=gh.timeout.total_seconds(), retry=retry)

    return build


def _app_tokens(gh: Any, retry: RetryPolicy) -> Any:
    """The app's installation tokens: of the one configured installation, or of each repository's."""
    key, timeout = gh.private_key.get_secret_value(), gh.timeout.total_seconds()
    if gh.installation_id is None:
        from monitors.sources.github_installations import RepositoryInstallations

        return RepositoryInstallations(gh.url, str(gh.app_id), key, timeout=timeout, retry=retry)
    from monitors.sources.github_app import InstallationTokens

    return InstallationTokens(gh.url, str(gh.app_id), gh.installation_id, key, timeout=timeout, retry=retry)


def build_notifiers(settings: Settings, *, dry_run: bool = False) -> dict[str, Any]:
    """One notifier per configured channel; a dry run prints every channel to the terminal instead."""
    notifiers: dict[str, Any] = {}
    retry = RetryPolicy(attempts=settings.alerting.retries_per_run + 1, max_total_wait=30)
    for name, config in settings.channel_configs.items():
        if dry_run:
            stdout = notifier_class("stdout")
            notifiers[name] = stdout(name, stdout.Config(kind="stdout"))
        else:
            _refuse_placeholders(settings, f"channels.{name}", "to send to this channel")
            notifiers[name] = notifier_class(config.kind)(name, config, retry=retry)
    return notifiers


def open_store(settings: Settings, *, dry_run: bool = False) -> Store:
    """The configured store; a dry run gets a throwaway in-memory one so nothing on disk changes."""
    if dry_run:
        return Store.open("sqlite://")
    return Store.open(settings.store.url.get_secret_value())

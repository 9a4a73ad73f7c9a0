"""monitors.yaml and schedules.yaml: loaded once, validated early, unknown keys rejected.

Secrets never live in the files: `${VAR}` takes an environment variable, or else the file named by
`VAR_FILE` (how the Kubernetes manifests mount the Secret), `${VAR:-default}` gives a fallback, and
`${file:/run/secrets/x}` reads a mounted file. Every problem is reported as
`file: dotted.path: reason`, all at once, and the CLI exits 2. A command may name the keys it never
uses (`needs`, `unused`): a variable left unset there reads as a placeholder that reaches nothing, and
`Settings.placeholders` names it so nothing builds a client or a channel from it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Collection, Iterator, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from monitors.contracts.errors import ConfigError, UnknownMonitorError
from monitors.contracts.findings import Severity
from monitors.contracts.values import Duration, format_duration
from monitors.engine.github_settings import GitHubSettings
from monitors.engine.interpolate import PLACEHOLDERS, Unresolved, about_value, interpolate, is_under
from monitors.engine.metrics_settings import MetricsSettings
from monitors.engine.problems import pydantic_problems
from monitors.engine.registry import MONITORS, monitor_class, notifier_class
from monitors.engine.routes_config import Route, route_problems
from monitors.engine.yaml_input import read_yaml
from monitors.support.zones import known_zone

MIN_OUTBOX_RETENTION = timedelta(days=1)  # a run reads the last day's sends (group intervals)
CLOUD_REQUESTS_PER_MINUTE = 15  # half of Langfuse Cloud Hobby's 30 general requests a minute


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)


class LangfuseSettings(Strict):
    host: str = Field("https://cloud.langfuse.com", description="Langfuse base URL (cloud or self-hosted).")
    public_key: SecretStr = Field(description="Project public key, pk-lf-... (use ${LANGFUSE_PUBLIC_KEY}).")
    secret_key: SecretStr = Field(description="Project secret key, sk-lf-... (use ${LANGFUSE_SECRET_KEY}).")
    api: Literal["auto", "v2", "legacy"] = Field("auto", description="auto detects v2 once per run.")
    query_delay: Duration = Field("15m", description="Read windows end this long before now.")
    timeout: Duration = Field("30s", description="Per-request timeout.")
    max_retries: int = Field(4, ge=0, le=10, description="Retries on 429/5xx/timeouts.")
    page_size: int = Field(1000, ge=1, le=1000, description="Observations v2 page size.")
    requests_per_minute: int | Literal["auto"] | None = Field(
        "auto",
        description="Client-side cap on requests a minute. auto: 15 on Langfuse Cloud (half of Hobby's "
        "30/min), none on self-hosted servers; a number for paid plans; null for no cap.",
    )

    @field_validator("requests_per_minute")
    @classmethod
    def _positive(cls, value: int | str | None) -> int | str | None:
        if isinstance(value, int) and value < 1:
            raise ValueError("must be at least 1 (or auto, or null for no cap)")
        return value

    def minute_budget(self) -> int | None:
        """The cap in force: Langfuse Cloud rate-limits per organization, self-hosted servers do not."""
        if self.requests_per_minute != "auto":
            return self.requests_per_minute
        cloud = re.match(r"^https://([a-z0-9-]+\.)*cloud\.langfuse\.com(/|$)", self.host)
        return CLOUD_REQUESTS_PER_MINUTE if cloud else None

    @field_validator("host")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not re.match(r"^https?://[^\s/]+", value):
            raise ValueError("must be an http(s) URL such as https://cloud.langfuse.com")
        return value.rstrip("/")


class GitLabSettings(Strict):
    url: str = Field("https://gitlab.com", description="GitLab base URL.")
    token: SecretStr | None = Field(None, description="Read-only API token (use ${GITLAB_TOKEN}).")
    timeout: Duration = "30s"
    offline_file: Path | None = Field(None, description="Read merge requests from a JSON file (demo).")


class StoreSettings(Strict):
    url: SecretStr = Field(
        SecretStr("sqlite:///state/monitors.db"),
        description="sqlite:///path.db or postgresql://user@host/db (may hold a password: a secret).",
    )

    @field_validator("url")
    @classmethod
    def _store_url(cls, value: SecretStr) -> SecretStr:
        from monitors.store.urls import store_url_problem

        problem = store_url_problem(value.get_secret_value())
        if problem:
            raise ValueError(f"{problem} (the URL is not shown: it may hold a password)")
        return value

    lock_lease: Duration = Field(
        "30s",
        description="SQLite: a run renews its lock every third of this; a lock not renewed for this long "
        "(its holder was killed) is taken over. PostgreSQL locks end with their holder's session.",
    )
    outbox_retention: Duration = Field(
        "30d",
        description="Delivered and given-up alert messages are deleted from the outbox this long after they "
        "settled (pending ones never; an alert still open that may get a resolved notice is kept). At least 1d.",
    )

    @field_validator("outbox_retention")
    @classmethod
    def _retention(cls, value: timedelta) -> timedelta:
        if value < MIN_OUTBOX_RETENTION:
            raise ValueError(f"must be at least 1d (got {format_duration(value)}): runs read what was sent recently")
        return value


class MetadataKeys(Strict):
    """Trace metadata keys the monitors read; rename them to match what your agents set."""

    feature: str = "feature"
    objective: str = "objective"
    mr_iid: str = "mr_iid"
    repo: str = "repo"
    plan: str = "plan"


class AlertingSettings(Strict):
    realert: Duration | None = Field(None, description="Re-send a still-open finding after this long (default: never).")
    max_attempts: int = Field(50, ge=1, description="Give up on an outbox message after this many runs.")
    retries_per_run: int = Field(
        3,
        ge=0,
        le=10,
        description="In-run retries per webhook call (429, 5xx, refused); a POST that timed out is never retried "
        "in the run: it may have arrived.",
    )


class ReportSettings(Strict):
    output_dir: Path = Field(Path("reports"), description="Where full Markdown/HTML reports are written.")
    channels: list[str] | None = Field(None, description="Channels for the digest (default: all).")
    timezone: str = "UTC"


class Settings(Strict):
    langfuse: LangfuseSettings | None = None
    gitlab: GitLabSettings | None = None
    github: GitHubSettings | None = None
    store: StoreSettings = Field(default_factory=StoreSettings)
    channels: dict[str, dict[str, Any]] = Field(default_factory=dict)
    routes: list[Route] = Field(default_factory=list)
    default_route: Route | None = None
    metadata_keys: MetadataKeys = Field(default_factory=MetadataKeys)
    alerting: AlertingSettings = Field(default_factory=AlertingSettings)
    report: ReportSettings = Field(default_factory=ReportSettings)
    monitors: dict[str, dict[str, Any]] = Field(default_factory=dict)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)
    # Filled by load_config after validating the free-form sections above.
    channel_configs: dict[str, Any] = Field(default_factory=dict, exclude=True)
    monitor_configs: dict[str, Any] = Field(default_factory=dict, exclude=True)
    disabled_monitors: set[str] = Field(default_factory=set, exclude=True)
    source_file: Path | None = Field(None, exclude=True)
    # `${...}` left without a value in keys the loading command said it would not use: placeholders.
    unresolved: list[Unresolved] = Field(default_factory=list, exclude=True)

    def placeholders(self, path: str) -> list[str]:
        """The variables (or secret files) left unset at or under the dotted key `path`: its value there
        is a placeholder, never to be sent anywhere."""
        return [u.name for u in self.unresolved if is_under(u.path, path)]

    def routes_for(self, monitor: str, kind: str, severity: Severity) -> list[str]:
        """Channel names that get a finding, in config order, without duplicates."""
        return list(self.channel_routes(monitor, kind, severity))

    def channel_routes(self, monitor: str, kind: str, severity: Severity) -> dict[str, Route]:
        """Channel name -> the first matching route that names it (its grouping and resolve options)."""
        matching = [r for r in self.routes if r.matches(monitor, kind, severity)]
        if not matching and self.default_route and self.default_route.matches(monitor, kind, severity):
            matching = [self.default_route]
        chosen: dict[str, Route] = {}
        for route in matching:
            for channel in route.channels:
                chosen.setdefault(channel, route)
        return chosen

    def resolving_channels(self) -> set[str]:
        """Channels some route sends resolved notices to (what outbox pruning keeps open alerts' rows for)."""
        routes = [*self.routes, *([self.default_route] if self.default_route else [])]
        return {channel for route in routes if route.send_resolved for channel in route.channels}

    def enabled_monitors(self) -> list[str]:
        return [name for name in MONITORS if name not in self.disabled_monitors]


# --- loading -----------------------------------------------------------------------------------


def settings_from_dict(
    raw: Any,
    *,
    env: dict[str, str] | None = None,
    name: str = "monitors.yaml",
    needs: Collection[str] | None = None,
    unused: Collection[str] = (),
    needed_for: Mapping[str, str] | None = None,
) -> Settings:
    """Validate a parsed monitors.yaml; raise ConfigError listing every problem.

    `needs` names the top-level sections whose secrets the caller will use (None: every section), and
    `unused` dotted keys (with everything under them) whose secrets it will not. A variable left unset
    in a key the caller does not use is not an error: `silence` reads only the store, so it must not
    demand the chat webhooks. Such a key holds a placeholder, listed in `settings.unresolved`; when the
    key's own check rejects the placeholder (a number, an address), the variable is needed after all.
    `needed_for`: dotted key -> why the caller needs it, said after its variable's problem.
    """
    if not isinstance(raw, dict):
        raise ConfigError(f"{name}: the top level must be a mapping of sections")
    environ = dict(os.environ if env is None else env)
    shape: dict[str, int] = {}  # key -> index in PLACEHOLDERS of the shape its placeholder takes
    while True:
        gaps: list[Unresolved] = []
        resolved = interpolate(raw, "", gaps, environ, lambda path: PLACEHOLDERS[shape.get(path, 0)])
        settings, found = _validated(resolved)
        rejected = {g.path for g in gaps if any(about_value(p, g.path) for p in found)}
        reshaped = [path for path in rejected if shape.get(path, 0) + 1 < len(PLACEHOLDERS)]
        if not reshaped:
            break
        for path in reshaped:  # a routing key is no URL: try its placeholder in the next shape
            shape[path] = shape.get(path, 0) + 1

    def unneeded(gap: Unresolved) -> bool:
        section = gap.path.split(".", 1)[0]
        return (needs is not None and section not in needs) or any(is_under(gap.path, key) for key in unused)

    # A placeholder no shape of which the key's own check takes (a number, an address) cannot stand in.
    spared = [g for g in gaps if unneeded(g) and g.path not in rejected]
    needed = [g.problem + _why(g.path, needed_for) for g in gaps if g not in spared]
    # A key without its value already has its problem; what its placeholder failed would only add noise.
    problems = needed + [p for p in found if not any(about_value(p, g.path) for g in gaps)]
    if problems or settings is None:
        raise ConfigError("invalid configuration", [f"{name}: {p}" for p in problems])
    settings.unresolved = spared
    return settings


def _validated(raw: dict[str, Any]) -> tuple[Settings | None, list[str]]:
    """The settings (None when they do not validate) and every problem found, once each."""
    sections = _SectionConfigs()
    found = list(sections.validate(raw.get("channels"), raw.get("monitors")))
    settings: Settings | None = None
    try:
        settings = Settings.model_validate(raw)
    except ValidationError as exc:
        found.extend(pydantic_problems(exc, model=Settings))
    if settings is not None:
        sections.apply(settings)
    found.extend(_cross_problems(raw, sections, settings))
    return settings, list(dict.fromkeys(found))


def _cross_problems(raw: dict[str, Any], sections: _SectionConfigs, settings: Settings | None) -> Iterator[str]:
    """Keys that name others (routes -> channels and monitors, intervals -> retention, the report's zone):
    checked also when another section is broken, so `validate` lists every problem in one pass."""
    channels = raw.get("channels") if isinstance(raw.get("channels"), dict) else {}
    kinds = {name: getattr(sections.channels.get(name), "kind", None) or _kind(body) for name, body in channels.items()}
    if settings is not None:
        retention: timedelta | None = settings.store.outbox_retention
    else:
        try:
            retention = StoreSettings.model_validate(raw.get("store") or {}).outbox_retention
        except (ValidationError, TypeError):
            retention = None  # its own problem is reported; the interval check waits for it
    yield from route_problems(raw.get("routes"), raw.get("default_route"), kinds, retention)
    report = raw.get("report") if isinstance(raw.get("report"), dict) else {}
    zone = report.get("timezone", "UTC")
    if isinstance(zone, str) and known_zone(zone) is None:
        yield f"report.timezone: unknown time zone {zone!r}"


def _kind(body: Any) -> str | None:
    return body.get("kind") if isinstance(body, dict) and isinstance(body.get("kind"), str) else None


def _why(path: str, needed_for: Mapping[str, str] | None) -> str:
    reasons = [why for key, why in (needed_for or {}).items() if is_under(path, key)]
    return f" (needed: {reasons[0]})" if reasons else ""


class _SectionConfigs:
    """Channels and monitors are typed by their own classes: validated even when the rest is broken."""

    def __init__(self) -> None:
        self.channels: dict[str, Any] = {}
        self.monitors: dict[str, Any] = {}
        self.disabled: set[str] = set()

    def validate(self, channels: Any, monitors: Any) -> Iterator[str]:
        for channel, body in (channels or {}).items() if isinstance(channels, dict) else ():
            body = body if isinstance(body, dict) else {}
            try:
                cls = notifier_class(str(body.get("kind", "")))
                self.channels[channel] = cls.Config.model_validate(body)
            except UnknownMonitorError as exc:
                yield f"channels.{channel}.kind: {exc}"
            except ValidationError as exc:
                yield from pydantic_problems(exc, f"channels.{channel}", cls.Config)
        for name, body in (monitors or {}).items() if isinstance(monitors, dict) else ():
            body = dict(body) if isinstance(body, dict) else {}
            if not body.pop("enabled", True):
                self.disabled.add(name)
            try:
                config_class = monitor_class(name).Config
                self.monitors[name] = config_class.model_validate(body)
            except UnknownMonitorError as exc:
                yield f"monitors.{name}: {exc}"
            except ValidationError as exc:
                yield from pydantic_problems(exc, f"monitors.{name}", config_class)

    def apply(self, settings: Settings) -> None:
        settings.channel_configs.update(self.channels)
        settings.monitor_configs.update(self.monitors)
        settings.disabled_monitors.update(self.disabled)


def load_config(
    path: str | Path,
    *,
    env: dict[str, str] | None = None,
    needs: Collection[str] | None = None,
    unused: Collection[str] = (),
    needed_for: Mapping[str, str] | None = None,
) -> Settings:
    """Read and validate monitors.yaml; raise ConfigError naming the file and each bad key.

    `needs`, `unused`, `needed_for`: which secrets must resolve (by default all), as in `settings_from_dict`.
    """
    path = Path(path)
    settings = settings_from_dict(
        read_yaml(path), env=env, name=str(path), needs=needs, unused=unused, needed_for=needed_for
    )
    settings.source_file = path
    return settings

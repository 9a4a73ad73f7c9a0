"""Prometheus Alertmanager: findings become alerts through `POST /api/v2/alerts`.

Alertmanager keeps alerts as state: a client re-sends every alert that still holds, and an alert whose
`endsAt` has passed is resolved. Prometheus itself re-sends firing alerts every evaluation with an
`endsAt` four resend intervals ahead; we do the same. After every run the open findings (those a run
observed within `expire_after`) are posted again, each with `endsAt` = when it was last observed +
`expire_after`, so an alert stays firing while monitors keep observing it and resolves on its own
`expire_after` after the last run that saw it (see `monitors.metrics.alert_sync`). Alertmanager then
does the grouping, inhibition, silencing and repeat intervals it is built for, which is why an
alertmanager channel takes no part in `routes`: it picks findings itself by `monitors` and
`min_severity`.

Setup:
1. Note the Alertmanager base URL the pods can reach, e.g. http://alertmanager.monitoring:9093 (with
   basic auth: http://user:password@host:9093, or set `bearer_token`).
2. In monitors.yaml:

       channels:
         am:
           kind: alertmanager
           url: ${ALERTMANAGER_URL}
           min_severity: warning
           labels: {team: ml-platform}      # added to every alert, for your routing tree

3. `run-monitor test-alert --channel am` posts a test alert that resolves by itself after 5 minutes.

Labels: alertname (`langfuse_<monitor>_<check>`), monitor, check, severity, key (the finding's dedupe
key, so each finding is its own alert), plus the channel's `labels`. Annotations: summary (the title),
description, details (the finding's fields, one per line), links. `generatorURL` is the finding's first
link (the Langfuse trace). Agent text in labels and annotations is neutralised the way Mattermost plain
text is (no live @-mentions or `<!channel>`), and `scheme://` and `www.` are broken so no receiver autolinks it:
Alertmanager forwards these strings into Slack, Mattermost, e-mail and webhooks through its templates.

Docs: https://prometheus.io/docs/alerting/latest/clients/ and the spec copy in
reference/alertmanager-api-v2-openapi.yaml (`postableAlerts`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Literal

import requests
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from monitors.contracts.findings import Severity, utc
from monitors.contracts.message import Message
from monitors.contracts.values import Duration
from monitors.notifiers.base import DeliveryResult, WebhookNotifier, check_webhook_url, default_retry, redact_host
from monitors.support.retry import RetryPolicy
from monitors.support.safe_text import TRUNCATED, WORD_JOINER, mattermost_plain

ALERTS_PATH = "/api/v2/alerts"
LABEL_VALUE_MAX = 200
ANNOTATION_MAX = 4000
BATCH_MAX = 200  # alerts per POST; Alertmanager has no documented cap, this keeps one body modest
TEST_ALERT_TTL = timedelta(minutes=5)
# Prometheus' label name syntax, which Alertmanager accepts in every validation mode.
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_NOT_NAME_CHAR = re.compile(r"[^a-zA-Z0-9_]")
_WWW = re.compile(r"\b(www)\.", re.IGNORECASE)


def neutral(text: object, limit: int) -> str:
    """Agent text for a label or annotation: plain, no mentions, no `<!here>`, no autolinkable URL
    (the invisible word joiner breaks `scheme://` and `www.` as it breaks `@here`)."""
    safe = mattermost_plain(text, limit).replace("://", ":" + WORD_JOINER + "//")
    return _WWW.sub(lambda m: m.group(1) + WORD_JOINER + ".", safe)


def iso(when: datetime) -> str:
    return utc(when).isoformat().replace("+00:00", "Z")


def key_label(dedupe_key: str) -> str:
    """The finding's dedupe key as a label value. A key too long to show whole keeps a digest of the
    full key, so two long keys with the same beginning stay two alerts."""
    shown = neutral(dedupe_key, LABEL_VALUE_MAX)
    if not shown.endswith(TRUNCATED):
        return shown
    return f"{shown} #{hashlib.sha256(dedupe_key.encode()).hexdigest()[:12]}"


def alertname(monitor: str, kind: str) -> str:
    name = "_".join(p for p in ("langfuse", monitor, kind) if p)
    return _NOT_NAME_CHAR.sub("_", name)


@dataclass(frozen=True)
class OpenFinding:
    """What one alert is built from: a finding as the store keeps it, and when it was seen."""

    monitor: str
    dedupe_key: str
    kind: str
    severity: Severity
    title: str
    summary: str
    fields: tuple[tuple[str, str], ...]
    links: tuple[tuple[str, str], ...]  # (label, url), built by us
    first_seen: datetime
    last_seen: datetime
    resolved_at: datetime | None = None  # when a monitor said it no longer holds

    def ends_at(self, expire_after: timedelta) -> datetime:
        """When Alertmanager should consider it over: at once if resolved, else after `expire_after`."""
        return self.resolved_at if self.resolved_at is not None else self.last_seen + expire_after


@dataclass(frozen=True)
class AlertBatch:
    """Alerts to POST as one body; `deliver` takes it in place of a Message (see `payload`)."""

    alerts: tuple[dict[str, Any], ...]


class AlertmanagerNotifier(WebhookNotifier):
    """Posts findings to Alertmanager as alerts; re-sent after each run while they hold."""

    kind: ClassVar[str] = "alertmanager"
    max_body_chars: ClassVar[int] = ANNOTATION_MAX
    request_timeout: ClassVar[float] = 10.0
    status_reasons: ClassVar[Mapping[int, str]] = {
        400: "Alertmanager rejected the alerts",
        401: "not authorised (check the URL's credentials or bearer_token)",
        403: "forbidden (check the URL's credentials or bearer_token)",
        404: "no /api/v2/alerts here (is the URL Alertmanager's base URL, and is it v0.16 or newer?)",
    }

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid", validate_default=True)

        kind: Literal["alertmanager"] = "alertmanager"
        url: SecretStr = Field(description="Alertmanager base URL, e.g. http://alertmanager:9093 (a secret).")
        bearer_token: SecretStr | None = Field(None, description="Sent as `Authorization: Bearer ...`.")
        monitors: list[str] = Field(default_factory=lambda: ["*"], description="Monitor names or '*'.")
        min_severity: Severity = Field(Severity.WARNING, description="info, warning or critical.")
        expire_after: Duration = Field(
            "1h",
            description="An alert resolves this long after the last run that observed its finding; keep it "
            "above your most frequent schedule's interval (Prometheus uses 4 intervals).",
        )
        labels: dict[str, str] = Field(default_factory=dict, description="Extra labels on every alert.")
        timeout: float = Field(10.0, gt=0, le=120, description="Seconds per HTTP attempt.")

        _url = field_validator("url")(check_webhook_url)

        @field_validator("min_severity", mode="before")
        @classmethod
        def _severity(cls, value: Any) -> Severity:
            return Severity.parse(value)

        @field_validator("labels")
        @classmethod
        def _label_names(cls, labels: dict[str, str]) -> dict[str, str]:
            for name in labels:
                if not _LABEL_NAME.match(name) or name.startswith("__"):
                    raise ValueError(f"label name {name!r} must match [a-zA-Z_][a-zA-Z0-9_]* (no leading __)")
            return labels

        def selects(self, monitor: str, severity: Severity) -> bool:
            return ("*" in self.monitors or monitor in self.monitors) and severity >= self.min_severity

    def __init__(
        self,
        name: str,
        config: Config,
        *,
        retry: RetryPolicy | None = None,
        session: requests.Session | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        # Not WebhookNotifier.__init__: the configured URL is a base URL, not the endpoint itself.
        self.name = name
        self.config = config
        self.retry = retry or default_retry()
        self.session = session or requests.Session()
        self._url = config.url.get_secret_value().rstrip("/") + ALERTS_PATH
        self.where = redact_host(self._url)
        self.clock = clock or (lambda: datetime.now(UTC))
        if config.bearer_token is not None:
            self.session.headers["Authorization"] = f"Bearer {config.bearer_token.get_secret_value()}"
        self.log = logging.getLogger(f"monitors.notifiers.{self.kind}")

    # --- building alerts -----------------------------------------------------------------------

    def alert(self, finding: OpenFinding) -> dict[str, Any]:
        """One postableAlert for an open finding."""
        labels = {
            **{k: neutral(v, LABEL_VALUE_MAX) for k, v in self.config.labels.items()},
            "alertname": alertname(finding.monitor, finding.kind),
            "monitor": finding.monitor,
            "check": neutral(finding.kind or "-", LABEL_VALUE_MAX),
            "severity": finding.severity.label,
            "key": key_label(finding.dedupe_key),
        }
        annotations = {"summary": neutral(finding.title, ANNOTATION_MAX)}
        if finding.summary.strip():
            annotations["description"] = neutral(finding.summary, ANNOTATION_MAX)
        if finding.fields:
            details = "\n".join(f"{label}: {value}" for label, value in finding.fields)
            annotations["details"] = neutral(details, ANNOTATION_MAX)
        web = [(label, url) for label, url in finding.links if url.startswith(("https://", "http://"))]
        if web:
            # URLs we built, left intact; their labels are agent-free but neutralised all the same.
            annotations["links"] = "\n".join(f"{neutral(label, 200)}: {url}" for label, url in web)[:ANNOTATION_MAX]
        body: dict[str, Any] = {
            "labels": labels,
            "annotations": annotations,
            "startsAt": iso(finding.first_seen),
            "endsAt": iso(finding.ends_at(self.config.expire_after)),
        }
        if web:
            body["generatorURL"] = web[0][1]
        return body

    def payload(self, message: Message | AlertBatch) -> Any:  # type: ignore[override]
        if isinstance(message, AlertBatch):
            return list(message.alerts)
        # A Message reaches an Alertmanager channel only from `run-monitor test-alert`.
        now = self.clock()
        alert = {
            "labels": {
                **{k: neutral(v, LABEL_VALUE_MAX) for k, v in self.config.labels.items()},
                "alertname": "langfuse_monitors_test",
                "severity": message.severity.label,
            },
            "annotations": {"summary": neutral(message.title, ANNOTATION_MAX)},
            "startsAt": iso(now),
            "endsAt": iso(now + TEST_ALERT_TTL),
        }
        if message.summary.strip():
            alert["annotations"]["description"] = neutral(message.summary, ANNOTATION_MAX)
        return [alert]

    # --- sending -------------------------------------------------------------------------------

    def deliver_alerts(self, alerts: Sequence[dict[str, Any]]) -> list[DeliveryResult]:
        """POST `alerts` in batches, each with the base class's retries; one result per batch."""
        return [
            self.deliver(AlertBatch(tuple(alerts[i : i + BATCH_MAX])))  # type: ignore[arg-type]
            for i in range(0, len(alerts), BATCH_MAX)
        ]

    def failure_reason(self, status: int, body: str) -> str:
        reason = super().failure_reason(status, body)
        if status == 400:
            # API v2 answers 400 with a JSON string saying what it refused (spec: responses.BadRequest).
            try:
                parsed = json.loads(body)
            except ValueError:
                parsed = body
            if isinstance(parsed, dict):
                parsed = str(parsed.get("message", ""))
            detail = parsed if isinstance(parsed, str) else ""
            if detail.strip():
                reason = f"{reason}: {neutral(detail, 200)}"
        return reason

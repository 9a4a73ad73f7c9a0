"""A monitor whose findings are given in its config: drives the pipeline without any real detector."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from monitors.contracts.findings import Finding, Severity
from monitors.contracts.monitor import RunContext


class ScriptedMonitor:
    name: ClassVar[str] = "scripted"

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid")
        findings: list[dict[str, Any]] = []

    def __init__(self, config: Config) -> None:
        self.config = config

    def run(self, ctx: RunContext) -> Iterable[Finding]:
        ctx.state.put("runs", (ctx.state.get("runs") or 0) + 1)
        for spec in self.config.findings:
            yield Finding(
                monitor="scripted",
                dedupe_key=spec["key"],
                severity=Severity.parse(spec.get("severity", "warning")),
                title=spec.get("title", spec["key"]),
                summary=spec.get("summary", ""),
                observed_at=datetime.fromisoformat(spec["at"]) if "at" in spec else ctx.window.end,
                kind=spec.get("kind", "test"),
                rank=spec.get("rank", 0),
            )


class RecordingNotifier:
    """Collects delivered messages; `fail_with` makes deliveries fail (retryable or not)."""

    def __init__(self) -> None:
        self.messages: list[Any] = []
        self.fail_with: str | None = None  # None | "retryable" | "permanent"

    def deliver(self, message: Any) -> Any:
        from monitors.notifiers.base import DeliveryResult

        if self.fail_with:
            retryable = self.fail_with == "retryable"
            return DeliveryResult(
                ok=False,
                retryable=retryable,
                status=503 if retryable else 404,
                reason="scripted failure",
                retry_after=None,
                attempts=1,
            )
        self.messages.append(message)
        return DeliveryResult(ok=True, retryable=False, status=200, reason="ok", retry_after=None, attempts=1)

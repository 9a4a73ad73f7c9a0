"""A monitor whose findings, labels and resolved findings are given in its config (for routing tests)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from monitors.contracts.findings import Finding, Severity
from monitors.contracts.monitor import RunContext


class LifecycleMonitor:
    name: ClassVar[str] = "scripted"

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid")
        findings: list[dict[str, Any]] = []
        resolved: list[str] = []  # keys of findings that no longer hold

    def __init__(self, config: Config) -> None:
        self.config = config

    @staticmethod
    def finding(ctx: RunContext, spec: dict[str, Any]) -> Finding:
        return Finding(
            monitor="scripted",
            dedupe_key=spec["key"],
            severity=Severity.parse(spec.get("severity", "warning")),
            title=spec.get("title", spec["key"]),
            summary=spec.get("summary", f"summary of {spec['key']}"),
            observed_at=ctx.window.end,
            kind=spec.get("kind", "budget"),
            rank=int(Severity.parse(spec.get("severity", "warning"))),
            labels=spec.get("labels", {"agent": "llm-fix", "day": "2026-03-12"}),
        )

    def run(self, ctx: RunContext) -> Iterable[Finding]:
        for key in self.config.resolved:
            ctx.resolve(self.finding(ctx, {"key": key}), f"{key} no longer holds")
        return [self.finding(ctx, spec) for spec in self.config.findings]

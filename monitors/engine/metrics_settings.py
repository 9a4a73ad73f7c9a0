"""The `metrics:` section of monitors.yaml: where the Prometheus series go (docs/metrics.md)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from monitors.contracts.values import Duration


class MetricsSettings(BaseModel):
    """Prometheus series about the monitors themselves (docs/metrics.md); every output is optional."""

    model_config = ConfigDict(extra="forbid", validate_default=True)

    pushgateway_url: SecretStr | None = Field(
        None,
        description="Pushgateway base URL (may hold basic-auth credentials: a secret); each run replaces its group.",
    )
    textfile_path: Path | None = Field(None, description="Write every series to this .prom file (node-exporter).")
    listen: str | None = Field(None, description="host:port for /metrics and /healthz of `run-monitor scheduler`.")
    max_values_per_dimension: int = Field(
        50, ge=1, le=10000, description='Label values kept per budget; the rest are summed into value="other".'
    )
    timeout: Duration = Field("10s", description="Per-request timeout of a Pushgateway push.")

    @field_validator("pushgateway_url", "listen", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        # `${PUSHGATEWAY_URL:-}` leaves an empty string when the variable is unset: that means "off".
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("pushgateway_url")
    @classmethod
    def _pushgateway(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        if not re.match(r"^https?://[^\s/]+", value.get_secret_value()):
            raise ValueError("must be an http(s) URL such as http://pushgateway:9091 (the value is not shown)")
        return SecretStr(value.get_secret_value().rstrip("/"))

    @field_validator("textfile_path")
    @classmethod
    def _prom_suffix(cls, value: Path | None) -> Path | None:
        if value is not None and value.suffix != ".prom":
            raise ValueError("must end in .prom (node-exporter's textfile collector reads only *.prom)")
        return value

    @field_validator("listen")
    @classmethod
    def _host_port(cls, value: str | None) -> str | None:
        if value is not None:
            parse_listen(value)  # raises ValueError with the expected form
        return value


def parse_listen(value: str) -> tuple[str, int]:
    """'0.0.0.0:9464', ':9464' or '[::]:9464' -> (host, port)."""
    host, sep, port = value.strip().rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) < 65536:  # 0: any free port
        raise ValueError(f"{value!r} is not host:port (e.g. 0.0.0.0:9464 or :9464)")
    return host.strip("[]") or "0.0.0.0", int(port)

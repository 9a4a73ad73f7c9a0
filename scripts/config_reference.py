"""Write docs/configuration.md from the config models, so the reference cannot drift from the code.

python scripts/config_reference.py           # rewrite docs/configuration.md
python scripts/config_reference.py --check   # exit 1 when the file is out of date (tests run this)
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from monitors.engine import config
from monitors.engine.registry import MONITORS, NOTIFIERS, monitor_class, notifier_class
from monitors.engine.schedule_config import ScheduleJob

TARGET = Path(__file__).resolve().parent.parent / "docs" / "configuration.md"


def _default(field: Any) -> str:
    if field.is_required():
        return "required"
    value = field.get_default(call_default_factory=True)
    if isinstance(value, BaseModel):
        return "(section)"
    if hasattr(value, "get_secret_value"):
        return "(secret)"
    if hasattr(value, "total_seconds"):
        from monitors.contracts.values import format_duration

        return f"`{format_duration(value)}`"
    if hasattr(value, "label"):
        return f"`{value.label}`"
    if value in (None, [], {}):
        return "—" if value is None else f"`{value}`"
    return f"`{value}`"


def _rows(model: type[BaseModel], prefix: str) -> list[str]:
    rows = []
    for name, field in model.model_fields.items():
        if field.exclude:
            continue
        key = f"{prefix}.{name}" if prefix else name
        nested = field.annotation if isinstance(field.annotation, type) else None
        if nested is not None and issubclass(nested, BaseModel):
            rows += _rows(nested, key)
            continue
        item = getattr(field.annotation, "__args__", (None,))[0]
        if (
            getattr(field.annotation, "__origin__", None) is list
            and isinstance(item, type)
            and issubclass(item, BaseModel)
        ):
            rows.append(f"| `{key}` | `[]` | {(field.description or '').replace('|', '/')} Each entry: |")
            rows += _rows(item, f"{key}[]")
            continue
        text = (field.description or "").replace("|", "\\|")
        rows.append(f"| `{key}` | {_default(field)} | {text} |")
    return rows


def _table(title: str, model: type[BaseModel], prefix: str) -> list[str]:
    return [f"## {title}", "", "| key | default | meaning |", "| --- | --- | --- |", *_rows(model, prefix), ""]


def render() -> str:
    out = [
        "# Configuration reference",
        "",
        "Generated from the config models by `scripts/config_reference.py`; do not edit by hand.",
        'Every section rejects unknown keys. Durations: `90s`, `15m`, `2h`, `7d`. Money: `50`, `"$12.50"` (USD).',
        "",
        "Secrets never live in the file. `${VAR}` reads the environment variable `VAR`; when it is unset or",
        "empty, it reads the file named by `VAR_FILE` instead (`LANGFUSE_SECRET_KEY_FILE=/run/secrets/x`, the",
        "Docker and Kubernetes convention the generated manifests use: docs/deployment.md). `${VAR:-default}`",
        "falls back to `default`, `${file:/run/secrets/name}` reads a mounted file, and `$${` is a literal `${`.",
        "",
    ]
    for section in ("langfuse", "gitlab", "github", "store", "alerting", "report", "metadata_keys", "metrics"):
        annotation = config.Settings.model_fields[section].annotation
        model = next(a for a in getattr(annotation, "__args__", (annotation,)) if isinstance(a, type))
        out += _table(f"`{section}`", model, section)
    out += _table("`routes[]` and `default_route`", config.Route, "routes[]")
    for kind in NOTIFIERS:
        out += _table(f"`channels.<name>` with `kind: {kind}`", notifier_class(kind).Config, "channels.<name>")
    for name in MONITORS:
        out += _table(f"`monitors.{name}`", monitor_class(name).Config, f"monitors.{name}")
    out += _table("`schedules.yaml` jobs", ScheduleJob, "jobs[]")
    return "\n".join(out).rstrip() + "\n"


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        if not TARGET.exists() or TARGET.read_text() != text:
            print(f"{TARGET} is out of date: run python scripts/config_reference.py", file=sys.stderr)
            return 1
        return 0
    TARGET.write_text(text)
    print(f"wrote {TARGET}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

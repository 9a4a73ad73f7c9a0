"""Load the langfuse SDK's REST client (`langfuse.api`) without the tracing half of the package.

`import langfuse` first imports the SDK's OpenTelemetry-based tracing client: 0.3 s, a quarter of a
whole `run-monitor cost` run, for code a monitor never calls. The generated REST client under
`langfuse.api` stands alone. So when nothing in the process has imported `langfuse` yet, the package is
registered without running its `__init__`, and completes itself (PEP 562 `__getattr__`) the first time
anything asks it for a name the REST client did not load, such as `langfuse.Langfuse` in an app that
embeds the monitors and also traces.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from typing import Any


def _register_lazy_package() -> None:
    spec = importlib.util.find_spec("langfuse")
    if spec is None or spec.loader is None:
        raise ImportError("the langfuse SDK is not installed")
    package = importlib.util.module_from_spec(spec)  # created, not executed

    def complete(name: str) -> Any:
        del package.__getattr__  # type: ignore[attr-defined]
        spec.loader.exec_module(package)  # the real __init__, run once, in place
        return getattr(package, name)

    package.__getattr__ = complete  # type: ignore[attr-defined]
    sys.modules["langfuse"] = package


if "langfuse" not in sys.modules:
    _register_lazy_package()

_client: types.ModuleType = importlib.import_module("langfuse.api.client")
_errors: types.ModuleType = importlib.import_module("langfuse.api.core.api_error")

LangfuseAPI = _client.LangfuseAPI
ApiError = _errors.ApiError

__all__ = ["ApiError", "LangfuseAPI"]

"""The SDK's REST client loads without its tracing half, and leaves `import langfuse` intact."""

from __future__ import annotations

import subprocess
import sys

CODE = """
import sys
import monitors.sources.langfuse
print("opentelemetry" in "".join(sys.modules))
import langfuse
print(hasattr(langfuse, "Langfuse"), hasattr(langfuse, "api"))
"""


def test_rest_client_without_tracing_then_the_real_package() -> None:
    out = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "True", "True"]

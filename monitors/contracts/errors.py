"""The error tree: every error the suite raises on purpose derives from MonitorsError.

Error tree (every error the suite raises on purpose derives from MonitorsError):

    MonitorsError
    ├── ConfigError          bad monitors.yaml / schedules.yaml; the CLI exits 2
    ├── UnknownMonitorError  a name that is not in a registry (also a ConfigError)
    ├── SourceError          Langfuse or GitLab could not be read after retries; exit 1
    ├── DeliveryError        a notifier could not deliver; the outbox keeps the message
    └── StoreError           the state store is unreachable or locked
"""

from __future__ import annotations

from collections.abc import Iterable


class MonitorsError(Exception):
    """Base class of every error the suite raises deliberately."""


class ConfigError(MonitorsError):
    """Configuration is invalid. `problems` holds one 'file: dotted.path: reason' line each."""

    def __init__(self, message: str, problems: Iterable[str] = ()) -> None:
        self.problems = list(problems) or [message]
        super().__init__(message if not self.problems else "\n".join(self.problems))


class UnknownMonitorError(ConfigError):
    """A monitor, source or notifier name that no registry knows."""


class SourceError(MonitorsError):
    """A source (Langfuse, GitLab, a replay file) failed after its retries."""


class DeliveryError(MonitorsError):
    """A notifier failed to deliver a message."""


class StoreError(MonitorsError):
    """The state store could not be used."""

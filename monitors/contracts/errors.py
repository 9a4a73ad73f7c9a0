"""The error tree: every error the suite raises on purpose derives from MonitorsError.

Error tree (every error the suite raises on purpose derives from MonitorsError):

    MonitorsError
    ├── ConfigError          bad monitors.yaml / schedules.yaml; the CLI exits 2
    ├── UnknownMonitorError  a name that is not in a registry (also a ConfigError)
    ├── SourceError          Langfuse or GitLab could not be read after retries; exit 1
    │   └── BudgetSpent      a rate-limit budget is spent for longer than a run may wait
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


class BudgetSpent(SourceError):
    """A rate-limit budget is spent and the server's Retry-After is longer than a run may wait
    (Langfuse's Metrics v2 budget: 100 a day on Cloud Hobby). `retry_after` is in seconds."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class DeliveryError(MonitorsError):
    """A notifier failed to deliver a message."""


class StoreError(MonitorsError):
    """The state store could not be used."""

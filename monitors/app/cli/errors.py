"""One mapping from the suite's errors to exit codes, for every run-monitor command.

ConfigError prints each `file: key: reason` line and exits 2; any other MonitorsError (a source, store
or delivery failure) prints one line and exits 1. Never a traceback for a failure we understand.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

import click

from monitors.contracts.errors import ConfigError, MonitorsError

F = TypeVar("F", bound=Callable[..., Any])


def fail_config(exc: ConfigError) -> NoReturn:
    for problem in exc.problems:
        click.echo(problem, err=True)
    sys.exit(2)


def exit_codes(fn: F) -> F:
    """Decorate a command so known errors become exit codes 2 (config) and 1 (everything else)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ConfigError as exc:
            fail_config(exc)
        except MonitorsError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)

    return wrapper  # type: ignore[return-value]

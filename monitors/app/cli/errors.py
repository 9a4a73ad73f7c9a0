"""One mapping from errors to exit codes, for every run-monitor command: never a traceback for a newcomer.

ConfigError prints each `file: key: reason` line and exits 2 (with -v too). Any other MonitorsError (a
source, store or delivery failure) prints one line and exits 1. A file that cannot be read or written
(permission denied, a directory where a file belongs, a full disk) prints one line naming the path and
the cause and exits 2. Anything else is a bug: one redacted line `internal error: <Type>: <message>`,
exit 1; `-v`, which every command takes, shows the (redacted) traceback as well.
"""

from __future__ import annotations

import errno
import functools
import sys
import traceback
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

import click

from monitors.contracts.errors import ConfigError, MonitorsError

F = TypeVar("F", bound=Callable[..., Any])

VERBOSE = "monitors.verbose"  # ctx.meta key: how many -v the command was given
# errno values that say a file or folder is at fault, also when the error names no path (a full disk).
FILE_ERRNOS = frozenset(
    {errno.ENOENT, errno.EACCES, errno.EPERM, errno.EISDIR, errno.ENOTDIR, errno.EEXIST, errno.ENOSPC,
     errno.EDQUOT, errno.EROFS, errno.ENAMETOOLONG, errno.ELOOP, errno.EMFILE, errno.EFBIG}
)  # fmt: skip


def fail_config(exc: ConfigError) -> NoReturn:
    for problem in exc.problems:
        click.echo(problem, err=True)
    sys.exit(2)


def fail(exc: Exception, verbose: int = 0) -> NoReturn:
    """Print `exc` as the one line its kind gets and exit with its code."""
    from monitors.app.cli.redaction import redact

    if isinstance(exc, ConfigError):
        fail_config(exc)
    if isinstance(exc, MonitorsError):
        click.echo(redact(one_line(f"error: {exc}")), err=True)
        sys.exit(1)
    if isinstance(exc, OSError) and (exc.filename is not None or exc.errno in FILE_ERRNOS):
        cause = exc.strerror or str(exc)
        where = f"{exc.filename}: " if exc.filename is not None else ""
        click.echo(redact(one_line(f"error: {where}{cause}")), err=True)
        sys.exit(2)
    if verbose:
        click.echo(redact("".join(traceback.format_exception(exc))).rstrip(), err=True)
    hint = "" if verbose else " (run with -v for the traceback)"
    click.echo(redact(one_line(f"internal error: {type(exc).__name__}: {exc}")) + hint, err=True)
    sys.exit(1)


def one_line(text: str) -> str:
    return " ".join(text.split())


def exit_codes(fn: F) -> F:
    """Decorate a command so every error becomes its line and exit code (see `fail`)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as exc:  # the last resort: one line, never a traceback
            if _broken_pipe(exc):
                raise
            fail(exc, _verbosity())

    return wrapper  # type: ignore[return-value]


def _broken_pipe(exc: BaseException) -> bool:
    """A reader that went away (`| head`): click ends the command quietly itself."""
    return isinstance(exc, OSError) and exc.errno == errno.EPIPE


def _verbosity() -> int:
    ctx = click.get_current_context(silent=True)
    return int(ctx.meta.get(VERBOSE, 0)) if ctx is not None else 0


def remember_verbose(ctx: click.Context, _param: click.Parameter, value: int) -> int:
    """The -v option's callback: the error handler reads it from the context, whatever the command."""
    ctx.meta[VERBOSE] = max(value or 0, int(ctx.meta.get(VERBOSE, 0)))
    return value


def verbose_option(help_text: str) -> Callable[[F], F]:
    """-v/--verbose, counted, and remembered for the error handler."""
    return click.option("-v", "--verbose", count=True, callback=remember_verbose, help=help_text)


class GuardedGroup(click.Group):
    """A command group whose every command ends an error in one line (see `fail`) and takes -v.

    A command without a -v of its own gets one that only shows the traceback of an unexpected error, so
    the hint `run with -v` holds for every command.
    """

    group_class = type  # its subgroups (drift, audit, k8s) guard their commands and give them -v too

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        if not any(param.name == "verbose" for param in cmd.params):
            cmd.params.append(
                click.Option(
                    ["-v", "--verbose"],
                    count=True,
                    expose_value=False,
                    callback=remember_verbose,
                    help="Show the traceback of an unexpected error.",
                )
            )
        super().add_command(cmd, name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as exc:  # the last resort: one line, never a traceback
            if _broken_pipe(exc):
                raise
            fail(exc, int(ctx.meta.get(VERBOSE, 0)))

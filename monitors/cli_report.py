"""run-monitor report: the weekly digest."""

from __future__ import annotations

import sys

import click


def register(cli: click.Group) -> None:
    @cli.command()
    def report() -> None:
        """Post the weekly digest (spend, drift, audit, monitor health) and write the full report."""
        click.echo("run-monitor report is not built yet in this version", err=True)
        sys.exit(2)

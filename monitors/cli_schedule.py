"""run-monitor scheduler and k8s: run on the schedules in schedules.yaml."""

from __future__ import annotations

import sys

import click


def register(cli: click.Group) -> None:
    @cli.command()
    def scheduler() -> None:
        """Run the monitors on the cron schedules in schedules.yaml (one long-running process)."""
        click.echo("run-monitor scheduler is not built yet in this version", err=True)
        sys.exit(2)

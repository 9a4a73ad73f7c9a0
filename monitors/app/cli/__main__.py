"""`python -m monitors.app.cli`: the same as the `run-monitor` command (for a checkout without the script)."""

from monitors.app.cli.main import main

main()

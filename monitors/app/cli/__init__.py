"""run-monitor: one module per group of commands; they share common.py and never import main.py."""

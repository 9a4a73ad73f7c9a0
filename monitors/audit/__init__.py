"""The action-sequence audit's building blocks: session rebuild, the checks, plan alignment.

`monitors.audit.monitor` (the "audit" monitor) wires them to a RunContext; everything here is pure
code over `ToolCall` sequences, so each check is testable on a hand-built list of calls.
"""

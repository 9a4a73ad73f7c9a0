"""The weekly report: a digest for chat and a full Markdown/HTML report with charts.

Modules: period (ISO weeks), spend (cost aggregates), findings/health/data (what the store holds),
digest (the chat Message), tables/full/charts (the full report), build (entry points), run (one run).
"""

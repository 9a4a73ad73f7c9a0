"""run-monitor scheduler: APScheduler jobs (when), the job runner (what) and the long-running service."""

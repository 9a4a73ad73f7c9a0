"""The ways to run the suite: the CLI, the APScheduler runner, Kubernetes manifests and the demo."""

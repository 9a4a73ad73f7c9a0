"""The run machinery: configuration, registries, the run pipeline (run_once), dedupe, delivery, wiring."""

"""Benchmarks: requests, wall time and memory of each monitor against a naive baseline."""

"""The events monitor: error bursts and failing evaluations on individual traces."""

"""Signatures group the same failure across occurrences and keep different failures apart."""

from __future__ import annotations

import pytest

from monitors.events.signature import SIGNATURE_CHARS, normalise


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (
            "Timeout after 30012 ms calling https://api.example.com/v1/jobs/8412",
            "Timeout after 29 ms calling https://api.example.com/v1/jobs/7?x=1",
        ),
        ("job 7f3a9c2e-1b2c-4d5e-8f90-123456789abc failed", "job 00000000-1111-4222-8333-444444444444 failed"),
        ("open /srv/repo/src/a.py: permission denied", "open /tmp/build/b/c.txt: permission denied"),
        ("commit 4f9e2a1b7c not found", "commit 0x1234abcd not found"),
        ("rate limited: retry after 12.5s (request req_8f3a2b)", "rate limited: retry after 3s (request req_0a1b22)"),
        ("user bob@example.com denied", "user a.b+c@corp.example.org denied"),
        ("at 2026-11-18T14:02:11Z the runner died", "at 2026-11-19 08:00:00+01:00 the runner died"),
        ("unknown option 'verbose'", "unknown option 'dry-run'"),
    ],
)
def test_occurrences_of_one_failure_share_a_signature(first: str, second: str) -> None:
    assert normalise(first) == normalise(second)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (
            "502 Bad Gateway from gitlab.example.com",
            "404 Not Found from gitlab.example.com",
        ),  # the status is the failure
        ("gpt-4o overloaded", "claude-3-5-sonnet overloaded"),  # model names are not ids
        ("Timeout calling https://api.example.com/x", "Timeout calling https://gitlab.example.com/x"),  # which service
        ("permission denied", "file not found"),
    ],
)
def test_different_failures_keep_different_signatures(first: str, second: str) -> None:
    assert normalise(first) != normalise(second)


def test_masked_parts_are_named_and_the_rest_is_kept() -> None:
    assert normalise("Timeout after 30012 ms calling https://api.example.com/v1/jobs/8412") == (
        "Timeout after <n> ms calling https://api.example.com/<path>"
    )


def test_an_empty_message_falls_back_to_the_observation_and_long_ones_are_cut() -> None:
    assert normalise(None, fallback="run_tests") == "(no status message) run_tests"
    assert normalise("   \n ", fallback="run_tests") == "(no status message) run_tests"
    long = normalise("word " * 200)
    assert len(long) == SIGNATURE_CHARS and long.endswith("…")

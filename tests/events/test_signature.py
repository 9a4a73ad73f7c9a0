"""Signatures group the same failure across occurrences and keep different failures apart."""

from __future__ import annotations

import pytest

from monitors.events.signature import SIGNATURE_CHARS, normalise

# A real traceback's frames are longer than a signature: only the last lines name the exception.
TRACEBACK = """Traceback (most recent call last):
  File "/app/agent/run.py", line 42, in main
    result = run(task)
             ^^^^^^^^^
  File "/app/agent/run.py", line 88, in run
    cfg = load_config(task.config_path)
          ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
  File "/app/agent/config.py", line 12, in load_config
    return parse(read(path))["model"]
{error}"""


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
        # An apostrophe in a word is not a quote: the quoted value after it is still masked.
        ("Can't connect to host 'db1'", "Can't connect to host 'db2'"),
        ("Model doesn't support tools: 'gpt-x'", "Model doesn't support tools: 'gpt-y'"),
        # Scripts without spaces between words: numbers touching CJK characters are still numbers.
        ("用户123456不存在", "用户654321不存在"),
        ("注文番号8412が見つかりません", "注文番号77が見つかりません"),
        # Python logging's default time format has a comma before the milliseconds.
        ("2026-11-18 14:02:11,123 worker died", "2026-11-19 08:00:00,456 worker died"),
        # Go-style durations.
        ("context deadline exceeded after 1m30.5s", "context deadline exceeded after 45s"),
        ("lease expired after 2h30m", "lease expired after 1h5m"),
        # One exception from one place, with different paths and line numbers in the frames.
        (
            'Traceback (most recent call last):\n  File "/srv/a/run.py", line 42, in main\n    run()\n'
            "KeyError: 'model'",
            'Traceback (most recent call last):\n  File "/opt/b/run.py", line 44, in main\n    run()\n'
            "KeyError: 'provider'",
        ),
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
        # Two Python exceptions through the same frames: the exception, at the end, is the failure.
        (TRACEBACK.format(error="KeyError: 'model'"), TRACEBACK.format(error="TimeoutError: timed out after 30s")),
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


def test_a_python_traceback_is_named_by_its_exception_and_the_innermost_function() -> None:
    assert normalise(TRACEBACK.format(error="KeyError: 'model'")) == "KeyError: '<value>' (in load_config)"
    # A multi-line exception message (pydantic's ValidationError) stays whole.
    error = "ValidationError: 1 validation error for Task\nrepo\n  Field required [type=missing]"
    assert normalise(TRACEBACK.format(error=error)) == (
        "ValidationError: <n> validation error for Task repo Field required [type=missing] (in load_config)"
    )

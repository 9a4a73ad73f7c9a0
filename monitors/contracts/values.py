"""Typed config values: durations ("15m", "2h", "7d") and money ("$50", "50 USD", 12.5).

Config models use these so a value is converted once, on load, and a bad one is reported with its key.
"""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer

_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)", re.IGNORECASE)
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: Any) -> timedelta:
    """'90s', '15m', '1h30m', '7d', '2w', a number of seconds, or a timedelta."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 15m, 2h or 7d")
    if isinstance(value, int | float):
        # A negative lease or delay would silently defeat locks and windows; inf/1e20 overflow timedelta.
        if not 0 <= value < 10**10:
            raise ValueError(f"{value!r} is not a duration: use 0 or more seconds, or forms like 15m, 2h, 7d")
        return timedelta(seconds=value)
    text = str(value).strip().replace(" ", "")
    if not text:
        raise ValueError("expected a duration such as 15m, 2h or 7d")
    pos, seconds = 0, 0.0
    for match in _DURATION.finditer(text):
        if match.start() != pos:
            break
        seconds += float(match.group(1)) * _UNITS[match.group(2).lower()]
        pos = match.end()
    if pos != len(text) or seconds >= 10**10:  # past ~300 years timedelta overflows
        raise ValueError(f"{value!r} is not a duration; use forms like 90s, 15m, 2h, 7d")
    return timedelta(seconds=seconds)


def format_duration(value: timedelta | str) -> str:
    seconds = int(parse_duration(value).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def parse_money(value: Any) -> Decimal:
    """USD amounts: 50, 12.5, '$50', '50 USD', '1,200.00'. Negative amounts are rejected."""
    if isinstance(value, bool):
        raise ValueError("expected an amount in USD such as 50 or '$12.50'")
    text = str(value).strip().upper().removesuffix("USD").strip().lstrip("$").replace(",", "")
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"{value!r} is not an amount in USD (e.g. 50 or '$12.50')") from None
    if not amount.is_finite():
        raise ValueError(f"{value!r} is not a finite amount")
    if amount < 0:
        raise ValueError(f"must not be negative, got {value!r}")
    return amount


Duration = Annotated[timedelta, BeforeValidator(parse_duration), PlainSerializer(format_duration)]
Money = Annotated[Decimal, BeforeValidator(parse_money), PlainSerializer(float)]

"""IANA time zones named in configuration."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def known_zone(name: str) -> ZoneInfo | None:
    """The time zone `name`, or None when there is none by that name. ZoneInfo says so in three ways:
    no such zone, a malformed name ("../x"), and an OSError for a name too long for the file system."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None


__all__ = ["known_zone"]

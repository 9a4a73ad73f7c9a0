"""Time zone names from configuration: every way ZoneInfo refuses one reads as "no such zone"."""

from __future__ import annotations

import pytest

from monitors.support.zones import known_zone


@pytest.mark.parametrize("name", ["Mars/Olympus", "../etc/passwd", "", "ñ" * 300, "Europe/" + "x" * 5000])
def test_a_name_that_is_no_zone_is_none(name: str) -> None:
    assert known_zone(name) is None


def test_a_zone_is_found() -> None:
    zone = known_zone("Europe/Paris")
    assert zone is not None and zone.key == "Europe/Paris"

"""The city's clock: recorded times are UTC, department data and months are city time (UTC+8)."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from datahub.citytime import CITY_ZONE, city_time, recorded_time
from datahub.pipeline import discover, land_file
from datahub.platform import Platform


def test_city_time_is_utc_plus_eight_both_ways() -> None:
    assert city_time(datetime(2026, 9, 30, 16, 30)) == datetime(2026, 10, 1, 0, 30)
    assert city_time(datetime(2026, 9, 30, 16, 30, tzinfo=UTC)) == datetime(2026, 10, 1, 0, 30)
    assert recorded_time(datetime(2026, 10, 1, 0, 30)) == datetime(2026, 9, 30, 16, 30)
    assert CITY_ZONE.key == "Asia/Shanghai"


def test_a_delivery_is_recorded_at_the_files_time_in_utc(
    platform: Platform, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever the server's own time zone: here Tokyo's, where the file's local time is 03:30."""
    dataset = platform.catalog.get("emergency_resources")
    source = tmp_path / "emergency_resources_20261001.csv"
    source.write_text("whatever\n", encoding="utf-8")
    # Delivered at 02:30 on 1 October, city time: 18:30 on 30 September, UTC.
    delivered = datetime(2026, 10, 1, 2, 30, tzinfo=CITY_ZONE)
    os.utime(source, (delivered.timestamp(), delivered.timestamp()))
    land_file(platform, dataset, source)
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    try:
        (delivery,) = discover(platform, dataset)
    finally:
        monkeypatch.undo()
        time.tzset()
    assert delivery.delivered_at == datetime(2026, 9, 30, 18, 30)

"""The city's clock, declared once: China Standard Time (Asia/Shanghai, UTC+8, no daylight saving).

Two kinds of time meet in the platform:
- times the platform records (deliveries, quality runs, grants, the audit log) are stored as naive UTC;
- times in department data (report times, readings, lifecycle stages) are naive city time, as
  departments write them (zoned values are converted to city time when conformed).

Whatever compares the two (the freshness rule: a delivery's time against its newest value) or groups
recorded times by the city's days and months (the monthly report) converts with the functions here.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

CITY_ZONE = ZoneInfo("Asia/Shanghai")


def city_time(recorded: datetime) -> datetime:
    """A recorded time (naive UTC, or aware) as naive city time."""
    aware = recorded.replace(tzinfo=UTC) if recorded.tzinfo is None else recorded
    return aware.astimezone(CITY_ZONE).replace(tzinfo=None)


def recorded_time(city: datetime) -> datetime:
    """A naive city time as the platform records times: naive UTC."""
    return city.replace(tzinfo=CITY_ZONE).astimezone(UTC).replace(tzinfo=None)

"""SLA durations: the one table of units that lint, the loader, the freshness check, the diff and the
dashboard all read.

ODCS v3 leaves ``slaProperties[].unit`` open ("d, day, days for days; y, yr, years for years, etc."). The
platform reads ``latency``, ``frequency`` and ``retention`` as durations, so their unit must be one of
these. A month is 30 days and a year 365 days: SLAs are compared as durations, not calendar dates, so
``1 month`` = ``30 d`` and ``12 months`` (360 days) is shorter than ``1 y``. ``m`` is refused rather than
guessed: it means minutes to some writers and months to others.
"""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

DURATION_PROPERTIES = ("latency", "frequency", "retention")
"""The SLA properties whose value and unit are a duration."""

_MINUTE, _HOUR, _DAY = timedelta(minutes=1), timedelta(hours=1), timedelta(days=1)
_UNITS: tuple[tuple[tuple[str, ...], timedelta, str], ...] = (
    (("s", "sec", "second", "seconds"), timedelta(seconds=1), "秒"),
    (("min", "minute", "minutes"), _MINUTE, "分钟"),
    (("h", "hr", "hour", "hours"), _HOUR, "小时"),
    (("d", "day", "days"), _DAY, "天"),
    (("w", "week", "weeks"), 7 * _DAY, "周"),
    (("mo", "month", "months"), 30 * _DAY, "月"),
    (("y", "yr", "year", "years"), 365 * _DAY, "年"),
)

SLA_UNITS: dict[str, timedelta] = {
    **{spelling: length for spellings, length, _ in _UNITS for spelling in spellings},
    **{name: length for _, length, name in _UNITS},
}
"""Every accepted spelling of a unit (case does not matter), its Chinese name included, and its length."""

SLA_UNIT_NAMES: dict[str, str] = {spelling: name for spellings, _, name in _UNITS for spelling in spellings}
"""The Chinese name of each unit, as people read it."""

_KNOWN = ", ".join(SLA_UNITS)
_AMBIGUOUS = {"m": "'m' is ambiguous (minutes or months?): write min or month"}


def unit_length(unit: Any) -> timedelta | None:
    """How long one ``unit`` is; None for a unit that is not a duration this table knows."""
    return SLA_UNITS.get(str(unit).strip().lower()) if unit is not None else None


def unit_problem(unit: Any) -> str | None:
    """Why ``unit`` cannot be read as a duration, or None when it can."""
    if unit is None:
        return f"needs a unit (one of {_KNOWN})"
    if unit_length(unit) is not None:
        return None
    return _AMBIGUOUS.get(str(unit).strip().lower()) or (f"unknown SLA unit '{unit}' (known: {_KNOWN})")


def value_problem(value: Any) -> str | None:
    """Why ``value`` is not the positive number of units a duration needs, or None when it is."""
    if not isinstance(value, bool):
        try:
            number = float(value)
        except (TypeError, ValueError):
            pass
        else:
            if math.isfinite(number) and number > 0:
                return None
    return f"'{value}' is not a positive number"


def sla_duration(value: Any, unit: Any) -> timedelta:
    """``value`` ``unit`` as a duration; ValueError saying what is wrong with either."""
    problem = value_problem(value) or unit_problem(unit)
    if problem:
        raise ValueError(problem)
    length = unit_length(unit)
    assert length is not None
    try:
        return float(value) * length
    except OverflowError:
        raise ValueError(f"'{value} {unit}' is longer than any duration the platform can hold") from None

"""Dates and times as departments write them: the one policy by which they are read (docs/quality.md,
"Dates and times").

A value is read when it cannot be misread: year first with four digits (``2024-10-14``,
``2024.10.14``, ``2024/10/14 05:49``, ``2024年10月14日 13时49分``, ``20241014``), a time in 24 or
12 hours, an offset or ``Z`` (converted to city time), or day and month before a four-digit year
when one of the two is above 12 (or both are the same). A contract's declared format is tried first
and settles day and month order.
What is not read is quarantined with the reason it was not: a spreadsheet serial number
(:data:`SERIAL_NUMBER`, never guessed: the 1900 and 1904 date systems give dates four years apart),
day and month in an order the value does not tell, or anything else (``invalid_type``).
"""

from __future__ import annotations

import polars as pl

from datahub.quality.reasons import Reason

DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y%m%d", "%Y年%m月%d日")
# All read as naive city time (Asia/Shanghai). A space in a format matches any run of whitespace, none
# included (``2024年10月14日13时49分``).
TIMESTAMP_FORMATS = (
    "%Y-%m-%d %H:%M:%S",
    "%Y/%m/%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M",
    "%Y/%m/%d %H:%M",
    "%Y.%m.%d %H:%M:%S",
    "%Y.%m.%d %H:%M",
    "%Y-%m-%dT%H:%M",
    "%Y年%m月%d日 %H:%M:%S",
    "%Y年%m月%d日 %H:%M",
    "%Y年%m月%d日 %H时%M分%S秒",
    "%Y年%m月%d日 %H时%M分",
    "%Y-%m-%d %I:%M:%S %p",
    "%Y/%m/%d %I:%M:%S %p",
    "%Y-%m-%d %I:%M %p",
    "%Y/%m/%d %I:%M %p",
)
# With an offset (``+08:00``, ``+0800``, ``+08`` or ``Z``): converted to city time.
ZONED_TIMESTAMP_FORMATS = (
    "%Y-%m-%dT%H:%M:%S%.f%#z",
    "%Y-%m-%d %H:%M:%S%.f%#z",
    "%Y-%m-%dT%H:%M%#z",
    "%Y-%m-%d %H:%M%#z",
)
# Years outside these are a short year read as a long one (``24-10-14`` as the year 24).
YEARS = (1000, 9999)

# Day and month (in some order) before a four-digit year, the same separator twice, then maybe a time.
DAY_MONTH_YEAR = r"^([0-9]{1,2})([/.-])([0-9]{1,2})([/.-])([0-9]{4})((?:[ T].*)?)$"
# A number a spreadsheet stores for a date: days since 1899-12-30 (or 1904-01-01), a fraction of a day
# for the time. Five digits reach 2173 in the 1900 system.
SERIAL_NUMBER = r"^[0-9]{1,5}(?:\.[0-9]+)?$"


def _day_month_parts(values: pl.Series) -> pl.DataFrame:
    parts = values.str.extract_groups(DAY_MONTH_YEAR).struct.unnest()
    return parts.select(
        first=pl.col("1").cast(pl.Int32),
        second=pl.col("3").cast(pl.Int32),
        year=pl.col("5"),
        rest=pl.col("6"),
        shaped=(pl.col("2") == pl.col("4")).fill_null(False),
    )


def year_first(values: pl.Series) -> pl.Series:
    """Values written day and month before the year, rewritten year first (``2024-10-14 05:49``) where
    the order is certain: the first number is the day when it is above 12, the month when the second is
    (and either when they are the same). Null for every other value."""
    first, second, shaped = pl.col("first"), pl.col("second"), pl.col("shaped")
    day_first = shaped & (first > 12) & (second <= 12)
    month_first = shaped & (((second > 12) & (first <= 12)) | (first == second))
    day = pl.when(day_first).then(first).when(month_first).then(second)
    month = pl.when(day_first).then(second).when(month_first).then(first)
    written = pl.concat_str(pl.col("year"), pl.lit("-"), month, pl.lit("-"), day, pl.col("rest"))
    return _day_month_parts(values).select(written).to_series().alias(values.name)


def unread_reasons(values: pl.Series, *, declared: bool) -> pl.Series:
    """Why each of ``values`` (text no format read) is not a date: :attr:`Reason.spreadsheet_serial`,
    :attr:`Reason.ambiguous_date` (unless the contract ``declared`` a format, which settles the order:
    a value not in it is just not a date) or :attr:`Reason.invalid_type`."""
    parts = _day_month_parts(values)
    first, second = parts.get_column("first"), parts.get_column("second")
    ambiguous = (
        parts.get_column("shaped") & first.is_between(1, 12) & second.is_between(1, 12) & (first != second)
    ).fill_null(False)
    if declared:
        ambiguous = pl.repeat(False, values.len(), eager=True)
    serial = values.str.contains(SERIAL_NUMBER).fill_null(False)
    frame = pl.DataFrame({"serial": serial, "ambiguous": ambiguous})
    return frame.select(
        pl.when("serial")
        .then(pl.lit(Reason.spreadsheet_serial.value))
        .when("ambiguous")
        .then(pl.lit(Reason.ambiguous_date.value))
        .otherwise(pl.lit(Reason.invalid_type.value))
    ).to_series()

"""`sensor_alerts`: episodes of impossible or frozen readings from the published IoT sensor readings.

Two kinds, one row per episode (consecutive readings of one sensor):

- ``out_of_range``: readings outside the physical range of the sensor type (``sensor_types.csv``
  ``min_value``/``max_value``); ``value`` is the reading farthest outside it.
- ``stuck``: one value repeated for at least ``stuck_hours`` (24 h) and ``min_readings`` readings, the
  rule of the contract's ``stuckValue`` quality check; ``value`` is the repeated value.

An episode still running at the sensor's latest reading is ``is_ongoing``. ``alert_id`` is
``<sensor>-<start yyyymmddHHMMSS>-<kind>``: stable while an episode grows across deliveries.
"""

from __future__ import annotations

import polars as pl

from datahub.views.codes import ViewCodes
from datahub.views.schemas import SENSOR_ALERTS, SOURCE_SCHEMAS, conform

STUCK_HOURS = 24.0
MIN_READINGS = 3


def _episodes(frame: pl.DataFrame, run: str, kind: str, value: pl.Expr) -> pl.DataFrame:
    return frame.group_by("sensor_id", run).agg(
        pl.col("sensor_type").first(),
        pl.col("district_code").first(),
        pl.col("longitude").first(),
        pl.col("latitude").first(),
        pl.lit(kind).alias("kind"),
        pl.col("reading_time").min().alias("start_time"),
        pl.col("reading_time").max().alias("end_time"),
        pl.len().cast(pl.Int64).alias("readings"),
        value.alias("value"),
        pl.col("range_min").first(),
        pl.col("range_max").first(),
        pl.col("unit").drop_nulls().first(),
        pl.col("last_reading").first(),
    )


def sensor_alerts(
    readings: pl.DataFrame | pl.LazyFrame | None,
    codes: ViewCodes,
    *,
    stuck_hours: float = STUCK_HOURS,
    min_readings: int = MIN_READINGS,
) -> pl.DataFrame:
    """One row per alert episode (schema :data:`~datahub.views.schemas.SENSOR_ALERTS`)."""
    r = conform(readings, SOURCE_SCHEMAS["iot_sensor_readings"])
    r = (
        r.drop_nulls(["sensor_id", "reading_time", "value"])
        .unique(["sensor_id", "reading_time"], keep="first", maintain_order=True)
        .join(
            codes.sensor_types.select("sensor_type", "range_min", "range_max"), on="sensor_type", how="left"
        )
        .sort("sensor_id", "reading_time")  # after the join: the runs below follow this order
    )
    low, high, value = pl.col("range_min"), pl.col("range_max"), pl.col("value")
    outside = ((value < low) | (value > high)).fill_null(False)
    new_sensor = pl.col("sensor_id") != pl.col("sensor_id").shift(1)
    r = r.with_columns(
        outside.alias("outside"),
        pl.max_horizontal(low - value, value - high).alias("excess"),
        pl.col("reading_time").max().over("sensor_id").alias("last_reading"),
        (new_sensor.fill_null(True) | (outside != outside.shift(1)).fill_null(True))
        .cum_sum()
        .alias("range_run"),
        (new_sensor.fill_null(True) | (value != value.shift(1)).fill_null(True)).cum_sum().alias("value_run"),
    )
    out_of_range = _episodes(
        r.filter("outside"), "range_run", "out_of_range", pl.col("value").sort_by("excess").last()
    )
    stuck = _episodes(r, "value_run", "stuck", pl.col("value").first()).filter(
        (pl.col("end_time") - pl.col("start_time") >= pl.duration(seconds=round(stuck_hours * 3600)))
        & (pl.col("readings") >= min_readings)
    )
    alerts = pl.concat([out_of_range.drop("range_run"), stuck.drop("value_run")])
    alerts = alerts.with_columns(
        pl.concat_str(
            pl.col("sensor_id"),
            pl.col("start_time").dt.strftime("%Y%m%d%H%M%S"),
            pl.col("kind"),
            separator="-",
        ).alias("alert_id"),
        ((pl.col("end_time") - pl.col("start_time")).dt.total_seconds() / 3600)
        .round(2)
        .alias("duration_hours"),
        (pl.col("end_time") == pl.col("last_reading")).alias("is_ongoing"),
    )
    return conform(alerts.sort("start_time", "sensor_id", "kind"), SENSOR_ALERTS)

"""`event_kpis_daily`: the brief's KPIs per day × department × district × category, from `events_unified`.

The day is the date of the event's ``report_time``. Counts are kept next to every rate, so rates over
any coarser grouping can be recomputed from them (sum the counts, divide again).

=========================  =============================================================================
``closure_rate``           closed events / events
``resolution_rate``        events resolved / events with a resolution verdict (``is_resolved`` known)
``satisfaction_rate``      events rated 4 or 5 / events rated (satisfaction 1–5)
``response_minutes_*``     report → dispatch in minutes, median (p50) and 90th percentile (p90, linear
                           interpolation), over events dispatched
``repeat_rate``            events whose reporter (the phone token) reported the same category within the
                           30 days before (and not after) / events with a reporter
``cross_dept_*``           events handled by a department other than the one that received them (hotline
                           and app: OC; grid patrol: UM; police 110: PS; sensors: EE); minutes from report
                           to handle (处置), median and mean, over those handled
``response_overdue``       events not dispatched within their level's ``response_minutes``: dispatched
                           later, or still open and undispatched at ``as_of``
``handling_overdue``       events not handled within their level's ``handling_hours``, likewise
``overdue_<level>``        events of that level over either limit
=========================  =============================================================================

``as_of`` (default: the latest time in the events) is when open events are measured; a closed event
that never reached a stage is not overdue for it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import polars as pl

from datahub.views.codes import LEVELS, RECEIVING_DEPARTMENT, ViewCodes
from datahub.views.schemas import EVENT_KPIS_DAILY, EVENTS_UNIFIED, TS, conform

REPEAT_DAYS = 30
SATISFIED = 4
GROUP = ["date", "department", "district_code", "category", "major_category"]


def _minutes(later: str | pl.Expr, earlier: str | pl.Expr) -> pl.Expr:
    later = pl.col(later) if isinstance(later, str) else later
    earlier = pl.col(earlier) if isinstance(earlier, str) else earlier
    return (later - earlier).dt.total_microseconds() / 60_000_000


def _elapsed(stage: str, as_of: datetime) -> pl.Expr:
    """Minutes from report to ``stage``; for open events not there yet, to ``as_of``; else null."""
    reached = _minutes(stage, "report_time")
    waiting = _minutes(pl.lit(as_of, dtype=TS), "report_time")
    return pl.when(pl.col(stage).is_not_null()).then(reached).when(~pl.col("is_closed")).then(waiting)


def _rate(part: str, whole: str) -> pl.Expr:
    return pl.when(pl.col(whole) > 0).then(pl.col(part) / pl.col(whole)).otherwise(None)


NEEDED = (
    "channel",
    "category",
    "major_category",
    "response_level",
    "department",
    "district_code",
    "report_time",
    "dispatch_time",
    "handle_time",
    "is_closed",
    "is_resolved",
    "satisfaction",
    "reporter_token",
    "updated_at",
)


def _repeats(e: pl.DataFrame, repeat_days: int) -> pl.Series:
    """Per event (in frame order): did its reporter report the same category in the ``repeat_days``
    before (or at the same time)? Sorted on a 64-bit hash of (reporter, category) and the time, which is
    far faster than sorting the strings."""
    key = pl.when(pl.col("reporter_token").is_not_null()).then(pl.struct("reporter_token", "category").hash())
    narrow = e.select(pl.int_range(pl.len(), dtype=pl.UInt32).alias("row"), key.alias("key"), "report_time")
    narrow = narrow.sort("key", "report_time", "row", nulls_last=True).with_columns(
        (
            pl.col("key").is_not_null()
            & (pl.col("key") == pl.col("key").shift(1))
            & (pl.col("report_time") - pl.col("report_time").shift(1) <= timedelta(days=repeat_days))
        )
        .fill_null(False)
        .alias("is_repeat")
    )
    return narrow.sort("row").get_column("is_repeat")


def event_measures(
    events: pl.DataFrame | pl.LazyFrame | None,
    codes: ViewCodes,
    *,
    as_of: datetime | None = None,
    repeat_days: int = REPEAT_DAYS,
) -> pl.DataFrame:
    """One row per event with a report time: the columns of :data:`NEEDED` plus what the KPIs count —
    ``date``, ``response_min``, ``is_repeat``, ``is_cross``, ``cross_min``, ``response_over``,
    ``handling_over``, ``overdue`` and the level's ``response_minutes`` and ``handling_hours``.

    Aggregate it with :func:`kpi_aggregates` over any grouping, then :func:`with_rates`; the daily view
    and the monthly report both do, so each KPI is defined here once."""
    e = conform(events, {name: EVENTS_UNIFIED[name] for name in NEEDED})
    e = e.filter(pl.col("report_time").is_not_null())
    if e.is_empty():
        return e.with_columns(
            pl.lit(None, pl.Date).alias("date"),
            pl.lit(None, pl.Float64).alias("response_min"),
            pl.lit(None, pl.Boolean).alias("is_repeat"),
            pl.lit(None, pl.Boolean).alias("is_cross"),
            pl.lit(None, pl.Float64).alias("cross_min"),
            pl.lit(None, pl.Boolean).alias("response_over"),
            pl.lit(None, pl.Boolean).alias("handling_over"),
            pl.lit(None, pl.Boolean).alias("overdue"),
            pl.lit(None, pl.Float64).alias("response_minutes"),
            pl.lit(None, pl.Float64).alias("handling_hours"),
        )
    if as_of is None:
        as_of = e.select(pl.max_horizontal(pl.col("updated_at").max(), pl.col("report_time").max())).item()
    assert as_of is not None
    e = e.with_columns(_repeats(e, repeat_days))  # before any join: the series is in frame order
    e = e.join(codes.levels, on="response_level", how="left").with_columns(
        pl.col("is_closed").fill_null(False),
        pl.col("channel").replace_strict(RECEIVING_DEPARTMENT, default=None).alias("receiving"),
    )
    cross = pl.col("department").is_not_null() & pl.col("receiving").is_not_null()
    cross = cross & (pl.col("department") != pl.col("receiving"))
    response = _elapsed("dispatch_time", as_of)
    handling = _elapsed("handle_time", as_of)
    response_over = (response > pl.col("response_minutes")).fill_null(False)
    handling_over = (handling > pl.col("handling_hours") * 60).fill_null(False)
    return e.with_columns(
        pl.col("report_time").dt.date().alias("date"),
        _minutes("dispatch_time", "report_time").alias("response_min"),
        cross.alias("is_cross"),
        pl.when(cross).then(_minutes("handle_time", "report_time")).alias("cross_min"),
        response_over.alias("response_over"),
        handling_over.alias("handling_over"),
        (response_over | handling_over).alias("overdue"),
    ).drop("receiving")


def kpi_aggregates() -> list[pl.Expr]:
    """The counts and times of :data:`~datahub.views.schemas.EVENT_KPIS_DAILY` (all but the rates) as
    aggregations over rows of :func:`event_measures`."""
    return [
        pl.len().cast(pl.Int64).alias("events"),
        pl.col("is_closed").sum().cast(pl.Int64).alias("closed_events"),
        pl.col("is_resolved").is_not_null().sum().cast(pl.Int64).alias("resolution_known"),
        pl.col("is_resolved").sum().cast(pl.Int64).alias("resolved_events"),
        pl.col("satisfaction").is_not_null().sum().cast(pl.Int64).alias("rated_events"),
        (pl.col("satisfaction") >= SATISFIED).sum().cast(pl.Int64).alias("satisfied_events"),
        pl.col("response_min").quantile(0.5, "linear").alias("response_minutes_p50"),
        pl.col("response_min").quantile(0.9, "linear").alias("response_minutes_p90"),
        pl.col("reporter_token").is_not_null().sum().cast(pl.Int64).alias("reporter_events"),
        pl.col("is_repeat").sum().cast(pl.Int64).alias("repeat_events"),
        pl.col("is_cross").sum().cast(pl.Int64).alias("cross_dept_events"),
        pl.col("cross_min").quantile(0.5, "linear").alias("cross_dept_minutes_p50"),
        pl.col("cross_min").mean().alias("cross_dept_minutes_avg"),
        pl.col("response_over").sum().cast(pl.Int64).alias("response_overdue"),
        pl.col("handling_over").sum().cast(pl.Int64).alias("handling_overdue"),
        *[
            (pl.col("overdue") & (pl.col("response_level") == level))
            .sum()
            .cast(pl.Int64)
            .alias(f"overdue_{level}")
            for level in LEVELS
        ],
    ]


def with_rates(kpis: pl.DataFrame) -> pl.DataFrame:
    """The rates next to their counts: closure, resolution, satisfaction and repeat rate (0–1)."""
    return kpis.with_columns(
        _rate("closed_events", "events").alias("closure_rate"),
        _rate("resolved_events", "resolution_known").alias("resolution_rate"),
        _rate("satisfied_events", "rated_events").alias("satisfaction_rate"),
        _rate("repeat_events", "reporter_events").alias("repeat_rate"),
    )


def event_kpis_daily(
    events: pl.DataFrame | pl.LazyFrame | None,
    codes: ViewCodes,
    *,
    as_of: datetime | None = None,
    repeat_days: int = REPEAT_DAYS,
) -> pl.DataFrame:
    """The KPIs of the module docstring (schema :data:`~datahub.views.schemas.EVENT_KPIS_DAILY`)."""
    e = event_measures(events, codes, as_of=as_of, repeat_days=repeat_days)
    if e.is_empty():
        return conform(None, EVENT_KPIS_DAILY)
    kpis = with_rates(e.group_by(GROUP).agg(kpi_aggregates()))
    return conform(kpis.sort(GROUP, nulls_last=True), EVENT_KPIS_DAILY)

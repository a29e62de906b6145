"""The columns every view reads from its sources and the columns it publishes, with their types.

A source that has not been published yet is an empty frame of its schema here, so every view can be
built (empty) from whatever exists.
"""

from __future__ import annotations

import polars as pl

TS = pl.Datetime("us")

# ---------------------------------------------------------------- sources (published datasets, as read)
SOURCE_SCHEMAS: dict[str, dict[str, pl.DataType]] = {
    "hotline_12345": {
        "work_order_id": pl.String(),
        "report_time": TS,
        "caller_name": pl.String(),
        "caller_phone": pl.String(),
        "complaint_text": pl.String(),
        "event_category": pl.String(),
        "district_code": pl.String(),
        "street_code": pl.String(),
        "address": pl.String(),
        "handling_department": pl.String(),
        "dispatch_time": TS,
        "handle_time": TS,
        "feedback_time": TS,
        "evaluate_time": TS,
        "satisfaction": pl.Int64(),
        "is_resolved": pl.Boolean(),
    },
    "gov_app_reports": {
        "report_id": pl.String(),
        "submitted_at": TS,
        "source": pl.String(),
        "user_name": pl.String(),
        "user_phone": pl.String(),
        "content": pl.String(),
        "category": pl.String(),
        "district_code": pl.String(),
        "street_code": pl.String(),
        "address": pl.String(),
        "longitude": pl.Float64(),
        "latitude": pl.Float64(),
        "related_order_id": pl.String(),
    },
    "citymgmt_cases": {
        "case_id": pl.String(),
        "discover_time": TS,
        "severity": pl.String(),
        "category": pl.String(),
        "description": pl.String(),
        "longitude": pl.Float64(),
        "latitude": pl.Float64(),
        "district_code": pl.String(),
        "street_code": pl.String(),
        "dispatch_time": TS,
        "handle_time": TS,
        "close_time": TS,
        "is_closed": pl.Boolean(),
    },
    "police_110_transfers": {
        "incident_id": pl.String(),
        "report_time": TS,
        "transfer_time": TS,
        "severity": pl.String(),
        "category": pl.String(),
        "caller_phone": pl.String(),
        "summary": pl.String(),
        "district_code": pl.String(),
        "address": pl.String(),
        "target_department": pl.String(),
    },
    "iot_sensor_readings": {
        "sensor_id": pl.String(),
        "reading_time": TS,
        "sensor_type": pl.String(),
        "value": pl.Float64(),
        "unit": pl.String(),
        "district_code": pl.String(),
        "longitude": pl.Float64(),
        "latitude": pl.Float64(),
    },
    "emergency_resources": {
        "warehouse_id": pl.String(),
        "warehouse_name": pl.String(),
        "district_code": pl.String(),
        "resource_type": pl.String(),
        "quantity": pl.Int64(),
        "unit": pl.String(),
        "update_time": TS,
    },
}
SOURCE_DATASETS = tuple(SOURCE_SCHEMAS)
_EVENT_SOURCES = (
    "hotline_12345",
    "gov_app_reports",
    "citymgmt_cases",
    "police_110_transfers",
    "iot_sensor_readings",
)
VIEW_SOURCES: dict[str, tuple[str, ...]] = {
    "sensor_alerts": ("iot_sensor_readings",),
    "events_unified": _EVENT_SOURCES,
    "event_kpis_daily": _EVENT_SOURCES,
    "resources_available": ("emergency_resources",),
}
"""The datasets each view is built from (``build.build_frames``): a change to one reaches these views."""

# ---------------------------------------------------------------- views (as published)
SENSOR_ALERTS: dict[str, pl.DataType] = {
    "alert_id": pl.String(),
    "sensor_id": pl.String(),
    "sensor_type": pl.String(),
    "district_code": pl.String(),
    "longitude": pl.Float64(),
    "latitude": pl.Float64(),
    "kind": pl.String(),
    "start_time": TS,
    "end_time": TS,
    "duration_hours": pl.Float64(),
    "readings": pl.Int64(),
    "value": pl.Float64(),
    "range_min": pl.Float64(),
    "range_max": pl.Float64(),
    "unit": pl.String(),
    "is_ongoing": pl.Boolean(),
}

EVENTS_UNIFIED: dict[str, pl.DataType] = {
    "event_id": pl.String(),
    "channel": pl.String(),
    "category": pl.String(),
    "major_category": pl.String(),
    "response_level": pl.String(),
    "department": pl.String(),
    "district_code": pl.String(),
    "street_code": pl.String(),
    "address": pl.String(),
    "longitude": pl.Float64(),
    "latitude": pl.Float64(),
    "discover_time": TS,
    "report_time": TS,
    "dispatch_time": TS,
    "handle_time": TS,
    "feedback_time": TS,
    "evaluate_time": TS,
    "status": pl.String(),
    "is_closed": pl.Boolean(),
    "is_resolved": pl.Boolean(),
    "satisfaction": pl.Int64(),
    "source_records": pl.List(pl.String()),
    "source_count": pl.Int64(),
    "reporter_token": pl.String(),
    "description": pl.String(),
    "updated_at": TS,
}

EVENT_KPIS_DAILY: dict[str, pl.DataType] = {
    "date": pl.Date(),
    "department": pl.String(),
    "district_code": pl.String(),
    "category": pl.String(),
    "major_category": pl.String(),
    "events": pl.Int64(),
    "closed_events": pl.Int64(),
    "closure_rate": pl.Float64(),
    "resolution_known": pl.Int64(),
    "resolved_events": pl.Int64(),
    "resolution_rate": pl.Float64(),
    "rated_events": pl.Int64(),
    "satisfied_events": pl.Int64(),
    "satisfaction_rate": pl.Float64(),
    "response_minutes_p50": pl.Float64(),
    "response_minutes_p90": pl.Float64(),
    "reporter_events": pl.Int64(),
    "repeat_events": pl.Int64(),
    "repeat_rate": pl.Float64(),
    "cross_dept_events": pl.Int64(),
    "cross_dept_minutes_p50": pl.Float64(),
    "cross_dept_minutes_avg": pl.Float64(),
    "response_overdue": pl.Int64(),
    "handling_overdue": pl.Int64(),
    "overdue_red": pl.Int64(),
    "overdue_yellow": pl.Int64(),
    "overdue_blue": pl.Int64(),
}

RESOURCES_AVAILABLE: dict[str, pl.DataType] = {
    "district_code": pl.String(),
    "district_name": pl.String(),
    "resource_type": pl.String(),
    "resource_name": pl.String(),
    "unit": pl.String(),
    "warehouse_id": pl.String(),
    "warehouse_name": pl.String(),
    "quantity": pl.Int64(),
    "district_quantity": pl.Int64(),
    "update_time": TS,
}

VIEW_SCHEMAS: dict[str, dict[str, pl.DataType]] = {
    "sensor_alerts": SENSOR_ALERTS,
    "events_unified": EVENTS_UNIFIED,
    "event_kpis_daily": EVENT_KPIS_DAILY,
    "resources_available": RESOURCES_AVAILABLE,
}
VIEWS = tuple(VIEW_SCHEMAS)


def empty(schema: dict[str, pl.DataType]) -> pl.DataFrame:
    return pl.DataFrame(schema=schema)


def conform(frame: pl.DataFrame | pl.LazyFrame | None, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """The frame's columns of ``schema`` in that order and type; a missing column is null, a missing
    frame an empty one."""
    if frame is None:
        return empty(schema)
    lazy = frame.lazy()
    present = set(lazy.collect_schema().names())
    exprs = [
        (pl.col(name) if name in present else pl.lit(None)).cast(dtype).alias(name)
        for name, dtype in schema.items()
    ]
    return lazy.select(exprs).collect()

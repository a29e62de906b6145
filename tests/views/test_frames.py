"""The KPIs, sensor alerts and resources on small hand-made frames, against values computed by hand."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import polars as pl
import pytest

from datahub.dictionary import Dictionary
from datahub.views import (
    VIEW_SCHEMAS,
    ViewCodes,
    build_frames,
    event_kpis_daily,
    events_unified,
    resources_available,
    sensor_alerts,
)
from datahub.views.schemas import EVENTS_UNIFIED, conform


@pytest.fixture(scope="module")
def codes(dictionary: Dictionary) -> ViewCodes:
    return ViewCodes.of(dictionary)


def at(day: int, hour: int, minute: int = 0, month: int = 10) -> datetime:
    return datetime(2026, month, day, hour, minute)


def event(event_id: str, **values: Any) -> dict[str, Any]:
    base = {
        "event_id": event_id,
        "channel": "hotline_12345",
        "category": "0301",
        "major_category": "03",
        "response_level": "blue",
        "department": "UM",
        "district_code": "990102",
        "is_closed": False,
        "source_records": [event_id],
        "source_count": 1,
    }
    return base | values


EVENTS = [
    event("E0", report_time=at(20, 9, month=8), dispatch_time=at(20, 9, 5, month=8),
          handle_time=at(20, 10, month=8), is_closed=True, is_resolved=True, satisfaction=5,
          reporter_token="C"),
    event("E1", report_time=at(1, 10), dispatch_time=at(1, 10, 20), handle_time=at(1, 12), is_closed=True,
          is_resolved=True, satisfaction=5, reporter_token="A"),
    event("E2", report_time=at(1, 11), dispatch_time=at(1, 13, 30), handle_time=at(1, 20), is_closed=True,
          is_resolved=False, satisfaction=3, reporter_token="A"),
    event("E3", channel="police_110", response_level="red", report_time=at(1, 12), reporter_token="B"),
    event("E4", channel="grid_patrol", response_level="yellow", report_time=at(1, 9),
          dispatch_time=at(1, 9, 40), is_closed=True),
    event("E6", report_time=at(1, 14), dispatch_time=at(1, 14, 10), handle_time=at(1, 15), is_closed=True,
          is_resolved=True, satisfaction=4, reporter_token="C"),
    event("E5", report_time=at(2, 8), dispatch_time=at(2, 8, 30), reporter_token="A"),
]  # fmt: skip
AS_OF = at(3, 0)


@pytest.fixture(scope="module")
def kpis(codes: ViewCodes) -> dict[str, dict[str, Any]]:
    frame = event_kpis_daily(pl.DataFrame(EVENTS, schema_overrides=EVENTS_UNIFIED), codes, as_of=AS_OF)
    assert frame.schema == pl.Schema(VIEW_SCHEMAS["event_kpis_daily"])
    return {str(row["date"]): row for row in frame.iter_rows(named=True)}


def test_kpi_groups(kpis: dict[str, dict[str, Any]]) -> None:
    assert set(kpis) == {"2026-08-20", "2026-10-01", "2026-10-02"}
    day = kpis["2026-10-01"]
    assert (day["department"], day["district_code"], day["category"], day["major_category"]) == (
        "UM",
        "990102",
        "0301",
        "03",
    )
    assert day["events"] == 5


def test_kpi_rates_by_hand(kpis: dict[str, dict[str, Any]]) -> None:
    day = kpis["2026-10-01"]  # E1, E2, E3, E4, E6
    assert (day["closed_events"], day["closure_rate"]) == (4, 0.8)
    assert (day["resolution_known"], day["resolved_events"]) == (3, 2)
    assert day["resolution_rate"] == pytest.approx(2 / 3)
    assert (day["rated_events"], day["satisfied_events"]) == (3, 2)  # 5, 3, 4: two of them 4 or more
    assert day["satisfaction_rate"] == pytest.approx(2 / 3)
    next_day = kpis["2026-10-02"]
    assert next_day["closure_rate"] == 0.0
    assert next_day["resolution_rate"] is None and next_day["satisfaction_rate"] is None


def test_kpi_response_times_by_hand(kpis: dict[str, dict[str, Any]]) -> None:
    day = kpis["2026-10-01"]  # report → dispatch: E6 10, E1 20, E4 40, E2 150 minutes (E3 not dispatched)
    assert day["response_minutes_p50"] == pytest.approx(30.0)
    assert day["response_minutes_p90"] == pytest.approx(40 + 0.7 * 110)
    assert kpis["2026-10-02"]["response_minutes_p50"] == pytest.approx(30.0)


def test_kpi_repeats_by_hand(kpis: dict[str, dict[str, Any]]) -> None:
    # E2 repeats E1 (A, same category, same day); E6 is 42 days after E0 (C): not a repeat; E5 repeats E2.
    day = kpis["2026-10-01"]
    assert (day["reporter_events"], day["repeat_events"], day["repeat_rate"]) == (4, 1, 0.25)
    assert (kpis["2026-10-02"]["repeat_events"], kpis["2026-10-02"]["repeat_rate"]) == (1, 1.0)
    assert kpis["2026-08-20"]["repeat_events"] == 0


def test_kpi_cross_department_by_hand(kpis: dict[str, dict[str, Any]]) -> None:
    # Hotline events handled by UM (received by OC) and the 110 transfer to UM (received by PS) cross;
    # the patrol case (UM, received by UM) does not. Report → handle: E1 120, E2 540, E6 60; E3 not handled.
    day = kpis["2026-10-01"]
    assert day["cross_dept_events"] == 4
    assert day["cross_dept_minutes_p50"] == pytest.approx(120.0)
    assert day["cross_dept_minutes_avg"] == pytest.approx(240.0)


def test_kpi_overdue_by_hand(kpis: dict[str, dict[str, Any]]) -> None:
    # Blue: 120 min / 72 h; red: 30 min / 24 h; yellow: 60 min / 48 h (response_levels.csv).
    # E2 (blue) dispatched after 150 min; E3 (red) open and undispatched for 36 h at AS_OF: both limits.
    day = kpis["2026-10-01"]
    assert (day["response_overdue"], day["handling_overdue"]) == (2, 1)
    assert (day["overdue_red"], day["overdue_yellow"], day["overdue_blue"]) == (1, 0, 1)
    late = kpis["2026-10-02"]  # E5: dispatched in 30 min, open 16 h at AS_OF: within both blue limits
    assert (late["response_overdue"], late["handling_overdue"]) == (0, 0)


def test_kpi_as_of_defaults_to_the_latest_time(codes: ViewCodes) -> None:
    frame = pl.DataFrame(EVENTS, schema_overrides=EVENTS_UNIFIED)
    # Latest time in the events: E5's dispatch, 2026-10-02 08:30 → E3 waits 20.5 h: over 30 min, not 24 h.
    kpis = event_kpis_daily(
        frame.with_columns(pl.max_horizontal("dispatch_time", "report_time").alias("updated_at")), codes
    )
    day = kpis.filter(pl.col("date") == at(1, 0).date()).row(0, named=True)
    assert (day["response_overdue"], day["handling_overdue"], day["overdue_red"]) == (2, 0, 1)


def test_kpis_of_no_events(codes: ViewCodes) -> None:
    assert event_kpis_daily(None, codes).schema == pl.Schema(VIEW_SCHEMAS["event_kpis_daily"])


# ---------------------------------------------------------------------------------------------- sensors
def readings(sensor: str, kind: str, start: datetime, values: list[float]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "sensor_id": sensor,
            "reading_time": [start + timedelta(minutes=15 * i) for i in range(len(values))],
            "sensor_type": kind,
            "value": [float(v) for v in values],
            "unit": "μg/m3",
            "district_code": "990102",
            "longitude": 106.5,
            "latitude": 29.5,
        }
    )


@pytest.fixture(scope="module")
def alerts(codes: ViewCodes) -> pl.DataFrame:
    t0 = at(1, 0)
    frame = pl.concat(
        [
            readings("SN-PM-0001", "pm25", t0, [10, 11, 1200, 1500, 12, 13, -5, 14]),  # pm25: 0..1000
            readings("SN-PM-0002", "pm25", t0, [888.0] * 101 + [20.0, 21.0]),  # 25 h stuck, then recovers
            readings("SN-PM-0003", "pm25", t0, [5.0] * 81 + [6.0]),  # 20 h: not stuck
            readings("SN-PM-0004", "pm25", t0, [1.0, *([30.0] * 97)]),  # 24 h exactly, to the last reading
            readings("SN-NS-0005", "noise", t0, [50.0, 10.0, 60.0]),  # noise: 20..140
            readings("SN-XX-0006", "unknown", t0, [-40.0, 99999.0]),  # no known range: no range alert
        ]
    )
    return sensor_alerts(frame.sample(fraction=1.0, shuffle=True, seed=1), codes)  # any order in


def test_alerts_schema(alerts: pl.DataFrame) -> None:
    assert alerts.schema == pl.Schema(VIEW_SCHEMAS["sensor_alerts"])


def test_out_of_range_episodes(alerts: pl.DataFrame) -> None:
    found = alerts.filter(pl.col("kind") == "out_of_range").select(
        "sensor_id", "start_time", "end_time", "readings", "value", "range_min", "range_max"
    )
    assert found.rows() == [
        ("SN-NS-0005", at(1, 0, 15), at(1, 0, 15), 1, 10.0, 20.0, 140.0),
        ("SN-PM-0001", at(1, 0, 30), at(1, 0, 45), 2, 1500.0, 0.0, 1000.0),
        ("SN-PM-0001", at(1, 1, 30), at(1, 1, 30), 1, -5.0, 0.0, 1000.0),
    ]


def test_stuck_episodes(alerts: pl.DataFrame) -> None:
    stuck = alerts.filter(pl.col("kind") == "stuck").select(
        "alert_id", "sensor_id", "start_time", "duration_hours", "readings", "value", "is_ongoing"
    )
    assert stuck.rows() == [
        ("SN-PM-0002-20261001000000-stuck", "SN-PM-0002", at(1, 0), 25.0, 101, 888.0, False),
        ("SN-PM-0004-20261001001500-stuck", "SN-PM-0004", at(1, 0, 15), 24.0, 97, 30.0, True),
    ]


def test_alerts_are_events(alerts: pl.DataFrame, codes: ViewCodes) -> None:
    events = events_unified({"sensor_alerts": alerts}, codes)
    assert events.height == alerts.height
    assert set(events["channel"]) == {"iot_sensor"}
    stuck = events.filter(pl.col("event_id") == "EV-SN-PM-0002-20261001000000-stuck").row(0, named=True)
    assert stuck["source_records"] == ["sensor_alerts:SN-PM-0002-20261001000000-stuck"]
    assert (stuck["category"], stuck["major_category"], stuck["department"]) == ("0601", "06", "EE")
    assert stuck["is_closed"] is True and stuck["status"] == "closed"
    assert "888.0" in stuck["description"]
    ongoing = events.filter(pl.col("event_id").str.contains("SN-PM-0004")).row(0, named=True)
    assert ongoing["status"] == "open"


# ---------------------------------------------------------------------------------------------- resources
def test_resources_by_hand(codes: ViewCodes) -> None:
    stock = pl.DataFrame(
        {
            "warehouse_id": ["CK-990102-01", "CK-990102-02", "CK-990102-01", "CK-990103-01"],
            "warehouse_name": ["东湖一库", "东湖二库", "东湖一库", "江北一库"],
            "district_code": ["990102", "990102", "990102", "990103"],
            "resource_type": ["tent", "tent", "drinking_water", "tent"],
            "quantity": [10, 5, 3, 7],
            "unit": [None, "顶", "箱", "顶"],
            "update_time": [at(1, 8)] * 4,
        }
    )
    out = resources_available(stock, codes)
    assert out.schema == pl.Schema(VIEW_SCHEMAS["resources_available"])
    assert out.select(
        "district_name", "resource_name", "warehouse_id", "unit", "quantity", "district_quantity"
    ).rows() == [
        ("东湖区", "饮用水", "CK-990102-01", "箱", 3, 3),
        ("东湖区", "帐篷", "CK-990102-01", "顶", 10, 15),
        ("东湖区", "帐篷", "CK-990102-02", "顶", 5, 15),
        ("江北区", "帐篷", "CK-990103-01", "顶", 7, 7),
    ]


# ------------------------------------------------------------------------------------- nothing published
def test_every_view_from_no_sources(codes: ViewCodes) -> None:
    frames = build_frames({}, codes)
    assert set(frames) == set(VIEW_SCHEMAS)
    for name, frame in frames.items():
        assert frame.is_empty(), name
        assert frame.schema == pl.Schema(VIEW_SCHEMAS[name]), name


def test_events_keep_their_schema(codes: ViewCodes) -> None:
    events = events_unified({"police_110_transfers": conform(None, {"incident_id": pl.String()})}, codes)
    assert events.schema == pl.Schema(VIEW_SCHEMAS["events_unified"])

"""What the views read from the unified dictionary, as small lookup frames joined in polars."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from datahub.dictionary import Dictionary

LEVELS = ("red", "yellow", "blue")
DEFAULT_LEVEL = "blue"
"""The level of an event whose category declares none (the least urgent one)."""

# The department that receives each channel's events: a case handled by another one crossed departments.
RECEIVING_DEPARTMENT = {
    "hotline_12345": "OC",
    "gov_app": "OC",
    "wechat": "OC",
    "grid_patrol": "UM",
    "police_110": "PS",
    "iot_sensor": "EE",
}

# The unified category a sensor alert is filed under, by sensor type (the monitoring the device serves).
SENSOR_CATEGORY = {
    "pm25": "0601",
    "pm10": "0601",
    "no2": "0601",
    "so2": "0601",
    "o3": "0601",
    "noise": "0603",
    "water_level": "0906",
    "rainfall": "0408",
    "temperature": "0408",
    "humidity": "0408",
    "wind_speed": "0408",
}
DEFAULT_SENSOR_CATEGORY = "0601"


def _number(value: str | None) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except ValueError:
        return None


@dataclass(frozen=True)
class ViewCodes:
    """Code tables as frames: categories (major, owning department, default level), levels (time limits),
    sensor types (physical range), resource types and districts (names)."""

    categories: pl.DataFrame  # category, major_category, category_department, category_level
    levels: pl.DataFrame  # response_level, response_minutes, handling_hours
    sensor_types: pl.DataFrame  # sensor_type, type_name, range_min, range_max, category
    resource_types: pl.DataFrame  # resource_type, resource_name, resource_unit
    districts: pl.DataFrame  # district_code, district_name

    @classmethod
    def of(cls, dictionary: Dictionary) -> ViewCodes:
        level_codes = dictionary.codes("response_level")
        majors = (
            dictionary.codes("event_major_category")
            if "event_major_category" in dictionary.code_tables
            else {}
        )
        cats = list(dictionary.codes("event_category").values())

        def level(attr: str | None) -> str:
            return attr if attr in level_codes else DEFAULT_LEVEL

        categories = pl.DataFrame(
            {
                "category": [c.code for c in cats],
                "major_category": [c.parent for c in cats],
                "category_department": [
                    c.attributes.get("department")
                    or (majors[c.parent].attributes.get("department") if c.parent in majors else None)
                    for c in cats
                ],
                "category_level": [level(c.attributes.get("response_level")) for c in cats],
            },
            schema={
                "category": pl.String,
                "major_category": pl.String,
                "category_department": pl.String,
                "category_level": pl.String,
            },
        )
        levels = pl.DataFrame(
            {
                "response_level": list(level_codes),
                "response_minutes": [
                    _number(c.attributes.get("response_minutes")) for c in level_codes.values()
                ],
                "handling_hours": [_number(c.attributes.get("handling_hours")) for c in level_codes.values()],
            },
            schema={
                "response_level": pl.String,
                "response_minutes": pl.Float64,
                "handling_hours": pl.Float64,
            },
        )
        sensors = list(dictionary.codes("sensor_type").values())
        sensor_types = pl.DataFrame(
            {
                "sensor_type": [s.code for s in sensors],
                "type_name": [s.name_zh for s in sensors],
                "range_min": [_number(s.attributes.get("min_value")) for s in sensors],
                "range_max": [_number(s.attributes.get("max_value")) for s in sensors],
                "category": [SENSOR_CATEGORY.get(s.code, DEFAULT_SENSOR_CATEGORY) for s in sensors],
            },
            schema={
                "sensor_type": pl.String,
                "type_name": pl.String,
                "range_min": pl.Float64,
                "range_max": pl.Float64,
                "category": pl.String,
            },
        )
        resources = list(dictionary.codes("resource_type").values())
        resource_types = pl.DataFrame(
            {
                "resource_type": [r.code for r in resources],
                "resource_name": [r.name_zh for r in resources],
                "resource_unit": [r.attributes.get("unit") or None for r in resources],
            },
            schema={"resource_type": pl.String, "resource_name": pl.String, "resource_unit": pl.String},
        )
        districts = pl.DataFrame(
            {
                "district_code": list(dictionary.codes("district")),
                "district_name": [d.name_zh for d in dictionary.codes("district").values()],
            },
            schema={"district_code": pl.String, "district_name": pl.String},
        )
        return cls(categories, levels, sensor_types, resource_types, districts)

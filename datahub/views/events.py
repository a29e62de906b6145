"""`events_unified`: one row per real-world event across the channels, duplicates linked.

Sources (the published, desensitised datasets): the 12345 hotline, the government app / WeChat, the
digital urban-management cases, the police 110 transfers, and the sensor alerts (:mod:`.sensors`).

**Linking an app report to a hotline call** (the same citizen reporting the same matter twice):

1. *By reference*: the report's ``related_order_id`` names a published work order whose caller has the
   report's phone token. A reference to an order that does not exist (a dangling reference, a defect)
   or to another caller's order links nothing.
2. *By match*, for the reports and calls not linked by reference: the same phone token (phones are
   pseudonymised with one keyed HMAC in every dataset), the same district and street, the same day, and
   submitted within ±2 h of the call. Each report takes the nearest call in time (``join_asof`` with
   ``by``), each call keeps the nearest of the reports that took it, and the reports that lost try
   again on the calls still free, until nothing changes: a report links to at most one call and a call
   to at most one report. Where both give a (masked) caller name, the names must agree. A report or a
   call without a street is matched on the district alone after the exact-street rounds.

A linked pair is one event whose primary record is the call (it carries the lifecycle); the report adds
its coordinates, and the event's ``report_time`` is the earlier of the two. ``source_records`` lists
``dataset:key`` of every record of the event, the primary first; ``event_id`` is ``EV-`` and the
primary record's key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import polars as pl

from datahub.dictionary import Dictionary
from datahub.views.codes import RECEIVING_DEPARTMENT, ViewCodes
from datahub.views.schemas import EVENTS_UNIFIED, SENSOR_ALERTS, SOURCE_SCHEMAS, TS, conform

HOTLINE, APP, CITYMGMT, POLICE, ALERTS = (
    "hotline_12345",
    "gov_app_reports",
    "citymgmt_cases",
    "police_110_transfers",
    "sensor_alerts",
)
LINK_WINDOW = "2h"
MAX_ROUNDS = 20
STAGES = ("discover_time", "report_time", "dispatch_time", "handle_time", "feedback_time", "evaluate_time")


# ---------------------------------------------------------------------------------------------- linking
def _side(frame: pl.DataFrame, key: str, time: str, token: str, name: str) -> pl.DataFrame:
    return frame.select(
        pl.col(key).alias("id"),
        pl.col(time).alias("t"),
        pl.col(token).alias("token"),
        pl.col(name).alias("name"),
        pl.col("district_code").alias("district"),
        pl.col("street_code").alias("street"),
        pl.col(time).dt.date().alias("day"),
    ).drop_nulls(["id", "t", "token", "district"])


def _rounds(left: pl.DataFrame, right: pl.DataFrame, by: list[str], window: str) -> pl.DataFrame:
    """Nearest-in-time one-to-one pairs (``id``, ``id_right``, ``gap``) of left and right rows agreeing on
    ``by``, within ``window``: rounds of nearest neighbours until no left row has a free candidate."""
    accepted: list[pl.DataFrame] = []
    left, right = left.sort("t"), right.sort("t")
    for _ in range(MAX_ROUNDS):
        if left.is_empty() or right.is_empty():
            break
        near = left.join_asof(
            right.select("id", "t", "name", *by, pl.col("t").alias("t_right")),
            on="t",
            by=by,
            strategy="nearest",
            check_sortedness=False,
            tolerance=window,
            suffix="_right",
        ).filter(pl.col("id_right").is_not_null())
        if near.is_empty():
            break
        near = near.with_columns((pl.col("t") - pl.col("t_right")).abs().alias("gap"))
        # The nearest report of each call wins (ties: the earlier report id); names must not disagree.
        won = near.sort("gap", "id").unique("id_right", keep="first", maintain_order=True)
        clash = pl.col("name").is_not_null() & pl.col("name_right").is_not_null()
        clash = clash & (pl.col("name") != pl.col("name_right"))
        pairs = won.filter(~clash).select("id", "id_right", "gap")
        accepted.append(pairs)
        # Reports without a candidate have nothing left to try, nor have those whose pair was refused;
        # those that lost their nearest call to a nearer report try the calls still free.
        lost = near.join(won, on="id", how="anti").get_column("id")
        left = left.filter(pl.col("id").is_in(lost.implode()))
        right = right.filter(~pl.col("id").is_in(pairs.get_column("id_right").implode()))
    if not accepted:
        return pl.DataFrame(schema={"id": pl.String, "id_right": pl.String, "gap": pl.Duration("us")})
    return pl.concat(accepted)


def link_reports(
    hotline: pl.DataFrame | pl.LazyFrame | None,
    app: pl.DataFrame | pl.LazyFrame | None,
    *,
    window: str = LINK_WINDOW,
) -> pl.DataFrame:
    """Pairs (``report_id``, ``work_order_id``, ``rule``: reference or match, ``gap_minutes``) of app
    reports and hotline calls that are the same event (the module docstring gives the rule)."""
    h = conform(hotline, SOURCE_SCHEMAS[HOTLINE])
    a = conform(app, SOURCE_SCHEMAS[APP])
    by_reference = (
        a.filter(pl.col("related_order_id").is_not_null())
        .select("report_id", "submitted_at", "user_phone", "related_order_id")
        .join(
            h.select("work_order_id", "report_time", "caller_phone"),
            left_on="related_order_id",
            right_on="work_order_id",
            how="inner",
        )
        .filter(pl.col("user_phone") == pl.col("caller_phone"))
        .with_columns((pl.col("submitted_at") - pl.col("report_time")).abs().alias("gap"))
        .sort("gap", "report_id")
        .unique("related_order_id", keep="first", maintain_order=True)
        .select(
            "report_id",
            pl.col("related_order_id").alias("work_order_id"),
            pl.lit("reference").alias("rule"),
            "gap",
        )
    )
    left = _side(a, "report_id", "submitted_at", "user_phone", "user_name").filter(
        ~pl.col("id").is_in(by_reference.get_column("report_id").implode())
    )
    right = _side(h, "work_order_id", "report_time", "caller_phone", "caller_name").filter(
        ~pl.col("id").is_in(by_reference.get_column("work_order_id").implode())
    )
    matched = []
    has_street = pl.col("street").is_not_null()
    passes = (
        (has_street, has_street, ["token", "district", "street", "day"]),
        (~has_street, pl.lit(True), ["token", "district", "day"]),
        (has_street, ~has_street, ["token", "district", "day"]),
    )
    for left_filter, right_filter, by in passes:
        pairs = _rounds(left.filter(left_filter), right.filter(right_filter), by, window)
        matched.append(pairs)
        left = left.filter(~pl.col("id").is_in(pairs.get_column("id").implode()))
        right = right.filter(~pl.col("id").is_in(pairs.get_column("id_right").implode()))
    by_match = pl.concat(matched).select(
        pl.col("id").alias("report_id"),
        pl.col("id_right").alias("work_order_id"),
        pl.lit("match").alias("rule"),
        "gap",
    )
    links = pl.concat([by_reference, by_match])
    return links.select(
        "report_id",
        "work_order_id",
        "rule",
        (pl.col("gap").dt.total_seconds() / 60).cast(pl.Float64).alias("gap_minutes"),
    ).sort("report_id")


@dataclass(frozen=True)
class LinkScore:
    predicted: int
    true: int
    correct: int

    @property
    def precision(self) -> float:
        return self.correct / self.predicted if self.predicted else 1.0

    @property
    def recall(self) -> float:
        return self.correct / self.true if self.true else 1.0


def linked_pairs(events: pl.DataFrame) -> pl.DataFrame:
    """(``app_report_id``, ``work_order_id``) of every event holding both a call and an app report."""
    records = events.select("event_id", "source_records").explode("source_records")
    parts = pl.col("source_records").str.split_exact(":", 1)
    records = records.with_columns(
        parts.struct.field("field_0").alias("dataset"), parts.struct.field("field_1").alias("key")
    )
    calls = records.filter(pl.col("dataset") == HOTLINE).select(
        "event_id", pl.col("key").alias("work_order_id")
    )
    reports = records.filter(pl.col("dataset") == APP).select(
        "event_id", pl.col("key").alias("app_report_id")
    )
    return reports.join(calls, on="event_id").select("app_report_id", "work_order_id")


def score_links(predicted: pl.DataFrame, truth: pl.DataFrame) -> LinkScore:
    """Precision and recall of predicted (``app_report_id``, ``work_order_id``) pairs against the truth."""
    cols = ["app_report_id", "work_order_id"]
    p = predicted.select(cols).unique()
    t = truth.select(pl.col(c).cast(pl.String) for c in cols).unique()
    return LinkScore(predicted=p.height, true=t.height, correct=p.join(t, on=cols).height)


# ---------------------------------------------------------------------------------------------- records
def _finish(frame: pl.DataFrame, codes: ViewCodes) -> pl.DataFrame:
    """Major category, default level and department from the category; status, counts, last change."""
    frame = frame.drop("major_category").join(codes.categories, on="category", how="left")
    return frame.with_columns(
        pl.coalesce("response_level", "category_level").alias("response_level"),
        pl.coalesce("department", "category_department").alias("department"),
        pl.when(pl.col("is_closed")).then(pl.lit("closed")).otherwise(pl.lit("open")).alias("status"),
        pl.col("source_records").list.len().cast(pl.Int64).alias("source_count"),
        pl.max_horizontal(*STAGES, "updated_at").alias("updated_at"),
    ).select(list(EVENTS_UNIFIED))


def _record(dataset: str, key: str) -> pl.Expr:
    return pl.concat_str(pl.lit(f"{dataset}:"), pl.col(key))


def _nulls(**columns: pl.DataType) -> list[pl.Expr]:
    return [pl.lit(None, dtype=dtype).alias(name) for name, dtype in columns.items()]


def _hotline_events(h: pl.DataFrame, a: pl.DataFrame, links: pl.DataFrame) -> pl.DataFrame:
    app = a.select(
        pl.col("report_id"),
        pl.col("submitted_at").alias("app_time"),
        pl.col("street_code").alias("app_street"),
        pl.col("address").alias("app_address"),
        pl.col("longitude"),
        pl.col("latitude"),
        pl.col("user_phone").alias("app_token"),
    )
    linked = links.select("work_order_id", "report_id").join(app, on="report_id", how="inner")
    h = h.join(linked, on="work_order_id", how="left")
    alone = h.filter(pl.col("report_id").is_null())  # building lists of two is slow: only where needed
    pair = h.filter(pl.col("report_id").is_not_null())
    return pl.concat(
        [
            _hotline_select(alone, pl.concat_list(_record(HOTLINE, "work_order_id"))),
            _hotline_select(
                pair, pl.concat_list(_record(HOTLINE, "work_order_id"), _record(APP, "report_id"))
            ),
        ]
    )


def _hotline_select(h: pl.DataFrame, records: pl.Expr) -> pl.DataFrame:
    return h.select(
        pl.concat_str(pl.lit("EV-"), pl.col("work_order_id")).alias("event_id"),
        pl.lit(HOTLINE).alias("channel"),
        pl.col("event_category").alias("category"),
        pl.lit(None, dtype=pl.String).alias("response_level"),
        pl.col("handling_department").alias("department"),
        "district_code",
        pl.coalesce("street_code", "app_street").alias("street_code"),
        pl.coalesce("address", "app_address").alias("address"),
        "longitude",
        "latitude",
        pl.lit(None, dtype=TS).alias("discover_time"),
        pl.min_horizontal("report_time", "app_time").alias("report_time"),
        "dispatch_time",
        "handle_time",
        "feedback_time",
        "evaluate_time",
        pl.col("feedback_time").is_not_null().alias("is_closed"),
        "is_resolved",
        "satisfaction",
        records.alias("source_records"),
        pl.coalesce("caller_phone", "app_token").alias("reporter_token"),
        pl.col("complaint_text").alias("description"),
        pl.col("app_time").alias("updated_at"),
    )


def _app_events(a: pl.DataFrame, links: pl.DataFrame) -> pl.DataFrame:
    a = a.join(links.select("report_id"), on="report_id", how="anti")
    return a.select(
        pl.concat_str(pl.lit("EV-"), pl.col("report_id")).alias("event_id"),
        pl.coalesce("source", pl.lit("gov_app")).alias("channel"),
        "category",
        *_nulls(response_level=pl.String(), department=pl.String()),
        "district_code",
        "street_code",
        "address",
        "longitude",
        "latitude",
        pl.lit(None, dtype=TS).alias("discover_time"),
        pl.col("submitted_at").alias("report_time"),
        *_nulls(dispatch_time=TS, handle_time=TS, feedback_time=TS, evaluate_time=TS),
        pl.lit(False).alias("is_closed"),
        *_nulls(is_resolved=pl.Boolean(), satisfaction=pl.Int64()),
        pl.concat_list(_record(APP, "report_id")).alias("source_records"),
        pl.col("user_phone").alias("reporter_token"),
        pl.col("content").alias("description"),
        pl.lit(None, dtype=TS).alias("updated_at"),
    )


def _citymgmt_events(c: pl.DataFrame) -> pl.DataFrame:
    """Grid officers report what they discover at once: the report time is the discovery time."""
    return c.select(
        pl.concat_str(pl.lit("EV-"), pl.col("case_id")).alias("event_id"),
        pl.lit("grid_patrol").alias("channel"),
        "category",
        pl.col("severity").alias("response_level"),
        pl.lit(None, dtype=pl.String).alias("department"),
        "district_code",
        "street_code",
        pl.lit(None, dtype=pl.String).alias("address"),
        "longitude",
        "latitude",
        "discover_time",
        pl.col("discover_time").alias("report_time"),
        "dispatch_time",
        "handle_time",
        pl.col("close_time").alias("feedback_time"),
        pl.lit(None, dtype=TS).alias("evaluate_time"),
        pl.coalesce("is_closed", pl.col("close_time").is_not_null()).alias("is_closed"),
        *_nulls(is_resolved=pl.Boolean(), satisfaction=pl.Int64()),
        pl.concat_list(_record(CITYMGMT, "case_id")).alias("source_records"),
        pl.lit(None, dtype=pl.String).alias("reporter_token"),
        "description",
        pl.lit(None, dtype=TS).alias("updated_at"),
    )


def _police_events(p: pl.DataFrame) -> pl.DataFrame:
    """A transfer is the dispatch to the target department; nothing after it is in the police data."""
    return p.select(
        pl.concat_str(pl.lit("EV-"), pl.col("incident_id")).alias("event_id"),
        pl.lit("police_110").alias("channel"),
        "category",
        pl.col("severity").alias("response_level"),
        pl.col("target_department").alias("department"),
        "district_code",
        pl.lit(None, dtype=pl.String).alias("street_code"),
        "address",
        *_nulls(longitude=pl.Float64(), latitude=pl.Float64(), discover_time=TS),
        "report_time",
        pl.col("transfer_time").alias("dispatch_time"),
        *_nulls(handle_time=TS, feedback_time=TS, evaluate_time=TS),
        pl.lit(False).alias("is_closed"),
        *_nulls(is_resolved=pl.Boolean(), satisfaction=pl.Int64()),
        pl.concat_list(_record(POLICE, "incident_id")).alias("source_records"),
        pl.col("caller_phone").alias("reporter_token"),
        pl.col("summary").alias("description"),
        pl.lit(None, dtype=TS).alias("updated_at"),
    )


def _alert_events(s: pl.DataFrame, codes: ViewCodes) -> pl.DataFrame:
    """A sensor alert is a device fault for the sensors' owner (EE), blue, filed under the category of
    what the sensor monitors; it closes when the readings recover."""
    s = s.join(
        codes.sensor_types.select("sensor_type", "type_name", "category"), on="sensor_type", how="left"
    )
    value = pl.col("value").round(2).cast(pl.String)
    start = pl.col("start_time").dt.strftime("%Y-%m-%d %H:%M")
    name = pl.coalesce("type_name", "sensor_type")
    hours = pl.col("duration_hours").round(1).cast(pl.String)
    description = (
        pl.when(pl.col("kind") == "stuck")
        .then(
            pl.concat_str(
                name, pl.lit("传感器"), pl.col("sensor_id"), pl.lit("自"), start, pl.lit("起读数恒为"), value,
                pl.lit("，持续"), hours, pl.lit("小时，疑似设备故障。"),
            )
        )
        .otherwise(
            pl.concat_str(
                name, pl.lit("传感器"), pl.col("sensor_id"), pl.lit("自"), start, pl.lit("起读数"), value,
                pl.lit("超出物理量程["), pl.col("range_min").cast(pl.String), pl.lit(", "),
                pl.col("range_max").cast(pl.String), pl.lit("]，疑似设备故障。"),
            )
        )
    )  # fmt: skip
    return s.select(
        pl.concat_str(pl.lit("EV-"), pl.col("alert_id")).alias("event_id"),
        pl.lit("iot_sensor").alias("channel"),
        "category",
        pl.lit("blue").alias("response_level"),
        pl.lit(RECEIVING_DEPARTMENT["iot_sensor"]).alias("department"),
        "district_code",
        *_nulls(street_code=pl.String(), address=pl.String()),
        "longitude",
        "latitude",
        pl.col("start_time").alias("discover_time"),
        pl.col("start_time").alias("report_time"),
        *_nulls(dispatch_time=TS, handle_time=TS, feedback_time=TS, evaluate_time=TS),
        (~pl.col("is_ongoing")).fill_null(False).alias("is_closed"),
        *_nulls(is_resolved=pl.Boolean(), satisfaction=pl.Int64()),
        pl.concat_list(_record(ALERTS, "alert_id")).alias("source_records"),
        pl.lit(None, dtype=pl.String).alias("reporter_token"),
        description.alias("description"),
        pl.col("end_time").alias("updated_at"),
    )


def events_unified(
    sources: Mapping[str, pl.DataFrame | pl.LazyFrame | None],
    dictionary: Dictionary | ViewCodes,
    *,
    links: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """One row per event (schema :data:`~datahub.views.schemas.EVENTS_UNIFIED`) from the published
    ``hotline_12345``, ``gov_app_reports``, ``citymgmt_cases``, ``police_110_transfers`` and the
    ``sensor_alerts`` view; a missing source counts as empty. ``links`` (from :func:`link_reports`) is
    computed when not given."""
    codes = dictionary if isinstance(dictionary, ViewCodes) else ViewCodes.of(dictionary)
    h = conform(sources.get(HOTLINE), SOURCE_SCHEMAS[HOTLINE])
    a = conform(sources.get(APP), SOURCE_SCHEMAS[APP])
    if links is None:
        links = link_reports(h, a)
    parts = [
        _hotline_events(h, a, links),
        _app_events(a, links),
        _citymgmt_events(conform(sources.get(CITYMGMT), SOURCE_SCHEMAS[CITYMGMT])),
        _police_events(conform(sources.get(POLICE), SOURCE_SCHEMAS[POLICE])),
        _alert_events(conform(sources.get(ALERTS), SENSOR_ALERTS), codes),
    ]
    events = pl.concat([_finish(conform(part, EVENTS_UNIFIED), codes) for part in parts])
    return events.sort("report_time", "event_id", nulls_last=True)

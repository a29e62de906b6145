"""Linking app reports to hotline calls on hand-made frames: the window, the day, the street, one-to-one,
references (kept, dangling, another caller's), and the evaluation against a ground truth."""

from __future__ import annotations

from datetime import datetime, timedelta

import polars as pl
import pytest

from datahub.dictionary import Dictionary
from datahub.views import events_unified, link_reports, linked_pairs, score_links

T0 = datetime(2026, 10, 1, 10, 0, 0)


def hotline(*rows: tuple[str, datetime, str, str | None]) -> pl.DataFrame:
    """(work_order_id, report_time, token, street)"""
    return pl.DataFrame(
        {
            "work_order_id": [r[0] for r in rows],
            "report_time": [r[1] for r in rows],
            "caller_name": ["张*"] * len(rows),
            "caller_phone": [r[2] for r in rows],
            "event_category": ["0301"] * len(rows),
            "district_code": ["990102"] * len(rows),
            "street_code": [r[3] for r in rows],
            "complaint_text": ["占道经营"] * len(rows),
        }
    )


def app(*rows: tuple[str, datetime, str, str | None, str | None]) -> pl.DataFrame:
    """(report_id, submitted_at, token, street, related_order_id)"""
    return pl.DataFrame(
        {
            "report_id": [r[0] for r in rows],
            "submitted_at": [r[1] for r in rows],
            "source": ["gov_app"] * len(rows),
            "user_name": ["张*"] * len(rows),
            "user_phone": [r[2] for r in rows],
            "category": ["0301"] * len(rows),
            "district_code": ["990102"] * len(rows),
            "street_code": [r[3] for r in rows],
            "related_order_id": [r[4] for r in rows],
            "longitude": [106.5] * len(rows),
            "latitude": [29.5] * len(rows),
        },
        schema_overrides={"related_order_id": pl.String},
    )


S = "990102001"


def pairs(links: pl.DataFrame) -> set[tuple[str, str]]:
    return set(zip(links["report_id"], links["work_order_id"], strict=True))


def test_within_two_hours_same_caller_street_and_day_is_linked() -> None:
    h = hotline(("GD1", T0, "tok", S))
    a = app(("APP1", T0 + timedelta(hours=1, minutes=59), "tok", S, None))
    links = link_reports(h, a)
    assert pairs(links) == {("APP1", "GD1")}
    assert links["rule"].to_list() == ["match"]
    assert links["gap_minutes"].to_list() == [119.0]


@pytest.mark.parametrize(
    "report",
    [
        ("APP1", T0 + timedelta(hours=2, seconds=1), "tok", S, None),  # outside ±2 h
        ("APP1", T0 - timedelta(hours=2, seconds=1), "tok", S, None),
        ("APP1", T0 + timedelta(minutes=5), "other", S, None),  # another phone
        ("APP1", T0 + timedelta(minutes=5), "tok", "990102002", None),  # another street
    ],
)
def test_what_differs_is_not_linked(report: tuple[str, datetime, str, str | None, str | None]) -> None:
    assert link_reports(hotline(("GD1", T0, "tok", S)), app(report)).is_empty()


def test_not_across_midnight() -> None:
    late = datetime(2026, 10, 1, 23, 30)
    h = hotline(("GD1", late, "tok", S))
    a = app(("APP1", late + timedelta(hours=1), "tok", S, None))
    assert link_reports(h, a).is_empty()


def test_a_missing_street_matches_on_the_district() -> None:
    h = hotline(("GD1", T0, "tok", None), ("GD2", T0, "tok2", S))
    a = app(("APP1", T0 + timedelta(minutes=30), "tok", S, None), ("APP2", T0, "tok2", None, None))
    assert pairs(link_reports(h, a)) == {("APP1", "GD1"), ("APP2", "GD2")}


def test_one_to_one_nearest_first() -> None:
    # Two reports near one call: the nearer one links; the other takes the caller's second call.
    h = hotline(("GD1", T0, "tok", S), ("GD2", T0 + timedelta(hours=2, minutes=30), "tok", S))
    a = app(
        ("APP1", T0 + timedelta(minutes=50), "tok", S, None),
        ("APP2", T0 + timedelta(minutes=10), "tok", S, None),
    )
    assert pairs(link_reports(h, a)) == {("APP2", "GD1"), ("APP1", "GD2")}


def test_one_call_is_linked_once() -> None:
    h = hotline(("GD1", T0, "tok", S))
    a = app(
        ("APP1", T0 + timedelta(minutes=50), "tok", S, None),
        ("APP2", T0 - timedelta(minutes=10), "tok", S, None),
    )
    assert pairs(link_reports(h, a)) == {("APP2", "GD1")}


def test_references() -> None:
    h = hotline(("GD1", T0, "tok", S), ("GD2", T0, "someone", S))
    a = app(
        ("APP1", T0 + timedelta(days=3), "tok", "990102002", "GD1"),  # by reference, days later
        ("APP2", T0 + timedelta(minutes=1), "x", S, "GD9"),  # dangling: no such order
        ("APP3", T0 + timedelta(minutes=1), "y", S, "GD2"),  # another caller's order
    )
    links = link_reports(h, a)
    assert pairs(links) == {("APP1", "GD1")}
    assert links["rule"].to_list() == ["reference"]


def test_a_dangling_reference_does_not_stop_a_match() -> None:
    h = hotline(("GD1", T0, "tok", S))
    a = app(("APP1", T0 + timedelta(minutes=20), "tok", S, "GD20261001999999"))
    links = link_reports(h, a)
    assert pairs(links) == {("APP1", "GD1")} and links["rule"].to_list() == ["match"]


def test_linked_pair_is_one_event_with_both_records(dictionary: Dictionary) -> None:
    h = hotline(("GD1", T0, "tok", S), ("GD2", T0, "tok2", S))
    a = app(("APP1", T0 - timedelta(minutes=20), "tok", S, None), ("APP2", T0, "tok3", S, None))
    events = events_unified({"hotline_12345": h, "gov_app_reports": a}, dictionary)
    assert events.height == 3
    linked = events.filter(pl.col("event_id") == "EV-GD1").row(0, named=True)
    assert linked["source_records"] == ["hotline_12345:GD1", "gov_app_reports:APP1"]
    assert linked["source_count"] == 2
    assert linked["channel"] == "hotline_12345"
    assert linked["report_time"] == T0 - timedelta(minutes=20)  # the earlier of the two
    assert (linked["longitude"], linked["latitude"]) == (106.5, 29.5)  # from the app report
    assert linked["reporter_token"] == "tok"
    assert set(events["event_id"]) == {"EV-GD1", "EV-GD2", "EV-APP2"}
    assert linked_pairs(events).rows() == [("APP1", "GD1")]


def test_score_links() -> None:
    predicted = pl.DataFrame({"app_report_id": ["A1", "A2", "A3"], "work_order_id": ["G1", "G2", "G9"]})
    truth = pl.DataFrame(
        {"app_report_id": ["A1", "A2", "A4", "A5"], "work_order_id": ["G1", "G2", "G4", "G5"]}
    )
    score = score_links(predicted, truth)
    assert (score.precision, score.recall) == (2 / 3, 2 / 4)

"""The views built from a small synthetic month run through every pipeline: linking against the
generator's ground truth, one event per real event, the stuck sensor, and publication."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

import polars as pl
import pytest
from dagster import DagsterInstance, materialize
from sqlalchemy import select

from datahub.lake import PublishedVersion
from datahub.metadata import Snapshot
from datahub.pipeline import process
from datahub.platform import Platform
from datahub.settings import Settings
from datahub.synth import SynthConfig, SynthResult, generate
from datahub.views import (
    VIEW_SCHEMAS,
    VIEWS,
    build_frames,
    build_views,
    linked_pairs,
    read_sources,
    score_links,
)
from pipelines.resources import PlatformResource
from pipelines.views import view_key, views_asset
from tests.synth_runs import land_synthetic

SOURCES = (
    "hotline_12345",
    "gov_app_reports",
    "citymgmt_cases",
    "police_110_transfers",
    "iot_sensor_readings",
)


@dataclass
class Run:
    platform: Platform
    synth: SynthResult
    manifests: dict[str, PublishedVersion]

    def view(self, name: str) -> pl.DataFrame:
        """The current snapshot of a view or a dataset."""
        frame = self.platform.lake.scan_current(name)
        assert frame is not None, name
        return frame.collect()

    published = view


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    home = tmp_path_factory.mktemp("views")
    platform = Platform(Settings(home=home / "var", demo_mode=True))
    config = SynthConfig(start=date(2026, 10, 1), days=7, rows_per_day=100, seed=11, defect_rate=0.02)
    names = [*SOURCES, "emergency_resources"]
    synth = generate(config, platform.dictionary, platform.catalog, home / "synth", datasets=names)
    land_synthetic(platform, synth)
    for name in names:  # the hotline first: the app's reference rule reads its published orders
        assert {s.status for s in process(platform, platform.catalog.get(name))} == {"published"}
    yield Run(platform, synth, build_views(platform))
    platform.metadata.dispose()


@pytest.fixture(scope="module")
def truth(run: Run) -> pl.DataFrame:
    links = pl.read_csv(
        run.synth.event_links, schema_overrides={"app_report_id": pl.String, "work_order_id": pl.String}
    )
    assert links.height >= 7 * 9, "the generator links about 28.6% of the app reports"
    return links


def test_linking_precision_and_recall(run: Run, truth: pl.DataFrame) -> None:
    score = score_links(linked_pairs(run.view("events_unified")), truth)
    assert score.true == truth.height
    assert score.precision >= 0.95, score
    assert score.recall >= 0.95, score


def test_one_event_per_linked_pair(run: Run, truth: pl.DataFrame) -> None:
    events = run.view("events_unified")
    records = events.select("event_id", "source_records").explode("source_records")
    of = dict(zip(records["source_records"], records["event_id"], strict=True))
    together = [
        of.get(f"hotline_12345:{h}") is not None
        and of.get(f"gov_app_reports:{a}") == of[f"hotline_12345:{h}"]
        for a, h in truth.select("app_report_id", "work_order_id").iter_rows()
    ]
    assert sum(together) >= 0.95 * truth.height
    pairs = events.filter(pl.col("source_count") == 2)
    assert pairs.height == linked_pairs(events).height
    assert (pairs["channel"] == "hotline_12345").all()  # the call is the primary record
    assert pairs["source_records"].list.first().str.starts_with("hotline_12345:").all()


def test_every_published_record_is_in_exactly_one_event(run: Run) -> None:
    events = run.view("events_unified")
    records = events.select("source_records").explode("source_records").to_series()
    assert records.is_unique().all()
    assert (events["source_count"] == events["source_records"].list.len()).all()
    assert events["event_id"].is_unique().all()
    keys = {
        "hotline_12345": "work_order_id",
        "gov_app_reports": "report_id",
        "citymgmt_cases": "case_id",
        "police_110_transfers": "incident_id",
    }
    expected = {f"{name}:{key}" for name, column in keys.items() for key in run.published(name)[column]}
    expected |= {f"sensor_alerts:{key}" for key in run.view("sensor_alerts")["alert_id"]}
    assert set(records) == expected
    linked = events.filter(pl.col("source_count") == 2).height
    assert events.height == len(expected) - linked


def test_dangling_references_are_not_linked(run: Run) -> None:
    truth = pl.read_csv(run.synth.ground_truth, schema_overrides={"key": pl.String})
    dangling = truth.filter(pl.col("defect") == "dangling_reference")["key"].to_list()
    assert dangling, "the generator planted dangling references"
    events = run.view("events_unified")
    reports = events.filter(pl.col("channel").is_in(["gov_app", "wechat"]))
    alone = set(reports["source_records"].list.first())
    published = set(run.published("gov_app_reports")["report_id"])
    for report in dangling:
        if report in published:
            assert f"gov_app_reports:{report}" in alone, report


def test_the_stuck_sensor_is_an_alert_and_an_event(run: Run) -> None:
    alerts = run.view("sensor_alerts")
    stuck = alerts.filter(pl.col("kind") == "stuck")
    assert stuck.height == 1
    alert = stuck.row(0, named=True)
    assert alert["value"] == 888.0 and alert["sensor_type"] == "pm25"
    truth = pl.read_csv(run.synth.ground_truth, schema_overrides={"key": pl.String})
    planted = truth.filter(pl.col("defect") == "stuck_sensor")["key"].str.split("|")
    times = planted.list.get(1).str.to_datetime("%Y-%m-%d %H:%M:%S")
    assert planted.list.get(0).unique().to_list() == [alert["sensor_id"]]
    assert (alert["start_time"], alert["end_time"]) == (times.min(), times.max())
    assert alert["readings"] == planted.len() == 7 * 96
    assert alert["duration_hours"] >= 24 * 6.9
    event = run.view("events_unified").filter(
        pl.col("source_records").list.contains(f"sensor_alerts:{alert['alert_id']}")
    )
    assert event.height == 1
    assert event.row(0, named=True)["channel"] == "iot_sensor"


def test_levels_departments_and_categories_are_filled(run: Run) -> None:
    events = run.view("events_unified")
    for column in (
        "category",
        "major_category",
        "response_level",
        "department",
        "district_code",
        "report_time",
    ):
        assert events[column].null_count() == 0, column
    assert set(events["response_level"]) <= {"red", "yellow", "blue"}
    police = run.published("police_110_transfers").select(
        pl.concat_str(pl.lit("EV-"), "incident_id").alias("event_id"), pl.col("severity")
    )
    joined = events.join(police, on="event_id")
    assert joined.height == police.height and (joined["response_level"] == joined["severity"]).all()


def test_views_are_published_and_readable(run: Run) -> None:
    sources = read_sources(run.platform)
    built = build_frames(sources, run.platform.dictionary)
    for name in VIEWS:
        manifest = run.platform.lake.current_version(name)
        assert manifest is not None and manifest.version == run.manifests[name].version
        frame = run.view(name)
        assert frame.schema == pl.Schema(VIEW_SCHEMAS[name]), name
        assert frame.height == manifest.rows == built[name].height, name
    assert run.view("events_unified").height > 0 and run.view("resources_available").height > 0
    with run.platform.metadata.session() as s:
        current = s.scalars(select(Snapshot).where(Snapshot.dataset.in_(VIEWS), Snapshot.is_current)).all()
        assert {c.dataset: c.version for c in current} == {
            name: run.manifests[name].version for name in VIEWS
        }


def test_building_again_from_the_same_sources_publishes_nothing(run: Run) -> None:
    again = build_views(run.platform)
    assert {name: m.version for name, m in again.items()} == {
        name: m.version for name, m in run.manifests.items()
    }
    with run.platform.metadata.session() as s:
        assert len(s.scalars(select(Snapshot).where(Snapshot.dataset.in_(VIEWS))).all()) == len(VIEWS)


def test_kpis_count_every_event(run: Run) -> None:
    kpis, events = run.view("event_kpis_daily"), run.view("events_unified")
    assert kpis["events"].sum() == events.height
    assert kpis["closed_events"].sum() == events["is_closed"].sum()
    assert kpis.select("date", "department", "district_code", "category").is_duplicated().sum() == 0


def test_resources_cover_the_stock(run: Run) -> None:
    stock, view = run.published("emergency_resources"), run.view("resources_available")
    assert view.height == stock.height
    assert view["quantity"].sum() == stock["quantity"].sum()
    assert view["resource_name"].null_count() == 0 and view["district_name"].null_count() == 0


def test_the_dagster_asset_materialises_the_views(run: Run) -> None:
    datasets = list(run.platform.catalog)
    resource = PlatformResource(home=str(run.platform.settings.var), demo_mode=True)
    result = materialize(
        [views_asset(datasets)], resources={"platform": resource}, instance=DagsterInstance.ephemeral()
    )
    assert result.success
    done = {m.asset_key: m.metadata for m in result.asset_materializations_for_node("views__build")}
    assert set(done) == {view_key(name) for name in VIEWS}
    for name in VIEWS:
        assert done[view_key(name)]["rows"].value == run.manifests[name].rows
        assert done[view_key(name)]["snapshot_version"].value == run.manifests[name].version


def test_views_of_an_empty_platform(platform: Platform) -> None:
    manifests = build_views(platform)
    assert set(manifests) == set(VIEWS)
    for name in VIEWS:
        assert manifests[name].rows == 0
        frame = platform.lake.scan_current(name)
        assert frame is not None and frame.collect().schema == pl.Schema(VIEW_SCHEMAS[name])

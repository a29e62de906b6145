"""The event-ready views as Dagster assets: one multi-asset building all four from the published datasets.

A thin call into :func:`datahub.views.build_views`; the views are built together because the unified
events include the sensor alerts and the KPIs are computed from the events.
"""

from collections.abc import Iterator

from dagster import AssetKey, AssetsDefinition, AssetSpec, MaterializeResult, MetadataValue, multi_asset

from datahub.contracts import Dataset
from datahub.views import VIEWS, build_views
from datahub.views.schemas import SOURCE_DATASETS
from pipelines.assets import stage_key
from pipelines.resources import PlatformResource

VIEWS_GROUP = "views"

DESCRIPTIONS = {
    "sensor_alerts": "Out-of-range and stuck sensor episodes from the published IoT readings.",
    "events_unified": "One row per real-world event across every channel, duplicates linked.",
    "event_kpis_daily": "Daily event KPIs per department, district and category.",
    "resources_available": "Emergency stock per district × resource type × warehouse.",
}


def view_key(name: str) -> AssetKey:
    return AssetKey([VIEWS_GROUP, name])


def views_asset(datasets: list[Dataset]) -> AssetsDefinition:
    """The four views, depending on the ``published`` asset of every source dataset in ``datasets``."""
    sources = [stage_key(d, "published") for d in datasets if d.name in SOURCE_DATASETS]
    specs = [
        AssetSpec(
            key=view_key(name),
            deps=sources,
            group_name=VIEWS_GROUP,
            description=DESCRIPTIONS[name],
            kinds={"iceberg", "polars"},
        )
        for name in VIEWS
    ]

    @multi_asset(specs=specs, name="views__build")
    def _views(platform: PlatformResource) -> Iterator[MaterializeResult]:
        versions = build_views(platform.platform)
        for name in VIEWS:
            version = versions[name]
            yield MaterializeResult(
                asset_key=view_key(name),
                metadata={
                    "rows": version.rows,
                    "snapshot_version": version.version,
                    "table": version.table,
                    "build": version.delivery_id or "",
                    "columns": MetadataValue.json(list(version.schema)),
                },
            )

    return _views

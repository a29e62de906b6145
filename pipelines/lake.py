"""Lake maintenance as a Dagster asset: a thin call into :func:`datahub.lake.maintenance.maintain_platform`
(expire snapshots beyond each contract's retention, remove orphan files, compact small files). The
schedule runs it every night; reads and deliveries go on meanwhile (docs/lake.md, "Maintenance")."""

from dagster import AssetExecutionContext, AssetKey, AssetsDefinition, Failure, MaterializeResult, asset

from datahub.lake.maintenance import maintain_platform
from pipelines.resources import PlatformResource

LAKE_GROUP = "lake"
MAINTENANCE_KEY = AssetKey([LAKE_GROUP, "maintenance"])


def lake_maintenance_asset() -> AssetsDefinition:
    @asset(
        key=MAINTENANCE_KEY,
        group_name=LAKE_GROUP,
        kinds={"iceberg"},
        description="Every lake table maintained: snapshots beyond the contract's retention expired, orphan "
        "files removed, small files compacted (数据湖维护).",
    )
    def _maintenance(context: AssetExecutionContext, platform: PlatformResource) -> MaterializeResult:
        report = maintain_platform(platform.platform)
        figures = report.to_dict()
        if report.failed:
            raise Failure(
                description=f"{len(report.failed)} table(s) could not be maintained; the others were",
                metadata={"failed": [t.namespace + "." + t.name for t in report.failed]},
            )
        return MaterializeResult(
            metadata={
                key: figures[key]
                for key in (
                    "snapshots_expired",
                    "orphan_files_removed",
                    "orphan_bytes_removed",
                    "files_before",
                    "files_after",
                )
            }
        )

    return _maintenance

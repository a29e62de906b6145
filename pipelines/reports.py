"""The monthly leadership report (月通报) as a monthly-partitioned Dagster asset.

A thin call into :func:`datahub.reports.render.write_report`: one partition per completed month (keys
``YYYY-MM`` from ``settings.reports_start``), written to ``var/reports/``; downstream of the event
views (and through them of every published dataset). The schedule runs it on the 2nd of each month for
the month before, when the month's last daily deliveries have arrived.
"""

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    MaterializeResult,
    MetadataValue,
    MonthlyPartitionsDefinition,
    asset,
)

from datahub.citytime import CITY_ZONE
from datahub.reports.figures import parse_month
from datahub.reports.render import write_report
from pipelines.resources import PlatformResource
from pipelines.views import view_key

REPORTS_GROUP = "reports"
REPORT_KEY = AssetKey([REPORTS_GROUP, "monthly_report"])


def monthly_partitions(start_month: str) -> MonthlyPartitionsDefinition:
    """Completed months from ``start_month`` (YYYY-MM), keyed ``YYYY-MM``, in China time."""
    start, _ = parse_month(start_month)
    return MonthlyPartitionsDefinition(
        start_date=start.strftime("%Y-%m"), fmt="%Y-%m", timezone=CITY_ZONE.key, end_offset=0
    )


def monthly_report_asset(start_month: str) -> AssetsDefinition:
    @asset(
        key=REPORT_KEY,
        partitions_def=monthly_partitions(start_month),
        deps=[view_key("events_unified")],
        group_name=REPORTS_GROUP,
        kinds={"pdf", "html"},
        description="The monthly data-quality report for leadership (城市数据质量月通报), PDF and HTML.",
    )
    def _monthly_report(context: AssetExecutionContext, platform: PlatformResource) -> MaterializeResult:
        files = write_report(platform.platform, context.partition_key)
        city = files.figures.city
        return MaterializeResult(
            metadata={
                "pdf": MetadataValue.path(str(files.pdf)),
                "html": MetadataValue.path(str(files.html)),
                "pass_rate": city.pass_rate,
                "score": city.score,
                "deliveries": city.deliveries,
                "seconds": MetadataValue.json(files.seconds),
            }
        )

    return _monthly_report

"""Wires the code location from the contract registry: every contract version in force becomes a
group of assets, a job and a landing sensor, and the `contract_registry` sensor reloads the location when
the registry changes; the event views (`views` group, `event_views` job, hourly schedule) are built from
the published datasets; the monthly report (`reports` group, `monthly_report` job, monthly schedule) is
drawn from all of it."""

from dagster import (
    AssetSelection,
    DefaultScheduleStatus,
    DefaultSensorStatus,
    Definitions,
    RunRequest,
    ScheduleDefinition,
    SensorDefinition,
    SensorEvaluationContext,
    SkipReason,
    build_schedule_from_partitioned_job,
    define_asset_job,
    sensor,
)

from datahub import pipeline
from datahub.citytime import CITY_ZONE
from datahub.contracts import Dataset
from datahub.platform import Platform
from datahub.settings import Settings
from pipelines.assets import STATUS_KEY, dataset_assets, status_asset
from pipelines.lake import LAKE_GROUP, lake_maintenance_asset
from pipelines.registry import registry_sensor
from pipelines.reports import REPORTS_GROUP, monthly_report_asset
from pipelines.resources import PlatformResource
from pipelines.views import VIEWS_GROUP, views_asset

DAILY_JOB = "governance_daily"
VIEWS_JOB = "event_views"
REPORT_JOB = "monthly_report"
LAKE_JOB = "lake_maintenance"


def dataset_job_name(dataset: Dataset) -> str:
    return f"{dataset.name}_pipeline"


def _landing_sensor(dataset: Dataset) -> SensorDefinition:
    @sensor(
        name=f"{dataset.name}_landing",
        job_name=dataset_job_name(dataset),
        minimum_interval_seconds=30,
        default_status=DefaultSensorStatus.RUNNING,
        description=f"Runs the {dataset.name} pipeline when new files arrive in its landing zone.",
    )
    def _sensor(context: SensorEvaluationContext, platform: PlatformResource) -> SkipReason | RunRequest:
        new_files = pipeline.unregistered_files(platform.platform, dataset)
        if not new_files:
            return SkipReason("no new files in the landing zone")
        key = "|".join(f"{p.name}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in new_files)
        return RunRequest(run_key=key, tags={"files": str(len(new_files))})

    return _sensor


def build_definitions(settings: Settings | None = None) -> Definitions:
    platform = Platform(settings)
    datasets = list(platform.catalog)  # the versions in force in the registry
    built = platform.registry.in_force_keys()
    assets = [a for d in datasets for a in dataset_assets(d)]
    assets.append(status_asset(datasets))
    assets.append(views_asset(datasets))
    assets.append(monthly_report_asset(platform.settings.reports_start))
    assets.append(lake_maintenance_asset())
    jobs = [define_asset_job(dataset_job_name(d), selection=AssetSelection.groups(d.name)) for d in datasets]
    jobs.append(define_asset_job(DAILY_JOB, selection=AssetSelection.assets(STATUS_KEY)))
    jobs.append(define_asset_job(VIEWS_JOB, selection=AssetSelection.groups(VIEWS_GROUP)))
    report_job = define_asset_job(REPORT_JOB, selection=AssetSelection.groups(REPORTS_GROUP))
    jobs.append(report_job)
    jobs.append(define_asset_job(LAKE_JOB, selection=AssetSelection.groups(LAKE_GROUP)))
    return Definitions(
        assets=assets,
        jobs=jobs,
        sensors=[*(_landing_sensor(d) for d in datasets), registry_sensor(built)],
        schedules=[
            ScheduleDefinition(
                name="governance_daily_schedule",
                job_name=DAILY_JOB,
                cron_schedule="30 1 * * *",
                execution_timezone=CITY_ZONE.key,
                default_status=DefaultScheduleStatus.RUNNING,
                description="Every night: the cross-dataset status of every dataset.",
            ),
            ScheduleDefinition(
                name="event_views_schedule",
                job_name=VIEWS_JOB,
                cron_schedule="5 * * * *",
                execution_timezone=CITY_ZONE.key,
                default_status=DefaultScheduleStatus.RUNNING,
                description="Every hour: the event-ready views from the current snapshots (a no-op when "
                "no dataset published a new version).",
            ),
            ScheduleDefinition(
                name="lake_maintenance_schedule",
                job_name=LAKE_JOB,
                cron_schedule="30 3 * * *",
                execution_timezone=CITY_ZONE.key,
                default_status=DefaultScheduleStatus.RUNNING,
                description="Every night: the lake's tables maintained (expiry by retention, orphan files, "
                "compaction).",
            ),
            build_schedule_from_partitioned_job(
                report_job,
                name="monthly_report_schedule",
                day_of_month=2,
                hour_of_day=6,
                default_status=DefaultScheduleStatus.RUNNING,
                description="On the 2nd of every month: the report of the month before (月通报).",
            ),
        ],
        resources={
            "platform": PlatformResource(
                home=str(platform.settings.var), demo_mode=platform.settings.demo_mode
            )
        },
    )


defs = build_definitions()

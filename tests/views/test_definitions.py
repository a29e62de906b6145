"""The views in the Dagster code location: assets downstream of every source's published asset, a job
and an hourly schedule."""

from __future__ import annotations

from dagster import AssetKey, DefaultScheduleStatus

from datahub.settings import Settings
from datahub.views import VIEWS
from datahub.views.schemas import SOURCE_DATASETS
from pipelines.definitions import VIEWS_JOB, build_definitions
from pipelines.views import view_key


def test_views_are_assets_with_a_job_and_a_schedule(settings: Settings) -> None:
    defs = build_definitions(settings)
    graph = defs.resolve_asset_graph()
    keys = set(graph.get_all_asset_keys())
    for name in VIEWS:
        assert view_key(name) in keys
        upstream = graph.get(view_key(name)).parent_keys
        assert upstream == {AssetKey([source, "published"]) for source in SOURCE_DATASETS}, name
    job = defs.resolve_job_def(VIEWS_JOB)
    assert {k.to_user_string() for k in job.asset_layer.executable_asset_keys} == {
        f"views/{n}" for n in VIEWS
    }
    schedule = defs.resolve_schedule_def("event_views_schedule")
    assert schedule.job_name == VIEWS_JOB
    assert schedule.default_status is DefaultScheduleStatus.RUNNING

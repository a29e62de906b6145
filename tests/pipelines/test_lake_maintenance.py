"""The nightly lake maintenance as a Dagster job (issue 18): the schedule exists, and its job compacts a
table of small files on the home's catalog, keeping every row."""

from __future__ import annotations

from dagster import DagsterInstance

from datahub.lake.tables import PUBLISHED, TableStore
from datahub.platform import Platform
from pipelines.definitions import LAKE_JOB, build_definitions
from tests.lake.test_maintenance import data_files, deliver, keys


def test_the_nightly_job_maintains_the_homes_tables(platform: Platform) -> None:
    hotline = platform.catalog.get("hotline_12345")
    store = TableStore.for_settings(platform.settings)
    try:
        deliver(store, hotline, 6)
        before = keys(store.scan(PUBLISHED, "hotline_12345"))
        assert len(data_files(store)) == 6
    finally:
        store.close()

    defs = build_definitions(platform.settings)
    schedule = defs.get_schedule_def("lake_maintenance_schedule")
    assert schedule.job_name == LAKE_JOB and schedule.cron_schedule == "30 3 * * *"
    with DagsterInstance.ephemeral() as instance:
        result = defs.resolve_job_def(LAKE_JOB).execute_in_process(instance=instance)
    assert result.success
    [materialized] = result.asset_materializations_for_node("lake__maintenance")
    figures = {k: v.value for k, v in materialized.metadata.items()}
    assert figures["files_before"] == 6 and figures["files_after"] == 1

    store = TableStore.for_settings(platform.settings)
    try:
        assert len(data_files(store)) == 1
        assert keys(store.scan(PUBLISHED, "hotline_12345")) == before
    finally:
        store.close()

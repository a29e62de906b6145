"""The Dagster code location: definitions load, and assets materialise against a temporary home."""

from __future__ import annotations

from pathlib import Path

from dagster import (
    DagsterInstance,
    DefaultScheduleStatus,
    DefaultSensorStatus,
    SkipReason,
    build_sensor_context,
    materialize,
)

from datahub.platform import Platform
from datahub.settings import Settings
from pipelines.assets import STATUS_KEY, dataset_assets, status_asset
from pipelines.definitions import build_definitions
from pipelines.resources import PlatformResource
from tests.hotline_rows import valid_row, write_hotline


def test_definitions_load_with_every_dataset(catalog) -> None:  # type: ignore[no-untyped-def]
    from pipelines.definitions import defs

    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    for dataset in catalog:
        for stage in ("raw", "conformed", "published"):
            assert f"{dataset.name}/{stage}" in keys
        assert defs.resolve_job_def(f"{dataset.name}_pipeline") is not None
        assert (
            defs.resolve_sensor_def(f"{dataset.name}_landing").default_status is DefaultSensorStatus.RUNNING
        )
    assert STATUS_KEY.to_user_string() in keys
    assert (
        defs.resolve_schedule_def("governance_daily_schedule").default_status is DefaultScheduleStatus.RUNNING
    )


def test_materialize_hotline_and_status_on_a_temporary_home(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "var", demo_mode=True)
    platform = Platform(settings)
    dataset = platform.catalog.get("hotline_12345")
    from datahub.pipeline import landing_dir

    rows = [valid_row(platform.dictionary, i) for i in range(30)]
    rows[4] = rows[4] | {"联系电话": "bad"}
    write_hotline(landing_dir(platform, dataset) / "hotline_day1.csv", rows, dataset)
    resource = PlatformResource(home=str(settings.var), demo_mode=True)
    result = materialize(
        [*dataset_assets(dataset), status_asset([dataset])],
        resources={"platform": resource},
        instance=DagsterInstance.ephemeral(),
    )
    assert result.success
    published = result.asset_materializations_for_node("hotline_12345__published")[0]
    assert published.metadata["rows_published"].value == 29
    assert published.metadata["rows_quarantined"].value == 1
    conformed = result.asset_materializations_for_node("hotline_12345__conformed")[0]
    assert conformed.metadata["rows_quarantined"].value == 1
    checks = {c.check_name: c.passed for c in result.get_asset_check_evaluations()}
    assert checks.pop("rows_reconciled") is True
    assert checks.pop("all_deliveries_reconciled") is True
    assert checks == {name: True for name in checks}  # the quality rules of a clean delivery
    assert {"handling_department_core", "street_completeness", "primary_key_unique"} <= set(checks)
    assert {"pii_leak", "k_anonymity"} <= set(checks)  # the published stage's own checks
    assert any((settings.lake_dir / "status").glob("*.json"))


def test_landing_sensor_requests_a_run_only_for_new_files(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "var", demo_mode=True)
    defs = build_definitions(settings)
    platform = Platform(settings)
    dataset = platform.catalog.get("hotline_12345")
    sensor = defs.resolve_sensor_def("hotline_12345_landing")
    resource = PlatformResource(home=str(settings.var), demo_mode=True)
    from datahub.pipeline import landing_dir, process

    with build_sensor_context(resources={"platform": resource}) as context:
        assert isinstance(sensor(context), SkipReason)

    write_hotline(landing_dir(platform, dataset) / "new.csv", [valid_row(platform.dictionary)], dataset)
    with build_sensor_context(resources={"platform": resource}) as context:
        request = sensor(context)
    assert request.run_key and "new.csv" in request.run_key
    process(platform, dataset)
    with build_sensor_context(resources={"platform": resource}) as context:
        assert isinstance(sensor(context), SkipReason)

"""Two real US 311 exports, onboarded as datasets of the external department with contract files only,
run through the whole pipeline (Dagster assets built from the contracts)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from dagster import DagsterInstance, materialize

from datahub.pipeline import land_file
from datahub.platform import Platform
from datahub.precheck import check_file
from datahub.settings import Settings
from pipelines.assets import dataset_assets
from pipelines.resources import PlatformResource
from tests.conftest import SHARED_DATA

SAMPLES = {
    "nyc311_requests": SHARED_DATA / "service_requests" / "nyc311" / "nyc311_2011_sample_2000.csv",
    "boston311_requests": SHARED_DATA / "service_requests" / "boston311" / "boston311-100.csv",
}


@pytest.mark.parametrize("dataset_name", SAMPLES)
def test_foreign_export_runs_end_to_end_from_its_contract(tmp_path: Path, dataset_name: str) -> None:
    settings = Settings(home=tmp_path / "var", demo_mode=True)
    platform = Platform(settings)
    dataset = platform.catalog.get(dataset_name)
    assert dataset.owner_department == "EX"
    source = SAMPLES[dataset_name]
    expected = check_file(source, dataset, platform.dictionary)
    land_file(platform, dataset, source)
    result = materialize(
        dataset_assets(dataset),
        resources={"platform": PlatformResource(home=str(settings.var), demo_mode=True)},
        instance=DagsterInstance.ephemeral(),
    )
    assert result.success
    checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
    assert checks["rows_reconciled"].passed
    assert checks["primary_key_unique"].passed  # every foreign contract gets the platform's rules too
    assert "columns_closed" in checks
    rows_in = pl.read_csv(source, infer_schema=False).height
    published = platform.lake.scan_current(dataset_name)
    assert published is not None
    frame = published.collect()
    assert frame.height == expected.rows_valid
    assert frame.height + expected.rows_invalid == rows_in
    contract_columns = [c.name for c in dataset.columns]
    assert frame.columns == [*contract_columns, "_source_file", "_row_number", "_ingested_at", "_file_hash"]
    timestamps = [c.name for c in dataset.columns if c.type.value == "timestamp"]
    assert all(frame.schema[t] == pl.Datetime("us") for t in timestamps)
    assert frame.get_column(timestamps[0]).null_count() == 0


def test_nyc_sample_quarantines_its_one_bad_zip(dictionary, catalog) -> None:  # type: ignore[no-untyped-def]
    result = check_file(SAMPLES["nyc311_requests"], catalog.get("nyc311_requests"), dictionary)
    assert (result.rows_read, result.rows_valid, result.rows_invalid) == (2000, 1999, 1)
    assert result.problems == [
        {"row": 1126, "column": "incident_zip", "reason": "invalid_format", "value": "N/A"}
    ]


def test_us_timestamps_with_am_pm_are_parsed(dictionary, catalog) -> None:  # type: ignore[no-untyped-def]
    from datahub.quality.conformity import conform

    dataset = catalog.get("nyc311_requests")
    raw = pl.read_csv(SAMPLES["nyc311_requests"], infer_schema=False, n_rows=1)
    row = conform(raw, dataset, dictionary).conformed.row(0, named=True)
    assert str(row["created_date"]) == "2011-03-01 14:27:57"

"""`datahub lake migrate` (issue 18): a home published in the earlier layout (Parquet parts, manifests,
CURRENT) becomes Iceberg tables with the same deliveries, rows and keys; migrating again changes nothing."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest
from pyiceberg.catalog.sql import SqlCatalog

from datahub import pipeline
from datahub.errors import InputError
from datahub.lake.migrate import migrate
from datahub.lake.tables import CATALOG_NAME, DELIVERY_ID, PUBLISHED, RESTRICTED, VIEWS, TableStore
from datahub.platform import Platform
from datahub.synth import generate_hotline_file
from datahub.views import build_views, view_contracts


@pytest.fixture
def published(platform: Platform, tmp_path: Path) -> Platform:
    """Two hotline deliveries and the views, published in the earlier layout."""
    for i, day in enumerate((date(2026, 10, 1), date(2026, 10, 2))):
        source = generate_hotline_file(
            tmp_path / f"h{i}.csv", 300, day, platform.dictionary, platform.catalog, seed=i + 1
        )
        summary = pipeline.ingest_file(platform, "hotline_12345", source)
        assert summary.status == "published" and summary.reconciled
    build_views(platform)
    return platform


def test_a_published_home_becomes_iceberg_tables_with_the_same_rows_and_keys(published: Platform) -> None:
    platform = published
    lake = platform.lake
    store = TableStore.for_settings(platform.settings)
    datasets = {d.name: d for d in platform.catalog}
    views = view_contracts(platform)
    try:
        done = {(m.namespace, m.name): m for m in migrate(lake, store, datasets, views)}
        hotline = done[(PUBLISHED, "hotline_12345")]
        manifest = lake.current_version("hotline_12345")
        assert manifest is not None and len(manifest.parts) == 2
        assert (hotline.deliveries, hotline.committed, hotline.rows) == (
            2,
            4,
            manifest.rows,
        )  # 2 + 2 restricted
        assert hotline.restricted_rows == manifest.rows
        history = store.snapshots(PUBLISHED, "hotline_12345")
        assert [s.delivery_id for s in history] == [Path(p).stem for p in manifest.parts]
        assert all(s.contract_version == "1.0.0" for s in history)
        assert store.current(RESTRICTED, "hotline_12345") is not None
        for name in views:
            view_manifest = lake.current_version(name)
            assert view_manifest is not None
            assert done[(VIEWS, name)].rows == view_manifest.rows
        # What is published equals what the table holds, key for key.
        keys = ["work_order_id"]
        before = pl.scan_parquet(lake.current_parts("hotline_12345")).select(keys).collect().sort(keys)
        after = pl.from_arrow(store.scan(PUBLISHED, "hotline_12345", columns=keys))
        assert isinstance(after, pl.DataFrame) and before.equals(after.sort(keys))

        again = migrate(lake, store, datasets, views)
        assert all(m.committed == 0 for m in again)
        assert len(store.snapshots(PUBLISHED, "hotline_12345")) == 2
    finally:
        store.close()

    # Read with pyiceberg alone, as another engine attached to the same catalog would.
    alone = SqlCatalog(CATALOG_NAME, uri=platform.settings.database_url, warehouse=store.warehouse)
    table = alone.load_table((PUBLISHED, "hotline_12345"))
    assert table.scan().to_arrow().num_rows == manifest.rows
    assert {s.summary[DELIVERY_ID] for s in table.snapshots() if s.summary} == {
        Path(p).stem for p in manifest.parts
    }


def test_a_published_dataset_without_a_contract_is_named(published: Platform) -> None:
    store = TableStore.for_settings(published.settings)
    try:
        with pytest.raises(InputError, match="no registered contract declares 'event_kpis_daily'"):
            migrate(published.lake, store, {}, {})
    finally:
        store.close()


def test_the_migrate_command_prints_every_table_checked(
    published: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    from typer.testing import CliRunner

    from datahub.cli import app

    monkeypatch.setenv("DATAHUB_HOME", str(published.settings.var))
    monkeypatch.setenv("DATAHUB_DEMO_MODE", "true")
    first = CliRunner().invoke(app, ["lake", "migrate", "--json"])
    assert first.exit_code == 0, first.output
    rows = {(m["namespace"], m["name"]): m for m in json.loads(first.stdout)}
    manifest = published.lake.current_version("hotline_12345")
    assert manifest is not None and rows[(PUBLISHED, "hotline_12345")]["rows"] == manifest.rows
    again = CliRunner().invoke(app, ["lake", "migrate"])
    assert again.exit_code == 0 and "rows and keys equal the published parts" in again.output
    assert "published.hotline_12345" in again.output

"""`datahub lake migrate` (issue 18): a home published in the earlier layout (Parquet parts, manifests,
CURRENT) becomes Iceberg tables with the same deliveries, rows and keys; migrating again changes nothing."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import polars as pl
import pytest
from pyiceberg.catalog.sql import SqlCatalog

from datahub.contracts import Dataset
from datahub.errors import InputError
from datahub.lake.migrate import migrate
from datahub.lake.tables import CATALOG_NAME, DELIVERY_ID, PUBLISHED, RESTRICTED, VIEWS, TableStore
from datahub.platform import Platform
from datahub.views import view_contracts
from tests.lake.test_tables import published as published_rows
from tests.lake.test_tables import restricted as restricted_rows

DELIVERIES = ("d1aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "d2bbbbbbbbbbbbbbbbbbbbbbbbbbbbbb")


@dataclass
class _OldManifest:
    """A version as the earlier layout wrote it (``published/<name>/versions/<version>.json``)."""

    dataset: str
    version: str
    created_at: str
    contract_version: str
    parts: list[str]
    rows: int
    delivery_id: str | None
    schema: dict[str, str]
    restricted_parts: list[str] = field(default_factory=list)


def write_earlier_layout(
    root: Path,
    dataset: Dataset,
    deliveries: list[tuple[str, pl.DataFrame, pl.DataFrame | None]],
    *,
    append: bool,
) -> list[pl.DataFrame]:
    """Publish ``deliveries`` (id, rows, restricted rows) the way the earlier lake did: a Parquet part each,
    a manifest per version naming its parts, ``CURRENT`` naming the last; the frames of the current one."""
    base, secret = root / "published" / dataset.name, root / "restricted" / dataset.name
    parts: list[str] = []
    restricted: list[str] = []
    frames: list[pl.DataFrame] = []
    for i, (delivery_id, frame, raw) in enumerate(deliveries):
        part = f"parts/{delivery_id}.parquet"
        (base / "parts").mkdir(parents=True, exist_ok=True)
        frame.write_parquet(base / part)
        parts, frames = ([*parts, part], [*frames, frame]) if append else ([part], [frame])
        if raw is not None:
            (secret / "parts").mkdir(parents=True, exist_ok=True)
            raw.write_parquet(secret / part)
            restricted = [*restricted, part] if append else [part]
        version = f"20261001T00000{i}000000Z-{delivery_id[:8]}"
        manifest = _OldManifest(
            dataset=dataset.name,
            version=version,
            created_at=f"2026-10-01T00:00:0{i}+00:00",
            contract_version=dataset.version,
            parts=parts,
            rows=sum(f.height for f in frames),
            delivery_id=delivery_id,
            schema={n: str(t) for n, t in frame.schema.items()},
            restricted_parts=restricted,
        )
        (base / "versions").mkdir(parents=True, exist_ok=True)
        (base / "versions" / f"{version}.json").write_text(json.dumps(asdict(manifest)), encoding="utf-8")
        (base / "CURRENT").write_text(version, encoding="utf-8")
    return frames


@pytest.fixture
def earlier(platform: Platform) -> Platform:
    """A home published in the earlier layout: two hotline deliveries (with restricted values) and
    every view (one build each)."""
    hotline = platform.catalog.get("hotline_12345")
    deliveries = [
        (DELIVERIES[0], published_rows(hotline, range(0, 300)), restricted_rows(hotline, range(0, 300))),
        (DELIVERIES[1], published_rows(hotline, range(300, 600)), restricted_rows(hotline, range(300, 600))),
    ]
    write_earlier_layout(platform.lake.root, hotline, deliveries, append=True)
    for view in view_contracts(platform).values():
        write_earlier_layout(
            platform.lake.root, view, [("b" * 16, published_rows(view, range(0, 40)), None)], append=False
        )
    return platform


def test_a_published_home_becomes_iceberg_tables_with_the_same_rows_and_keys(earlier: Platform) -> None:
    platform = earlier
    root = platform.lake.root
    store = TableStore.for_settings(platform.settings)
    datasets = {d.name: d for d in platform.catalog}
    views = view_contracts(platform)
    try:
        done = {(m.namespace, m.name): m for m in migrate(root, store, datasets, views)}
        hotline = done[(PUBLISHED, "hotline_12345")]
        assert (hotline.deliveries, hotline.committed, hotline.rows) == (2, 4, 600)  # 2 + 2 restricted
        assert hotline.restricted_rows == 600
        history = store.snapshots(PUBLISHED, "hotline_12345")
        assert [s.delivery_id for s in history] == list(DELIVERIES)
        assert [s.delivery_rows for s in history] == [300, 300]
        assert all(s.contract_version == "1.0.0" for s in history)
        assert store.current(RESTRICTED, "hotline_12345") is not None
        for name in views:
            assert done[(VIEWS, name)].rows == 40
        # What was published equals what the table holds, key for key.
        keys = ["work_order_id"]
        before = pl.scan_parquet(sorted((root / "published" / "hotline_12345" / "parts").glob("*.parquet")))
        after = pl.from_arrow(store.scan(PUBLISHED, "hotline_12345", columns=keys))
        assert isinstance(after, pl.DataFrame)
        assert before.select(keys).collect().sort(keys).equals(after.sort(keys))

        again = migrate(root, store, datasets, views)
        assert all(m.committed == 0 for m in again)
        assert len(store.snapshots(PUBLISHED, "hotline_12345")) == 2
    finally:
        store.close()

    # Read with pyiceberg alone, as another engine attached to the same catalog would.
    alone = SqlCatalog(CATALOG_NAME, uri=platform.settings.database_url, warehouse=store.warehouse)
    table = alone.load_table((PUBLISHED, "hotline_12345"))
    assert table.scan().to_arrow().num_rows == 600
    assert {s.summary[DELIVERY_ID] for s in table.snapshots() if s.summary} == set(DELIVERIES)


def test_a_changed_row_count_fails_the_migration_naming_the_table(earlier: Platform) -> None:
    root = earlier.lake.root
    manifest_dir = root / "published" / "hotline_12345" / "versions"
    last = sorted(manifest_dir.glob("*.json"))[-1]
    body = json.loads(last.read_text(encoding="utf-8"))
    body["rows"] += 1  # the manifest says one more row than its parts hold
    last.write_text(json.dumps(body), encoding="utf-8")
    store = TableStore.for_settings(earlier.settings)
    try:
        with pytest.raises(
            InputError, match=r"published\.hotline_12345 holds 600 rows after migration, its manifest 601"
        ):
            migrate(root, store, {d.name: d for d in earlier.catalog}, view_contracts(earlier))
    finally:
        store.close()


def test_a_published_dataset_without_a_contract_is_named(earlier: Platform) -> None:
    store = TableStore.for_settings(earlier.settings)
    try:
        with pytest.raises(InputError, match="no registered contract declares 'event_kpis_daily'"):
            migrate(earlier.lake.root, store, {}, {})
    finally:
        store.close()


def test_the_migrate_command_prints_every_table_checked_and_serves_the_migrated_versions(
    earlier: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from datahub.cli import app

    monkeypatch.setenv("DATAHUB_HOME", str(earlier.settings.var))
    monkeypatch.setenv("DATAHUB_DEMO_MODE", "true")
    first = CliRunner().invoke(app, ["lake", "migrate", "--json"])
    assert first.exit_code == 0, first.output
    rows = {(m["namespace"], m["name"]): m for m in json.loads(first.stdout)}
    assert rows[(PUBLISHED, "hotline_12345")]["rows"] == 600
    # The migrated tables are what the platform serves now: status names their snapshots.
    from datahub.status import dataset_status

    current = earlier.lake.current_version("hotline_12345")
    assert current is not None and current.rows == 600 and current.delivery_id == DELIVERIES[1]
    shown = {s.dataset: s for s in dataset_status(earlier)}["hotline_12345"]
    assert (shown.current_version, shown.rows_current) == (current.version, 600)
    again = CliRunner().invoke(app, ["lake", "migrate"])
    assert again.exit_code == 0 and "rows and keys equal the published parts" in again.output
    assert "published.hotline_12345" in again.output

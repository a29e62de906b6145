"""A platform home for the fault-injection tests, hotline deliveries, and the invariants that must
hold once a rerun has converged after any crash."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import polars as pl
from sqlalchemy import select

from datahub.audit.log import open_audit_log
from datahub.metadata import Delivery, DeliveryStatus, Snapshot
from datahub.platform import Platform
from datahub.settings import Settings
from tests.hotline_rows import valid_row, write_hotline

DATASET = "hotline_12345"


def home_settings(home: Path) -> Settings:
    return Settings(home=home, demo_mode=True)


def hotline_file(platform: Platform, path: Path, first: int, n: int) -> Path:
    """A delivery of ``n`` valid rows with work-order numbers ``first`` … ``first + n - 1``."""
    dataset = platform.catalog.get(DATASET)
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_hotline(path, [valid_row(platform.dictionary, i) for i in range(first, first + n)], dataset)


def cli_env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DATAHUB_")}
    return env | {"DATAHUB_HOME": str(home), "DATAHUB_DEMO_MODE": "1"} | extra


def run_cli(
    home: Path, *args: str, crash_at: str | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """``datahub ARGS`` in a process of its own; with ``crash_at`` it kills itself (SIGKILL) there."""
    extra = {"DATAHUB_CRASH_AT": crash_at} if crash_at else {}
    return subprocess.run(
        [sys.executable, "-m", "datahub.cli", *args],
        env=cli_env(home, **extra),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def leftovers(platform: Platform) -> list[Path]:
    """Temporary files under the lake and the landing zone."""
    roots = (platform.settings.lake_dir, platform.settings.landing_dir)
    return [
        p
        for root in roots
        if root.is_dir()
        for p in root.rglob(".*")
        if p.is_file() and p.name.endswith((".tmp", ".part"))
    ]


def assert_converged(platform: Platform, *, dataset: str = DATASET) -> pl.DataFrame:
    """Every delivery finished and reconciled; the current version reads whole, each delivery
    committed once; metadata and lake agree; keys unique; the audit chain verifies. Returns
    the published rows."""
    lake = platform.lake
    with platform.metadata.session() as s:
        deliveries = list(s.scalars(select(Delivery).where(Delivery.dataset == dataset)))
        current = s.scalars(select(Snapshot).where(Snapshot.dataset == dataset, Snapshot.is_current)).all()
    unfinished = [
        (d.source_file, d.status, d.error) for d in deliveries if d.status not in DeliveryStatus.FINAL
    ]
    assert not unfinished, unfinished
    for d in deliveries:
        if d.status == DeliveryStatus.duplicate:
            continue
        assert d.reconciled is True, (d.source_file, d.status)
        assert d.rows_in == (d.rows_published or 0) + (d.rows_quarantined or 0), d.source_file
        if d.status != DeliveryStatus.rejected:
            quarantined = pl.read_parquet(lake.layer_path("quarantine", dataset, d.id)).height
            assert quarantined == d.rows_quarantined, (d.source_file, quarantined, d.rows_quarantined)
    manifest = lake.current_version(dataset)
    published = {d.id: d for d in deliveries if d.status == DeliveryStatus.published}
    if manifest is None:
        assert not published and not current
        return pl.DataFrame()
    assert [snap.version for snap in current] == [manifest.version]
    rows = pl.from_arrow(lake.rows(manifest).to_table())  # every data file whole and readable
    assert isinstance(rows, pl.DataFrame)
    assert rows.height == manifest.rows
    snapshots = lake.tables.snapshots(manifest.namespace, dataset)
    committed = [snap.delivery_id for snap in snapshots]
    assert len(committed) == len(set(committed)), committed  # each delivery committed once
    assert set(committed) == set(published), (committed, set(published))
    assert sum(d.rows_published or 0 for d in published.values()) == manifest.rows
    key = platform.catalog.get(dataset).key_columns
    assert rows.select(key).is_duplicated().sum() == 0
    assert leftovers(platform) == []
    verification = open_audit_log(platform).verify()
    assert verification.ok, verification.message
    return rows

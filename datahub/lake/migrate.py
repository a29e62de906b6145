"""`datahub lake migrate`: a home's published snapshots in the earlier layout (Parquet parts, JSON
manifests and a ``CURRENT`` pointer under ``lake/published/``, raw personal values under
``lake/restricted/``) become Iceberg tables (``datahub.lake.tables``).

Each part of a dataset's current manifest is one delivery: it becomes one snapshot, in the manifest's
order, carrying the delivery id and the contract version its own manifest recorded (an append; the
single part of a dataset published by replacement, an overwrite). Restricted parts go to the
``restricted`` namespace, views to ``views``. Migrating again commits nothing twice (the store finds each
delivery in its snapshot summaries). Every table is then checked against its manifest: the same number of
rows and the same set of keys, or the migration fails naming the table. :func:`migrate_platform` then
records each table's current snapshot as the dataset's current version in the metadata database.

This module is the only reader of the earlier layout left; its files may be deleted once migrated.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl
from sqlalchemy import update

from datahub.contracts.model import Dataset, PublishMode
from datahub.errors import InputError, NotFound
from datahub.lake.tables import PUBLISHED, RESTRICTED, VIEWS, TableStore

if TYPE_CHECKING:
    from datahub.platform import Platform


@dataclass(frozen=True)
class _Manifest:
    """A version in the earlier layout: ``published/<name>/versions/<version>.json``."""

    version: str
    contract_version: str
    parts: list[str]
    rows: int
    delivery_id: str | None = None
    restricted_parts: list[str] = field(default_factory=list)

    @classmethod
    def current(cls, directory: Path) -> _Manifest | None:
        """The version ``CURRENT`` names in a dataset's directory, None without one."""
        pointer = directory / "CURRENT"
        if not pointer.is_file():
            return None
        version = pointer.read_text(encoding="utf-8").strip()
        data = json.loads((directory / "versions" / f"{version}.json").read_text(encoding="utf-8"))
        known = {"version", "contract_version", "parts", "rows", "delivery_id", "restricted_parts"}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass(frozen=True)
class Migrated:
    """One table as migrated: the deliveries (snapshots) it holds and its rows, as checked."""

    namespace: str
    name: str
    deliveries: int
    committed: int  # snapshots this run committed (0 when it was migrated before)
    rows: int
    restricted_rows: int | None


def _delivery_versions(directory: Path) -> dict[str, str]:
    """The contract version each delivery was published under, from every manifest of the dataset."""
    versions: dict[str, str] = {}
    for path in sorted((directory / "versions").glob("*.json")):
        manifest = json.loads(path.read_text(encoding="utf-8"))
        if manifest.get("delivery_id"):
            versions[str(manifest["delivery_id"])] = str(manifest["contract_version"])
    return versions


def _commit_parts(
    store: TableStore,
    namespace: str,
    dataset: Dataset,
    base: Path,
    parts: list[str],
    manifest: _Manifest,
    versions: Mapping[str, str],
) -> int:
    replace = dataset.delivery.publish_mode is PublishMode.replace
    committed = 0
    for part in parts:
        delivery_id = Path(part).stem
        if _committed(store, namespace, dataset.name, delivery_id):
            continue
        store.commit(
            namespace,
            dataset,
            delivery_id,
            pl.read_parquet(base / part),
            replace=replace,
            contract_version=versions.get(delivery_id, manifest.contract_version),
        )
        committed += 1
    return committed


def _committed(store: TableStore, namespace: str, name: str, delivery_id: str) -> bool:
    try:
        return store.snapshot_of(namespace, name, delivery_id) is not None
    except NotFound:  # no table yet
        return False


def _check(store: TableStore, namespace: str, dataset: Dataset, files: list[Path], expected_rows: int) -> int:
    """The table's rows and keys equal those of the parts, or an error naming the table."""
    keys = list(dataset.key_columns)
    table = pl.from_arrow(store.scan(namespace, dataset.name, columns=keys or None))
    assert isinstance(table, pl.DataFrame)
    if table.height != expected_rows:
        raise InputError(
            f"{namespace}.{dataset.name} holds {table.height:,} rows after migration, its manifest "
            f"{expected_rows:,}",
            file=str(files[0].parent.parent) if files else None,
        )
    if keys:
        before = pl.scan_parquet(files).select(keys).collect().sort(keys)
        if not before.equals(table.select(keys).sort(keys)):
            raise InputError(f"{namespace}.{dataset.name}: the keys differ from the migrated parts")
    return table.height


def migrate(
    root: Path, store: TableStore, datasets: Mapping[str, Dataset], views: Mapping[str, Dataset]
) -> list[Migrated]:
    """Every published dataset and view in the earlier layout under ``root`` (a home's lake directory)
    into ``store``; checked, in name order."""
    done = []
    for directory in sorted(p for p in (root / "published").glob("*") if p.is_dir()):
        name = directory.name
        manifest = _Manifest.current(directory)
        if manifest is None or not manifest.parts:
            continue
        dataset = views.get(name) or datasets.get(name)
        if dataset is None:
            raise InputError(
                f"no registered contract declares '{name}': register it, then migrate again",
                file=str(directory),
            )
        namespace = VIEWS if name in views else PUBLISHED
        versions = _delivery_versions(directory)
        committed = _commit_parts(store, namespace, dataset, directory, manifest.parts, manifest, versions)
        rows = _check(store, namespace, dataset, [directory / p for p in manifest.parts], manifest.rows)
        restricted_rows = None
        if manifest.restricted_parts:
            secret = root / "restricted" / name
            committed += _commit_parts(
                store, RESTRICTED, dataset, secret, manifest.restricted_parts, manifest, versions
            )
            files = [secret / p for p in manifest.restricted_parts]
            restricted_rows = _check(
                store, RESTRICTED, dataset, files, pl.scan_parquet(files).select(pl.len()).collect().item()
            )
        deliveries = len(store.snapshots(namespace, name))
        done.append(Migrated(namespace, name, deliveries, committed, rows, restricted_rows))
    return done


def migrate_platform(platform: Platform) -> list[Migrated]:
    """:func:`migrate` the platform's lake into its tables, then make each table's current snapshot the
    current version of its dataset or view in the metadata database (what the API and status show)."""
    from datahub.metadata import Snapshot
    from datahub.views import view_contracts

    lake = platform.lake
    done = migrate(lake.root, lake.tables, {d.name: d for d in platform.catalog}, view_contracts(platform))
    with platform.metadata.session() as s:
        for m in done:
            version = lake.current_version(m.name)
            if version is None:
                continue
            s.execute(update(Snapshot).where(Snapshot.dataset == m.name).values(is_current=False))
            Snapshot.record(s, version, None).is_current = True
    return done

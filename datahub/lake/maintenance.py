"""Maintenance of the lake's Iceberg tables: expire old snapshots, remove orphan files, compact small files.

For each table, in this order:

1. **Expire snapshots** beyond the retention of the dataset's contract (its SLA ``retention``). A snapshot
   is expired once it stopped being current (its successor was committed) more than ``retention`` ago:
   every moment within the retention still reads as it was (``as_of``). The current snapshot, tags and
   branches and the newest ``min_snapshots`` are always kept; a table whose contract declares no
   retention keeps its whole history. pyiceberg's ``ExpireSnapshots`` makes the commit.
2. **Remove orphan files**: files under the table's location that neither the metadata nor any live
   snapshot references (data files of expired snapshots, files of commits that lost a race), if older
   than ``orphan_older_than`` so that the files of a commit in flight are never touched. Files are listed
   and removed through the table's pyarrow filesystem: the same on ``file://`` and ``s3://``.
3. **Compact small files**: the files below the target size, per partition, are rewritten into as few
   files as their bytes need (sorted by the table's sort order), when that makes fewer files and at least
   ``min_small_files`` are small. One commit replaces exactly those files with the same rows: an
   ``overwrite`` (pyiceberg 0.12 cannot write a ``replace`` snapshot) whose summary says
   ``datahub.maintenance: compaction``. A delivery committed meanwhile makes the commit fail on its stale
   base: the compaction is planned again on the new one, so no row is lost or written twice.

Step 3 runs last: the files it replaces stay for time travel until their snapshot expires in a later run.
Reads stay correct throughout: a reader of the current snapshot or of a kept one never sees a file go.
"""

from __future__ import annotations

import itertools
import math
import random
import time
import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping
from contextlib import suppress
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import TYPE_CHECKING, Any

import pyarrow as pa
from pyarrow import fs
from pyiceberg.exceptions import CommitFailedException
from pyiceberg.expressions import AlwaysTrue
from pyiceberg.io.pyarrow import ArrowScan, PyArrowFileIO, _dataframe_to_data_files
from pyiceberg.manifest import DataFile
from pyiceberg.table import FileScanTask, Table, TableProperties
from pyiceberg.table.metadata import TableMetadata
from pyiceberg.table.sorting import NullOrder, SortDirection
from pyiceberg.transforms import IdentityTransform

from datahub.contracts.model import Dataset
from datahub.contracts.sla import sla_duration
from datahub.errors import Conflict, InputError, StorageUnavailable
from datahub.lake.tables import (
    COMMIT_ATTEMPTS,
    PUBLISHED,
    RESTRICTED,
    RETRY_WAIT,
    VIEWS,
    TableStore,
    commit_files,
)

if TYPE_CHECKING:
    from datahub.platform import Platform

MAINTENANCE = "datahub.maintenance"
"""Snapshot summary property of a snapshot maintenance made (``compaction``), not a delivery."""

TARGET_FILE_MB = 128
MIN_SMALL_FILES = 4
ORPHAN_OLDER_THAN = timedelta(hours=1)

_MB = 1024 * 1024
_WRITE_ONE_FILE = str(1 << 62)  # a target size no slice reaches: each slice is written as one file


@dataclass(frozen=True)
class TableMaintenance:
    """What maintenance did to one table (or would do, in a dry run)."""

    namespace: str
    name: str
    retention: timedelta | None  # None: the contract declares none, every snapshot is kept
    snapshots_before: int
    snapshots_expired: int
    orphan_files_removed: int
    orphan_bytes_removed: int
    files_before: int  # data files of the current snapshot before compaction
    files_after: int
    compaction_snapshot: int | None  # the snapshot compaction committed
    error: str | None = None  # why the table could not be maintained (the others were)

    @property
    def table(self) -> str:
        return f"{self.namespace}.{self.name}"

    def to_dict(self) -> dict[str, Any]:
        found = asdict(self)
        found["retention_days"] = self.retention / timedelta(days=1) if self.retention is not None else None
        del found["retention"]
        return {"table": self.table, **found}


@dataclass(frozen=True)
class MaintenanceReport:
    tables: tuple[TableMaintenance, ...]
    dry_run: bool

    @property
    def failed(self) -> list[TableMaintenance]:
        return [t for t in self.tables if t.error is not None]

    def to_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "snapshots_expired": sum(t.snapshots_expired for t in self.tables),
            "orphan_files_removed": sum(t.orphan_files_removed for t in self.tables),
            "orphan_bytes_removed": sum(t.orphan_bytes_removed for t in self.tables),
            "files_before": sum(t.files_before for t in self.tables),
            "files_after": sum(t.files_after for t in self.tables),
            "tables": [t.to_dict() for t in self.tables],
        }


@dataclass(frozen=True)
class Compaction:
    files_before: int
    files_after: int
    snapshot_id: int | None  # None when nothing was worth compacting (or in a dry run)


# ---------------------------------------------------------------------- retention


def retention_of(dataset: Dataset) -> timedelta | None:
    """The SLA ``retention`` of the dataset's contract (None when it declares none). The loader has
    refused a retention that is not a duration."""
    for sla in dataset.contract.slaProperties or []:
        if sla.property == "retention":
            return sla_duration(sla.value, sla.unit)
    return None


def platform_retention(platform: Platform) -> dict[tuple[str, str], timedelta | None]:
    """The retention of every table the platform's contracts describe: a dataset's published and
    restricted tables, and each view's table."""
    from datahub.views import view_contracts

    found: dict[tuple[str, str], timedelta | None] = {}
    for dataset in platform.catalog:
        found[(PUBLISHED, dataset.name)] = found[(RESTRICTED, dataset.name)] = retention_of(dataset)
    for name, view in view_contracts(platform).items():
        found[(VIEWS, name)] = retention_of(view)
    return found


# ---------------------------------------------------------------------- the run


def maintain(
    store: TableStore,
    retention: Mapping[tuple[str, str], timedelta | None],
    *,
    now: datetime | None = None,
    min_snapshots: int = 1,
    orphan_older_than: timedelta = ORPHAN_OLDER_THAN,
    target_file_mb: float = TARGET_FILE_MB,
    min_small_files: int = MIN_SMALL_FILES,
    dry_run: bool = False,
) -> MaintenanceReport:
    """Maintain every table of the store: expire snapshots beyond ``retention[(namespace, name)]`` (a
    table not in it keeps its history), remove orphan files older than ``orphan_older_than``, compact
    files below ``target_file_mb``. ``dry_run``: count what would be done, change nothing. A table that
    kept changing under maintenance is reported with its error (the others are still maintained);
    object storage that fails is StorageUnavailable."""
    if min_snapshots < 1:
        raise InputError(f"min_snapshots must be at least 1 (the current snapshot), not {min_snapshots}")
    if min_small_files < 2:
        raise InputError(f"min_small_files must be at least 2, not {min_small_files}")
    if target_file_mb <= 0:
        raise InputError(f"target_file_mb must be positive, not {target_file_mb}")
    moment = datetime.now(UTC) if now is None else now if now.tzinfo else now.replace(tzinfo=UTC)
    done = []
    for namespace, name in store.tables():
        keep_for = retention.get((namespace, name))
        snapshots, removed_bytes, compaction, error = 0, 0, Compaction(0, 0, None), None
        expired: list[int] = []
        removed: list[str] = []
        try:
            table = store.table(namespace, name)
            snapshots = len(table.metadata.snapshots)
            expired = expire_snapshots(
                table, keep_for, now=moment, min_snapshots=min_snapshots, dry_run=dry_run
            )
            removed, removed_bytes = remove_orphan_files(
                table, older_than=moment - orphan_older_than, dry_run=dry_run
            )
            compaction = compact(
                table,
                target_bytes=int(target_file_mb * _MB),
                min_small_files=min_small_files,
                dry_run=dry_run,
            )
        except Conflict as exc:  # the steps before it stand
            error = str(exc)
        except OSError as exc:
            if isinstance(exc, FileNotFoundError) or _on_local_disk(store.warehouse):
                raise  # a full disk and the like, reported as such by the caller
            raise StorageUnavailable(
                f"cannot maintain {namespace}.{name} on {store.warehouse}: {exc}"
            ) from None
        done.append(
            TableMaintenance(
                namespace,
                name,
                keep_for,
                snapshots_before=snapshots,
                snapshots_expired=len(expired),
                orphan_files_removed=len(removed),
                orphan_bytes_removed=removed_bytes,
                files_before=compaction.files_before,
                files_after=compaction.files_after,
                compaction_snapshot=compaction.snapshot_id,
                error=error,
            )
        )
    return MaintenanceReport(tuple(done), dry_run)


def maintain_platform(platform: Platform, *, dry_run: bool = False) -> MaintenanceReport:
    """Maintain the platform's lake with each table's retention from its contract (what the schedule and
    ``datahub lake maintain`` run)."""
    store = TableStore.for_settings(platform.settings)
    try:
        return maintain(store, platform_retention(platform), dry_run=dry_run)
    finally:
        store.close()


# ---------------------------------------------------------------------- expiry


def expirable(
    metadata: TableMetadata, retention: timedelta | None, *, now: datetime, min_snapshots: int = 1
) -> list[int]:
    """The snapshots beyond ``retention`` at ``now``: those that stopped being current (a snapshot never
    current: that was committed) at or before ``now - retention``, except the current one, those a
    branch or tag holds and the newest ``min_snapshots``."""
    if retention is None:
        return []
    cutoff_ms = int((now - retention).timestamp() * 1000)
    superseded = {entry.snapshot_id: after.timestamp_ms for entry, after in pairwise(metadata.snapshot_log)}
    newest = sorted(metadata.snapshots, key=lambda s: s.timestamp_ms, reverse=True)[:min_snapshots]
    kept = {s.snapshot_id for s in newest} | {ref.snapshot_id for ref in metadata.refs.values()}
    if metadata.current_snapshot_id is not None:
        kept.add(metadata.current_snapshot_id)
    return [
        s.snapshot_id
        for s in metadata.snapshots
        if s.snapshot_id not in kept and superseded.get(s.snapshot_id, s.timestamp_ms) <= cutoff_ms
    ]


def expire_snapshots(
    table: Table,
    retention: timedelta | None,
    *,
    now: datetime,
    min_snapshots: int = 1,
    dry_run: bool = False,
) -> list[int]:
    """Expire the table's snapshots beyond ``retention`` (see :func:`expirable`) in one commit; the ids
    expired (or that would be). The commit applies to the table as the catalog holds it then, so a
    delivery committed meanwhile stays; a commit that loses the race is tried again."""
    for attempt in range(COMMIT_ATTEMPTS):
        expired = expirable(table.metadata, retention, now=now, min_snapshots=min_snapshots)
        if not expired or dry_run:
            return expired
        try:
            table.maintenance.expire_snapshots().by_ids(expired).commit()
        except CommitFailedException:
            _wait(attempt)
            table.refresh()
            continue
        table.refresh()
        return expired
    raise Conflict(f"{'.'.join(table.name())} kept changing: its snapshots were not expired; run it again")


# ---------------------------------------------------------------------- orphan files


def referenced_files(table: Table) -> set[str]:
    """Every file the table's metadata references, as filesystem paths: the metadata files it lists,
    statistics, and each live snapshot's manifest list, manifests and data and delete files."""
    metadata = table.metadata
    locations = {table.metadata_location, *(entry.metadata_file for entry in metadata.metadata_log)}
    locations |= {s.statistics_path for s in [*metadata.statistics, *metadata.partition_statistics]}
    manifests: set[str] = set()
    for snapshot in metadata.snapshots:
        locations.add(snapshot.manifest_list)
        for manifest in snapshot.manifests(table.io):
            if manifest.manifest_path not in manifests:  # snapshots share most of their manifests
                manifests.add(manifest.manifest_path)
                for entry in manifest.fetch_manifest_entry(table.io, discard_deleted=True):
                    locations.add(entry.data_file.file_path)
    return {_path(location) for location in locations | manifests}


def remove_orphan_files(
    table: Table, *, older_than: datetime, dry_run: bool = False
) -> tuple[list[str], int]:
    """Remove the files under the table's location that it does not reference (:func:`referenced_files`)
    and that were last modified before ``older_than``; the files removed (or that would be) and their
    bytes. Files younger than that (a commit in flight) and files of unknown age are left alone."""
    filesystem = _filesystem(table)
    referenced = referenced_files(table)
    root = _path(table.location()).rstrip("/")
    cutoff_ns = int(older_than.timestamp() * 1_000_000_000)
    listed = filesystem.get_file_info(fs.FileSelector(root, recursive=True, allow_not_found=True))
    orphans = [
        info
        for info in listed
        if info.type == fs.FileType.File
        and info.path.startswith(f"{root}/")
        and info.path not in referenced
        and info.mtime_ns is not None
        and info.mtime_ns < cutoff_ns
    ]
    if not dry_run:
        for info in orphans:
            with suppress(FileNotFoundError):  # removed by someone else meanwhile
                filesystem.delete_file(info.path)
    return [info.path for info in orphans], sum(info.size or 0 for info in orphans)


def _filesystem(table: Table) -> fs.FileSystem:
    io = table.io if isinstance(table.io, PyArrowFileIO) else PyArrowFileIO(table.io.properties)
    scheme, netloc, _ = PyArrowFileIO.parse_location(table.location())
    return io.fs_by_scheme(scheme, netloc)


def _on_local_disk(location: str) -> bool:
    return PyArrowFileIO.parse_location(location)[0] == "file"


def _path(location: str) -> str:
    """A location (``file:///…``, ``s3://bucket/key``) as the filesystem names it (``/…``, ``bucket/key``)."""
    return PyArrowFileIO.parse_location(location)[2]


# ---------------------------------------------------------------------- compaction


def compact(
    table: Table,
    *,
    target_bytes: int = TARGET_FILE_MB * _MB,
    min_small_files: int = MIN_SMALL_FILES,
    dry_run: bool = False,
) -> Compaction:
    """Rewrite the small files of each partition into fewer (see the module's docstring) in one commit
    that keeps every row. On a base that changed meanwhile (a delivery committed) the compaction is
    planned again; Conflict when the table kept changing."""
    for attempt in range(COMMIT_ATTEMPTS):
        tasks = list(table.scan().plan_files())
        groups = _small_file_groups(tasks, target_bytes, min_small_files)
        replaced = sum(len(group) for group in groups)
        after = len(tasks) - replaced + sum(_files_needed(group, target_bytes) for group in groups)
        if not groups or dry_run:
            return Compaction(len(tasks), after, None)
        try:
            snapshot_id = _rewrite(table, groups, target_bytes)
        except CommitFailedException:
            _wait(attempt)
            table.refresh()
            continue
        return Compaction(len(tasks), after, snapshot_id)
    raise Conflict(f"{'.'.join(table.name())} kept changing: it was not compacted; run it again")


def _small_file_groups(
    tasks: Iterable[FileScanTask], target_bytes: int, min_small_files: int
) -> list[list[FileScanTask]]:
    """The files below the target size, by partition, where there are at least ``min_small_files`` of
    them and fewer files would hold their bytes. Files with delete files are left as they are."""
    by_partition: dict[tuple[int, Any], list[FileScanTask]] = defaultdict(list)
    for task in tasks:
        if not task.delete_files and task.file.file_size_in_bytes < target_bytes:
            by_partition[(task.file.spec_id, task.file.partition)].append(task)
    return [
        group
        for group in by_partition.values()
        if len(group) >= min_small_files and _files_needed(group, target_bytes) < len(group)
    ]


def _files_needed(group: list[FileScanTask], target_bytes: int) -> int:
    return math.ceil(sum(task.file.file_size_in_bytes for task in group) / target_bytes)


def _rewrite(table: Table, groups: list[list[FileScanTask]], target_bytes: int) -> int:
    """Write each group's rows, sorted, into the files they need and commit one snapshot that replaces
    the group's files with them, on the table as loaded; the snapshot's id. CommitFailedException when
    another commit got there first (the files written are removed)."""
    metadata = table.metadata
    transaction = table.transaction()
    one_file = metadata.model_copy(
        update={
            "properties": {
                **metadata.properties,
                TableProperties.WRITE_TARGET_FILE_SIZE_BYTES: _WRITE_ONE_FILE,
            }
        }
    )
    write_uuid, counter = uuid.uuid4(), itertools.count()
    written: list[DataFile] = []
    for group in groups:
        rows = _sorted(
            ArrowScan(metadata, table.io, metadata.schema(), AlwaysTrue()).to_table(group), metadata
        )
        per_file = math.ceil(rows.num_rows / _files_needed(group, target_bytes))
        for start in range(0, rows.num_rows, per_file):
            written += _dataframe_to_data_files(
                table_metadata=one_file,
                df=rows.slice(start, per_file),
                io=table.io,
                write_uuid=write_uuid,
                counter=counter,
            )
    replaced = [task.file for group in groups for task in group]
    return commit_files(table, transaction, {MAINTENANCE: "compaction"}, written, replaced).snapshot_id


def _sorted(rows: pa.Table, metadata: TableMetadata) -> pa.Table:
    """The rows in the table's sort order (its identity fields; the table's key for the platform's)."""
    schema = metadata.schema()
    keys = [
        (
            schema.find_column_name(field.source_id),
            "ascending" if field.direction == SortDirection.ASC else "descending",
            "at_start" if field.null_order == NullOrder.NULLS_FIRST else "at_end",
        )
        for field in metadata.sort_order().fields
        if isinstance(field.transform, IdentityTransform)
    ]
    return rows.sort_by(keys) if keys else rows


def _wait(attempt: int) -> None:
    first, most = RETRY_WAIT
    wait = min(first * 2**attempt, most)
    time.sleep(wait + random.uniform(0, wait))

"""The lake: working layers as Parquet files, and the published datasets and views as Iceberg tables.

Working layers, under ``settings.lake_dir``::

    raw/<dataset>/<delivery>.parquet          the delivery as text, with lineage columns
    conformed/<dataset>/<delivery>.parquet    unified names, types and codes (valid rows only)
    quarantine/<dataset>/<delivery>.parquet   rows that failed, raw values plus their reasons
    refused/<dataset>/<delivery>.parquet      records the reader refused, shaped as quarantine rows
                                              (the conformed stage adds them to the quarantine)

What is published is a table of the lake's Iceberg catalog (:mod:`datahub.lake.tables`): a dataset in
namespace ``published``, a view in ``views``, and the raw values of a dataset's personal columns, by key,
in ``restricted`` (read only for a grant that names a column and states a legal basis). Each delivery is
one snapshot; a :class:`PublishedVersion` names it. Only this package knows that format: the rest of the
platform publishes and reads through :class:`Lake`.

What survives a crash: a working file is written under a temporary name, flushed to disk (fsync) and
renamed, so a reader sees a whole file or none; a table's snapshot is committed in one step of the
catalog after its files are written. Publications of one dataset are serialised by a lock file
(``.locks/<dataset>.publish.lock``, ``flock``: released by the kernel when its holder dies), so the
snapshot and its record in the metadata database go together; the catalog's optimistic commit keeps
publishers on other machines from losing each other's rows. Temporary files a killed writer left behind
are removed by :meth:`Lake.sweep`.
"""

from __future__ import annotations

import fcntl
import os
import posixpath
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from datahub.contracts.model import Dataset
from datahub.errors import NotFound
from datahub.faults import crash_point
from datahub.files import commit_file, temporary_name, write_whole
from datahub.lake.namespaces import PUBLISHED, RESTRICTED

if TYPE_CHECKING:
    import pyarrow.dataset as ds

    from datahub.lake.storage import LakeStorage
    from datahub.lake.tables import TableSnapshot, TableStore
    from datahub.settings import Settings


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_temporary(directory: Path, older_than: float = 3600.0) -> list[Path]:
    """Remove temporary files (``.<name>.<pid>.tmp`` / ``.part``) under ``directory`` whose writer is
    gone (its process no longer runs) or that are older than ``older_than`` seconds; returns them."""
    removed: list[Path] = []
    if not directory.is_dir():
        return removed
    now = time.time()
    for path in directory.rglob(".*"):
        parts = path.name.rsplit(".", 2)
        if not path.is_file() or len(parts) != 3 or parts[2] not in ("tmp", "part"):
            continue
        writer = int(parts[1]) if parts[1].isdigit() else None
        try:
            old = now - path.stat().st_mtime > older_than
        except FileNotFoundError:
            continue
        if old or writer is None or (writer != os.getpid() and not _process_alive(writer)):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


class _FileLock:
    """An exclusive lock on a file, re-entrant within a process (threads wait for each other), held
    across processes with ``flock``; the kernel drops it when the holding process dies."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._thread_lock = threading.RLock()
        self._depth = 0
        self._fd: int | None = None

    @contextmanager
    def held(self) -> Iterator[None]:
        with self._thread_lock:
            if self._depth == 0:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
                fcntl.flock(fd, fcntl.LOCK_EX)
                self._fd = fd
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                if self._depth == 0 and self._fd is not None:
                    os.close(self._fd)
                    self._fd = None


_FILE_LOCKS: dict[Path, _FileLock] = {}
_FILE_LOCKS_GUARD = threading.Lock()


def file_lock(path: Path) -> _FileLock:
    with _FILE_LOCKS_GUARD:
        return _FILE_LOCKS.setdefault(path, _FileLock(path))


FAST_STATISTICS = {"min": False, "max": False, "distinct_count": False, "null_count": True}


def write_parquet(frame: pl.DataFrame, path: Path, *, fast: bool = False) -> Path:
    """Write a Parquet file so that no reader ever sees half of it. ``fast``: for working layers a
    later stage reads once, the lightest zstd level and null counts as the only statistics (a third
    faster to write, about the same size)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_name(path)
    statistics = FAST_STATISTICS if fast else True
    try:
        frame.write_parquet(
            tmp, compression="zstd", compression_level=1 if fast else None, statistics=statistics
        )
        crash_point(f"write:{layer_of(path)}")
        commit_file(tmp, path)
    except BaseException:  # a process that lives on leaves nothing behind (a killed one: Lake.sweep)
        tmp.unlink(missing_ok=True)
        raise
    return path


def layer_of(path: Path) -> str:
    """The lake layer a file belongs to (the name of the directory two or three levels up)."""
    for parent in path.parents:
        if parent.name in LAYERS:
            return parent.name
    return path.parent.name


LAYERS = ("raw", "refused", "conformed", "quarantine", "flags")
KEPT = LAYERS
"""The working layers kept in object storage when the lake is there."""


@dataclass(frozen=True)
class PublishedVersion:
    """One published version of a dataset or view: a snapshot of its table."""

    dataset: str
    namespace: str  # published | views
    snapshot_id: int
    created_at: datetime  # UTC
    contract_version: str
    rows: int  # rows in the version
    delivery_id: str | None  # the delivery (or view build) that made it
    schema: dict[str, str]  # column -> Iceberg type

    @property
    def version(self) -> str:
        """The version's name, as the API and the metadata database give it: the snapshot id."""
        return str(self.snapshot_id)

    @property
    def table(self) -> str:
        """The table, as an engine attached to the catalog names it (``published.hotline_12345``)."""
        return f"{self.namespace}.{self.dataset}"


class Lake:
    """The working layers under ``root`` (kept in object storage too when ``storage`` gives one) and the
    published tables of ``tables`` (both opened on first use)."""

    def __init__(
        self,
        root: Path,
        tables: Callable[[], TableStore],
        storage: Callable[[], LakeStorage | None] | None = None,
    ) -> None:
        self.root = Path(root)
        self._open_tables = tables
        self._open_storage = storage or (lambda: None)
        self._namespaces: dict[str, str] = {}  # a published name -> its namespace (names never move)

    @classmethod
    def for_settings(cls, settings: Settings) -> Lake:
        def open_tables() -> TableStore:
            # Imported on first use: pyiceberg's Arrow I/O reserves 1.4 GB of address space on import,
            # which commands that never touch a table (check, --help) need not pay.
            from datahub.lake.tables import TableStore

            return TableStore.for_settings(settings)

        def open_storage() -> LakeStorage | None:
            from datahub.lake.storage import lake_storage

            return lake_storage(settings) if settings.lake_on_s3 else None

        return cls(settings.lake_dir, open_tables, open_storage)

    @cached_property
    def tables(self) -> TableStore:
        return self._open_tables()

    @cached_property
    def storage(self) -> LakeStorage | None:
        """The object storage the working layers are kept in (the warehouse's bucket), None when the
        lake is on local disk."""
        return self._open_storage()

    # ------------------------------------------------------------------ working layers in object storage

    def keep(self, dataset: str, delivery_id: str, layers: tuple[str, ...] = KEPT) -> list[str]:
        """With the lake on object storage: upload the delivery's working files that the storage lacks or
        holds older (the stages call this when one finishes); the keys uploaded. Local disk is the
        working copy; the storage is where any machine finds them (:meth:`fetch`)."""
        storage = self.storage
        if storage is None:
            return []
        uploaded = []
        for layer in layers:
            path = self.layer_path(layer, dataset, delivery_id)
            if not path.is_file():
                continue
            key = f"{layer}/{dataset}/{delivery_id}.parquet"
            local = path.stat()
            remote = storage.stamp(key)
            if remote is not None and remote[0] == local.st_size and remote[1] >= local.st_mtime:
                continue
            storage.write_bytes(key, path.read_bytes())
            uploaded.append(key)
        return uploaded

    def fetch(self, dataset: str, delivery_id: str, layers: tuple[str, ...] = KEPT) -> list[Path]:
        """With the lake on object storage: download the delivery's working files this machine lacks or
        holds older than the storage (a stage run on another machine wrote them); the files fetched."""
        storage = self.storage
        if storage is None:
            return []
        fetched = []
        for layer in layers:
            key = f"{layer}/{dataset}/{delivery_id}.parquet"
            remote = storage.stamp(key)
            if remote is None:
                continue
            path = self.layer_path(layer, dataset, delivery_id)
            if path.is_file():
                local = path.stat()
                if local.st_size == remote[0] or local.st_mtime >= remote[1]:
                    continue
            write_whole(path, storage.read_bytes(key))
            os.utime(path, (remote[1], remote[1]))  # as old as the kept copy: nothing to upload back
            fetched.append(path)
        return fetched

    def deliveries_kept(self, layer: str, dataset: str) -> list[str]:
        """The deliveries with a file in ``layer``, here or in object storage."""
        found = {p.stem for p in (self.root / layer / dataset).glob("*.parquet")}
        if self.storage is not None:
            found |= {
                posixpath.basename(k).removesuffix(".parquet")
                for k in self.storage.list(f"{layer}/{dataset}")
            }
        return sorted(found)

    def layer_path(self, layer: str, dataset: str, delivery_id: str) -> Path:
        return self.root / layer / dataset / f"{delivery_id}.parquet"

    def lock(self, dataset: str, purpose: str = "publish") -> _FileLock:
        """The dataset's lock for ``purpose``: ``publish`` (commit the snapshot and record it) or
        ``keys`` (check a delivery's keys against every accepted row and accept its own)."""
        return file_lock(self.root / ".locks" / f"{dataset}.{purpose}.lock")

    def sweep(self, dataset: str) -> list[Path]:
        """Remove the temporary files killed writers left in the dataset's directories."""
        removed = []
        for layer in (*LAYERS, "quality"):
            removed += sweep_temporary(self.root / layer / dataset)
        return removed

    def write_layer(self, layer: str, dataset: str, delivery_id: str, frame: pl.DataFrame) -> Path:
        return write_parquet(frame, self.layer_path(layer, dataset, delivery_id))

    # ------------------------------------------------------------------ published tables

    def namespace_of(self, name: str) -> str | None:
        """Where ``name`` is published (``published`` or ``views``), None before its first publication."""
        if name not in self._namespaces:
            for namespace, table in self.tables.locations():
                if namespace != RESTRICTED:
                    self._namespaces[table] = namespace
        return self._namespaces.get(name)

    def pointer(self, name: str) -> str | None:
        """A token that changes with every commit to ``name``'s table (its metadata file): one query of
        the catalog, for readers that look for a new version often."""
        namespace = self.namespace_of(name)
        if namespace is None:
            return None
        return self.tables.locations().get((namespace, name))

    def _version(self, name: str, namespace: str, seen: TableSnapshot | None) -> PublishedVersion | None:
        if seen is None:
            return None
        table = self.tables.table(namespace, name)
        snapshot = table.snapshot_by_id(seen.snapshot_id)
        schemas = table.schemas()
        schema = (
            schemas.get(snapshot.schema_id, table.schema())
            if snapshot and snapshot.schema_id is not None
            else table.schema()
        )
        return PublishedVersion(
            dataset=name,
            namespace=namespace,
            snapshot_id=seen.snapshot_id,
            created_at=seen.committed_at,
            contract_version=seen.contract_version or "",
            rows=seen.rows,
            delivery_id=seen.delivery_id,
            schema={f.name: str(f.field_type) for f in schema.fields},
        )

    def current_version(
        self, name: str, *, as_of: datetime | None = None, snapshot: int | None = None
    ) -> PublishedVersion | None:
        """The version of ``name`` read now (or at ``as_of``, or by ``snapshot`` id); None before its
        first publication. NotFound when there is no such snapshot."""
        namespace = self.namespace_of(name)
        if namespace is None:
            if as_of is not None or snapshot is not None:
                raise NotFound(f"{name} has never been published")
            return None
        seen = self.tables.resolve(namespace, name, as_of=as_of, snapshot=snapshot)
        return self._version(name, namespace, seen)

    def version_of(self, name: str, delivery_id: str) -> PublishedVersion | None:
        """The version that published this delivery; None when it was never published."""
        namespace = self.namespace_of(name)
        if namespace is None:
            return None
        return self._version(name, namespace, self.tables.snapshot_of(namespace, name, delivery_id))

    def rows(self, version: PublishedVersion) -> ds.Dataset:
        """The rows of a version, to be read lazily (DuckDB registers it; ``pl.scan_pyarrow_dataset``)."""
        return self.tables.dataset(version.namespace, version.dataset, version.snapshot_id)

    def restricted_rows(self, version: PublishedVersion) -> ds.Dataset | None:
        """The key and the raw personal values of a dataset's version (as of its commit), None when the
        dataset keeps none. Only a grant with a legal basis reads them: the consumer path never calls this."""
        if (RESTRICTED, version.dataset) not in self.tables.locations():
            return None
        seen = self.tables.resolve(RESTRICTED, version.dataset, as_of=version.created_at)
        if seen is None:
            return None
        return self.tables.dataset(RESTRICTED, version.dataset, seen.snapshot_id)

    def scan_current(self, name: str) -> pl.LazyFrame | None:
        """The current version's rows as a polars LazyFrame, None before its first publication."""
        version = self.current_version(name)
        if version is None:
            return None
        return pl.scan_pyarrow_dataset(self.rows(version))

    def publish(
        self,
        dataset: Dataset,
        delivery_id: str,
        frame: pl.DataFrame,
        *,
        append: bool,
        restricted: pl.DataFrame | None = None,
        namespace: str = PUBLISHED,
    ) -> PublishedVersion:
        """Commit the delivery as one snapshot of the dataset's table (append, or replace everything),
        after its ``restricted`` values (key columns and the raw values of personal columns of the same
        rows) as a snapshot of its restricted table. Holds the dataset's publish lock (callers that
        record the version elsewhere hold it around both). A delivery committed before is not committed
        again: its version is returned."""
        with self.lock(dataset.name).held():
            if restricted is not None:
                crash_point(f"write:{RESTRICTED}")
                self.tables.commit(
                    RESTRICTED,
                    dataset,
                    delivery_id,
                    restricted,
                    replace=not append,
                    contract_version=dataset.version,
                )
            crash_point("written:restricted")
            crash_point(f"write:{namespace}")
            seen = self.tables.commit(
                namespace, dataset, delivery_id, frame, replace=not append, contract_version=dataset.version
            )
            self._namespaces[dataset.name] = namespace
            crash_point("published:pointer")
            version = self._version(dataset.name, namespace, seen)
            assert version is not None
            return version

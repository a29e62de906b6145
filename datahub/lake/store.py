"""The lake: Parquet files per layer and immutable published snapshots.

Layout under ``settings.lake_dir``::

    raw/<dataset>/<delivery>.parquet          the delivery as text, with lineage columns
    conformed/<dataset>/<delivery>.parquet    unified names, types and codes (valid rows only)
    quarantine/<dataset>/<delivery>.parquet   rows that failed, raw values plus their reasons
    refused/<dataset>/<delivery>.parquet      records the reader refused, shaped as quarantine rows
                                              (the conformed stage adds them to the quarantine)
    published/<dataset>/parts/<delivery>.parquet   desensitised rows, never rewritten
    published/<dataset>/versions/<version>.json    a manifest: which parts make up this version
    published/<dataset>/CURRENT                     the current version, switched atomically
    restricted/<dataset>/parts/<delivery>.parquet  the raw values of the personal columns of the
                                                   published rows, by key; read only for a grant
                                                   that names a column and states a legal basis

A published version lists its parts, so an append delivery publishes one new part and a new manifest
without copying earlier data; readers holding an older manifest keep a consistent view.

What survives a crash: every file is written under a temporary name, flushed to disk (fsync) and then
renamed, so a reader sees a whole file or none; the pointer ``CURRENT`` moves last, so a version is
served only once all its files are whole. Publications of one dataset are serialised by a lock file
(``.locks/<dataset>.publish.lock``, ``flock``: released by the kernel when its holder dies), so two
publishers can never both build on the same previous manifest and lose a part. Temporary files a
killed writer left behind are removed by :meth:`Lake.sweep`.
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from datahub.faults import crash_point
from datahub.files import commit_file, temporary_name, write_whole


@dataclass(frozen=True)
class SnapshotManifest:
    dataset: str
    version: str
    created_at: str
    contract_version: str
    parts: list[str]
    rows: int
    delivery_id: str | None
    schema: dict[str, str]
    restricted_parts: list[str] = field(default_factory=list)  # under restricted/<dataset>/

    @classmethod
    def read(cls, path: Path) -> SnapshotManifest:
        return cls(**json.loads(path.read_text(encoding="utf-8")))


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


LAYERS = ("raw", "refused", "conformed", "quarantine", "flags", "published", "restricted")


class Lake:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def layer_path(self, layer: str, dataset: str, delivery_id: str) -> Path:
        return self.root / layer / dataset / f"{delivery_id}.parquet"

    def lock(self, dataset: str, purpose: str = "publish") -> _FileLock:
        """The dataset's lock for ``purpose``: ``publish`` (read the current manifest, write the next,
        switch the pointer, record it) or ``keys`` (check a delivery's keys against every accepted
        row and accept its own)."""
        return file_lock(self.root / ".locks" / f"{dataset}.{purpose}.lock")

    def sweep(self, dataset: str) -> list[Path]:
        """Remove the temporary files killed writers left in the dataset's directories."""
        removed = []
        for layer in (*LAYERS, "quality"):
            removed += sweep_temporary(self.root / layer / dataset)
        return removed

    def write_layer(self, layer: str, dataset: str, delivery_id: str, frame: pl.DataFrame) -> Path:
        return write_parquet(frame, self.layer_path(layer, dataset, delivery_id))

    def published_dir(self, dataset: str) -> Path:
        return self.root / "published" / dataset

    def restricted_dir(self, dataset: str) -> Path:
        return self.root / "restricted" / dataset

    def current_manifest(self, dataset: str) -> SnapshotManifest | None:
        pointer = self.published_dir(dataset) / "CURRENT"
        if not pointer.is_file():
            return None
        version = pointer.read_text(encoding="utf-8").strip()
        return SnapshotManifest.read(self.published_dir(dataset) / "versions" / f"{version}.json")

    def current_parts(self, dataset: str) -> list[Path]:
        """The Parquet files of the dataset's current snapshot (none before its first publication)."""
        manifest = self.current_manifest(dataset)
        if manifest is None:
            return []
        return [self.published_dir(dataset) / part for part in manifest.parts]

    def version_of(self, dataset: str, delivery_id: str) -> SnapshotManifest | None:
        """The version that published this delivery, if it is current or (for append) its part is in
        the current version; None when the delivery's rows are not served (never published, or its
        manifest was written but the pointer never reached it)."""
        current = self.current_manifest(dataset)
        part = f"parts/{delivery_id}.parquet"
        if current is None or part not in current.parts:
            return None
        if current.delivery_id == delivery_id:
            return current
        for path in sorted((self.published_dir(dataset) / "versions").glob(f"*-{delivery_id[:8]}.json")):
            manifest = SnapshotManifest.read(path)
            if manifest.delivery_id == delivery_id and manifest.parts[-1:] == [part]:
                return manifest
        return None

    def scan_current(self, dataset: str) -> pl.LazyFrame | None:
        manifest = self.current_manifest(dataset)
        if manifest is None or not manifest.parts:
            return None
        base = self.published_dir(dataset)
        return pl.scan_parquet([base / part for part in manifest.parts])

    def publish(
        self,
        dataset: str,
        delivery_id: str,
        frame: pl.DataFrame,
        *,
        append: bool,
        contract_version: str,
        restricted: pl.DataFrame | None = None,
    ) -> SnapshotManifest:
        """Write the delivery's part (and its ``restricted`` part: key columns and the raw values of
        personal columns of the same rows), then a manifest naming every part, then switch CURRENT.
        Holds the dataset's publish lock (callers that record the version elsewhere hold it around
        both); a delivery already served is not published twice: its version is returned."""
        with self.lock(dataset).held():
            done = self.version_of(dataset, delivery_id)
            if done is not None:
                return done
            return self._publish_new(dataset, delivery_id, frame, append, contract_version, restricted)

    def _publish_new(
        self,
        dataset: str,
        delivery_id: str,
        frame: pl.DataFrame,
        append: bool,
        contract_version: str,
        restricted: pl.DataFrame | None,
    ) -> SnapshotManifest:
        base = self.published_dir(dataset)
        part = f"parts/{delivery_id}.parquet"
        write_parquet(frame, base / part)
        previous = self.current_manifest(dataset) if append else None
        crash_point("read:manifest")
        parts = [*(previous.parts if previous else []), part]
        restricted_parts = list(previous.restricted_parts if previous else [])
        if restricted is not None:
            write_parquet(restricted, self.restricted_dir(dataset) / part)
            restricted_parts.append(part)
        now = datetime.now(UTC)
        manifest = SnapshotManifest(
            dataset=dataset,
            version=f"{now:%Y%m%dT%H%M%S%fZ}-{delivery_id[:8]}",
            created_at=now.isoformat(),
            contract_version=contract_version,
            parts=parts,
            rows=(previous.rows if previous else 0) + frame.height,
            delivery_id=delivery_id,
            schema={name: str(dtype) for name, dtype in frame.schema.items()},
            restricted_parts=restricted_parts,
        )
        body = json.dumps(asdict(manifest), ensure_ascii=False, indent=2).encode("utf-8")
        write_whole(base / "versions" / f"{manifest.version}.json", body)
        write_whole(base / "CURRENT", manifest.version.encode("utf-8"))
        crash_point("published:pointer")
        return manifest

"""The current published versions, held in one in-memory DuckDB database for the API to query.

Pipelines publish immutable Parquet parts and switch a ``CURRENT`` pointer (datahub.lake). The API
never opens a DuckDB file a pipeline writes: on the first request for a version it reads that
version's parts into an in-memory table (sorted by the key, so keyset pages skip what they do not
need), and every request works on one table, i.e. one version, from start to end. A request holds a
lease on its version; a version superseded by a newer one is dropped when its last lease ends.

The raw values of personal columns (the restricted store) are loaded only when a grant asks for them.
Each version is also kept as a polars frame in key order: a page in key order with no filter (a
consuming system walking a whole view) is then a binary search and a slice, not a scan.
"""

from __future__ import annotations

import bisect
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from datahub.lake import Lake
from datahub.lake.store import SnapshotManifest
from datahub.quality import sql


@dataclass
class Version:
    """One published version of a view, loaded as ``table`` (and ``restricted`` once asked for)."""

    name: str
    version: str
    manifest: SnapshotManifest
    table: str
    keys: tuple[str, ...]
    frame: pl.DataFrame  # the same rows in key order, times as ISO 8601 text: pages read straight by key
    restricted: str | None = None
    _keys: list[Any] | None = field(default=None, repr=False)  # the key column as a list, for bisect
    _blocks: OrderedDict[tuple[tuple[str, ...], int], list[str]] = field(
        default_factory=OrderedDict, repr=False
    )
    leases: int = 0
    superseded: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def rows(self) -> int:
        return self.manifest.rows

    def key_list(self) -> list[Any]:
        """The (single) key column as a list, in order (made on first use)."""
        with self.lock:
            if self._keys is None:
                self._keys = self.frame.get_column(self.keys[0]).to_list()
            return self._keys

    def after(self, value: Any) -> int:
        """The position of the first row whose (single) key is greater than ``value``."""
        return bisect.bisect_right(self.key_list(), value)

    def json_rows(self, columns: tuple[str, ...], start: int, stop: int) -> list[str]:
        """Rows ``start``..``stop`` as JSON objects of ``columns``, one string each. Rows are encoded a
        block at a time, on first use, and the most recently used blocks are kept (``JSON_BLOCKS``)."""
        out: list[str] = []
        for block in range(start // JSON_BLOCK, (max(stop, start + 1) - 1) // JSON_BLOCK + 1):
            rows = self._json_block(columns, block)
            first = block * JSON_BLOCK
            out += rows[max(start - first, 0) : max(stop - first, 0)]
        return out

    def _json_block(self, columns: tuple[str, ...], block: int) -> list[str]:
        wanted = (columns, block)
        with self.lock:
            rows = self._blocks.get(wanted)
            if rows is not None:
                self._blocks.move_to_end(wanted)
                return rows
        part = self.frame.slice(block * JSON_BLOCK, JSON_BLOCK).select(columns)
        rows = part.select(pl.struct(pl.all()).struct.json_encode()).to_series().to_list()
        with self.lock:
            self._blocks[wanted] = rows
            while len(self._blocks) > JSON_BLOCKS:
                self._blocks.popitem(last=False)
        return rows


POINTER_SECONDS = 0.1  # how often a view's CURRENT pointer is looked at
JSON_BLOCK = 4096  # rows encoded as JSON together
JSON_BLOCKS = 512  # blocks kept per version (2M rows of one column set)
ISO = {pl.Datetime: "%Y-%m-%dT%H:%M:%S%.f", pl.Date: "%Y-%m-%d"}  # as Python's isoformat() writes them


def iso_times(frame: pl.DataFrame) -> pl.DataFrame:
    """Timestamps and dates as ISO 8601 text, ready for JSON (other columns are shared, not copied)."""
    texts = [pl.col(n).dt.to_string(ISO[t.__class__]) for n, t in frame.schema.items() if t.__class__ in ISO]
    return frame.with_columns(texts) if texts else frame


def _paths(base: Path, parts: list[str]) -> str:
    return "[" + ", ".join(sql.literal(str(base / p)) for p in parts) + "]"


class Snapshots:
    def __init__(self, lake: Lake, *, threads: int | None = None, memory_limit: str | None = None) -> None:
        self.lake = lake
        config: dict[str, str | bool | int | float | list[str]] = {}
        if threads:
            config["threads"] = threads
        if memory_limit:
            config["memory_limit"] = memory_limit
        self.con = duckdb.connect(":memory:", config=config)
        self._versions: dict[str, Version] = {}  # name -> the newest loaded version
        # name -> (the pointer file's identity, the version it names, when it was looked at)
        self._pointers: dict[str, tuple[tuple[int, int, int], str | None, float]] = {}
        self._manifests: dict[str, SnapshotManifest] = {}  # name -> the current manifest, for listings
        self._loading: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()
        self._counter = 0

    def close(self) -> None:
        self.con.close()

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A connection of its own for one request (DuckDB connections are not shared across threads)."""
        return self.con.cursor()

    def _current_version(self, name: str) -> str | None:
        """The version ``CURRENT`` names. The pointer file is looked at again at most every
        ``POINTER_SECONDS`` and read again only when it was replaced (a publication writes a new file
        and renames it over the old one: a new inode), so a new version is served within that time."""
        now = time.monotonic()
        cached = self._pointers.get(name)
        if cached is not None and now - cached[2] < POINTER_SECONDS:
            return cached[1]
        pointer = self.lake.published_dir(name) / "CURRENT"
        try:
            stat = os.stat(pointer)
        except FileNotFoundError:
            return None
        seen = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        if cached is not None and cached[0] == seen:
            self._pointers[name] = (seen, cached[1], now)
            return cached[1]
        try:
            version = pointer.read_text(encoding="utf-8").strip() or None
        except FileNotFoundError:
            return None
        self._pointers[name] = (seen, version, now)
        return version

    def loaded(self, name: str) -> bool:
        """Whether the current version of ``name`` is in memory already."""
        version = self._current_version(name)
        with self._lock:
            loaded = self._versions.get(name)
        return version is not None and loaded is not None and loaded.version == version

    def manifest(self, name: str) -> SnapshotManifest | None:
        """The current version's manifest, without loading its rows."""
        version = self._current_version(name)
        if version is None:
            return None
        with self._lock:
            loaded = self._versions.get(name)
            if loaded is not None and loaded.version == version:
                return loaded.manifest
            cached = self._manifests.get(name)
            if cached is not None and cached.version == version:
                return cached
        manifest = SnapshotManifest.read(self.lake.published_dir(name) / "versions" / f"{version}.json")
        with self._lock:
            self._manifests[name] = manifest
        return manifest

    @contextmanager
    def lease(self, name: str, keys: tuple[str, ...]) -> Iterator[Version | None]:
        """The current version of ``name`` for the length of the block (None before its first publication)."""
        version = self._acquire(name, keys)
        try:
            yield version
        finally:
            if version is not None:
                self._release(version)

    def _acquire(self, name: str, keys: tuple[str, ...]) -> Version | None:
        wanted = self._current_version(name)
        if wanted is None:
            return None
        with self._lock:
            loaded = self._versions.get(name)
            if loaded is not None and loaded.version == wanted:
                loaded.leases += 1
                return loaded
            loading = self._loading.setdefault(name, threading.Lock())
        with loading:  # one loader per view; the others wait for it, then find it loaded
            with self._lock:
                loaded = self._versions.get(name)
                if loaded is not None and loaded.version == wanted:
                    loaded.leases += 1
                    return loaded
            fresh = self._load(name, wanted, keys)
            with self._lock:
                previous = self._versions.get(name)
                self._versions[name] = fresh
                fresh.leases += 1
                if previous is not None:
                    previous.superseded = True
                    if previous.leases == 0:
                        self._drop(previous)
            return fresh

    def _release(self, version: Version) -> None:
        with self._lock:
            version.leases -= 1
            if version.superseded and version.leases == 0:
                self._drop(version)

    def _table_name(self, prefix: str) -> str:
        with self._lock:
            self._counter += 1
            return f"{prefix}{self._counter}"

    def _load(self, name: str, version: str, keys: tuple[str, ...]) -> Version:
        manifest = SnapshotManifest.read(self.lake.published_dir(name) / "versions" / f"{version}.json")
        table = self._table_name("v")
        con = self.cursor()
        try:
            if manifest.parts:
                order = f" ORDER BY {', '.join(sql.name(k) for k in keys)}" if keys else ""
                source = _paths(self.lake.published_dir(name), manifest.parts)
                scan = f"SELECT * FROM read_parquet({source}, union_by_name = true)"
                con.execute(f"CREATE TABLE {table} AS {scan}{order}")
            else:  # a published version with no rows: an empty table of the manifest's schema
                con.execute(
                    f"CREATE TABLE {table} ({', '.join(sql.name(c) + ' VARCHAR' for c in manifest.schema)})"
                )
            frame = iso_times(con.sql(f"SELECT * FROM {table}").pl())
        finally:
            con.close()
        return Version(name, version, manifest, table, keys, frame)

    def restricted(self, version: Version) -> str | None:
        """The table of raw personal values for ``version`` (loaded on first use), None when it has none."""
        if not version.manifest.restricted_parts:
            return None
        with version.lock:
            if version.restricted is None:
                table = self._table_name("r")
                source = _paths(self.lake.restricted_dir(version.name), version.manifest.restricted_parts)
                con = self.cursor()
                try:
                    con.execute(
                        f"CREATE TABLE {table} AS SELECT * FROM read_parquet({source}, union_by_name = true)"
                    )
                finally:
                    con.close()
                version.restricted = table
            return version.restricted

    def _drop(self, version: Version) -> None:
        con = self.cursor()
        try:
            con.execute(f"DROP TABLE IF EXISTS {version.table}")
            if version.restricted:
                con.execute(f"DROP TABLE IF EXISTS {version.restricted}")
        finally:
            con.close()

    def relation(self, version: Version, raw: frozenset[str]) -> str:
        """SQL for the rows of ``version`` as this caller reads them: the raw values of the ``raw``
        columns replace their desensitised ones (joined by key from the restricted store)."""
        if not raw:
            return version.table
        restricted = self.restricted(version)
        if restricted is None or not version.keys:
            return version.table
        con = self.cursor()
        try:
            available = {r[0] for r in con.execute(f"DESCRIBE {restricted}").fetchall()}
        finally:
            con.close()
        swap = sorted(raw & available)
        if not swap:
            return version.table
        replace = ", ".join(f"r.{sql.name(c)} AS {sql.name(c)}" for c in swap)
        using = ", ".join(sql.name(k) for k in version.keys)
        joined = f"{version.table} t LEFT JOIN {restricted} r USING ({using})"
        return f"(SELECT t.* REPLACE ({replace}) FROM {joined})"

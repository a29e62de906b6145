"""The published versions the API serves, held in one in-memory DuckDB database.

Pipelines commit snapshots of the lake's tables (datahub.lake). On the first request for a version the
API reads that snapshot's rows into an in-memory table (sorted by the key, so keyset pages skip what they
do not need), and every request works on one table, i.e. one version, from start to end. A request
holds a lease on its version; a version superseded by a newer one is dropped when its last lease ends.
A request may ask for an earlier snapshot (by id, or the one current at a time): a few such versions
are kept, the least recently used dropped once no request holds them.

The raw values of personal columns (the restricted store) are loaded only when a grant asks for them.
Each version is also kept as a polars frame in key order: a page in key order with no filter (a
consuming system walking a whole view) is then a binary search and a slice, not a scan.
"""

from __future__ import annotations

import bisect
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import duckdb
import polars as pl

from datahub.errors import NotFound
from datahub.lake import Lake, PublishedVersion
from datahub.quality import sql


@dataclass(frozen=True)
class Moment:
    """Which snapshot a read asks for: ``snapshot`` by id, or the one current at ``as_of``."""

    as_of: datetime | None = None
    snapshot: int | None = None


@dataclass
class Version:
    """One published version of a view, loaded as ``table`` (and ``restricted`` once asked for)."""

    name: str
    version: str
    published: PublishedVersion
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
        return self.published.rows

    @property
    def snapshot_time(self) -> datetime:
        return self.published.created_at

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


POINTER_SECONDS = 0.1  # how often a view's table is looked at for a new snapshot
EARLIER_VERSIONS = 4  # earlier snapshots (time travel) kept loaded
JSON_BLOCK = 4096  # rows encoded as JSON together
JSON_BLOCKS = 512  # blocks kept per version (2M rows of one column set)
ISO = {pl.Datetime: "%Y-%m-%dT%H:%M:%S%.f", pl.Date: "%Y-%m-%d"}  # as Python's isoformat() writes them


def iso_times(frame: pl.DataFrame) -> pl.DataFrame:
    """Timestamps and dates as ISO 8601 text, ready for JSON (other columns are shared, not copied)."""
    texts = [pl.col(n).dt.to_string(ISO[t.__class__]) for n, t in frame.schema.items() if t.__class__ in ISO]
    return frame.with_columns(texts) if texts else frame


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
        self._earlier: OrderedDict[tuple[str, str], Version] = OrderedDict()  # time travel, by use
        # name -> (the table's pointer, its version, when it was looked at)
        self._pointers: dict[str, tuple[str | None, PublishedVersion | None, float]] = {}
        self._loading: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()
        self._counter = 0

    def close(self) -> None:
        self.con.close()

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A connection of its own for one request (DuckDB connections are not shared across threads)."""
        return self.con.cursor()

    def manifest(self, name: str) -> PublishedVersion | None:
        """The current version of ``name``, without loading its rows. The table is looked at again at
        most every ``POINTER_SECONDS`` (one query of the catalog) and its snapshot read again only when
        it changed, so a new version is served within that time."""
        now = time.monotonic()
        cached = self._pointers.get(name)
        if cached is not None and now - cached[2] < POINTER_SECONDS:
            return cached[1]
        pointer = self.lake.pointer(name)
        if cached is not None and cached[0] == pointer:
            self._pointers[name] = (pointer, cached[1], now)
            return cached[1]
        version = self.lake.current_version(name) if pointer is not None else None
        self._pointers[name] = (pointer, version, now)
        return version

    def _current_version(self, name: str) -> str | None:
        version = self.manifest(name)
        return version.version if version is not None else None

    def loaded(self, name: str) -> bool:
        """Whether the current version of ``name`` is in memory already."""
        version = self._current_version(name)
        with self._lock:
            loaded = self._versions.get(name)
        return version is not None and loaded is not None and loaded.version == version

    @contextmanager
    def lease(self, name: str, keys: tuple[str, ...], at: Moment | None = None) -> Iterator[Version | None]:
        """The current version of ``name`` (or the one ``at`` names) for the length of the block (None
        before its first publication; NotFound when there is no such snapshot)."""
        version = self._acquire(name, keys) if at is None else self._acquire_earlier(name, keys, at)
        try:
            yield version
        finally:
            if version is not None:
                self._release(version)

    def _acquire_earlier(self, name: str, keys: tuple[str, ...], at: Moment) -> Version:
        published = self.lake.current_version(name, as_of=at.as_of, snapshot=at.snapshot)
        if published is None:  # a table with no snapshot at all is never asked about by time
            raise NotFound(f"'{name}' has not been published yet")
        current = self.manifest(name)
        if current is not None and current.version == published.version:
            current_version = self._acquire(name, keys)
            if current_version is not None and current_version.version == published.version:
                return current_version
            if current_version is not None:
                self._release(current_version)
        wanted = (name, published.version)
        with self._lock:
            loaded = self._earlier.get(wanted)
            if loaded is not None:
                self._earlier.move_to_end(wanted)
                loaded.leases += 1
                return loaded
        fresh = self._load(published, keys)
        with self._lock:
            loaded = self._earlier.get(wanted)
            if loaded is not None:  # another request loaded it meanwhile
                self._drop(fresh)
                loaded.leases += 1
                return loaded
            self._earlier[wanted] = fresh
            fresh.leases += 1
            while len(self._earlier) > EARLIER_VERSIONS:
                _, old = self._earlier.popitem(last=False)
                old.superseded = True
                if old.leases == 0:
                    self._drop(old)
        return fresh

    def _acquire(self, name: str, keys: tuple[str, ...]) -> Version | None:
        published = self.manifest(name)
        if published is None:
            return None
        wanted = published.version
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
            fresh = self._load(published, keys)
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

    def _load(self, published: PublishedVersion, keys: tuple[str, ...]) -> Version:
        table = self._table_name("v")
        con = self.cursor()
        try:
            con.register("source", self.lake.rows(published))
            order = f" ORDER BY {', '.join(sql.name(k) for k in keys)}" if keys else ""
            con.execute(f"CREATE TABLE {table} AS SELECT * FROM source{order}")
            con.unregister("source")
            frame = iso_times(con.sql(f"SELECT * FROM {table}").pl())
        finally:
            con.close()
        return Version(published.dataset, published.version, published, table, keys, frame)

    def restricted(self, version: Version) -> str | None:
        """The table of raw personal values for ``version`` (loaded on first use), None when it has none."""
        with version.lock:
            if version.restricted is None:
                rows = self.lake.restricted_rows(version.published)
                if rows is None:
                    return None
                table = self._table_name("r")
                con = self.cursor()
                try:
                    con.register("source", rows)
                    con.execute(f"CREATE TABLE {table} AS SELECT * FROM source")
                    con.unregister("source")
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

"""The published lake as Apache Iceberg tables, in a SQL catalog kept in the metadata database.

The catalog is pyiceberg's ``SqlCatalog`` (named ``datahub``): its two tables (``iceberg_tables``,
``iceberg_namespace_properties``) are those of Iceberg's JDBC catalog, so Spark, Trino or Flink attach to
the same database. They are declared apart from the platform's own tables (``datahub.metadata.models``),
which neither creates nor alters them. Table files live under the warehouse: a local ``file://`` path by
default, or an ``s3://`` URL whose endpoint and credentials come as catalog properties (``s3.endpoint``,
``s3.access-key-id``…).

Namespaces: ``published`` (datasets), ``views``, ``restricted`` (the raw values of personal columns,
by key). A table takes its schema from the contract and the frame it is first given: the frame's types,
the contract's business names and descriptions as field docs, the primary key as identifier fields
(required), a sort order by the key and the contract's ``partitioning``.

Each delivery is one snapshot, committed once: an append, or an overwrite of every current file for a
dataset published by replacement. Its summary carries ``datahub.delivery-id``,
``datahub.contract-version`` and ``datahub.rows``. A commit on a stale base (another process committed
first) fails in the catalog; it is then retried on the refreshed table, after checking that the
delivery has not landed meanwhile, so nothing is lost and nothing is committed twice. pyiceberg's own
retry is switched off on these tables (``commit.retry.num-retries``: 0): it would replay a replacement's
file list on a base that has changed, and could not see that another process committed the same delivery.
"""

from __future__ import annotations

import os
import random
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
from pyiceberg.catalog.sql import IcebergTables, SqlCatalog
from pyiceberg.exceptions import (
    CommitFailedException,
    NoSuchTableError,
    TableAlreadyExistsError,
)
from pyiceberg.expressions import AlwaysTrue, BooleanExpression
from pyiceberg.io import FileIO
from pyiceberg.io.pyarrow import (
    PyArrowFileIO,
    _dataframe_to_data_files,
    compute_statistics_plan,
    data_file_statistics_from_parquet_metadata,
    parquet_path_to_id_mapping,
    schema_to_pyarrow,
)
from pyiceberg.manifest import DataFile, DataFileContent, FileFormat
from pyiceberg.partitioning import PartitionField as IcebergPartitionField
from pyiceberg.partitioning import PartitionSpec
from pyiceberg.schema import Schema, sanitize_column_names
from pyiceberg.table import Table, TableProperties, Transaction
from pyiceberg.table.locations import load_location_provider
from pyiceberg.table.metadata import TableMetadata
from pyiceberg.table.snapshots import Snapshot
from pyiceberg.table.sorting import NullOrder, SortDirection, SortField, SortOrder
from pyiceberg.transforms import IdentityTransform, parse_transform
from pyiceberg.typedef import Record
from pyiceberg.types import (
    BinaryType,
    BooleanType,
    DateType,
    DecimalType,
    DoubleType,
    FloatType,
    IcebergType,
    IntegerType,
    ListType,
    LongType,
    NestedField,
    StringType,
    TimestampType,
    TimestamptzType,
    TimeType,
)
from sqlalchemy import event, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from datahub.contracts.model import Dataset
from datahub.dictionary import ElementType
from datahub.errors import Conflict, DatabaseUnavailable, InputError, NotFound
from datahub.lake.namespaces import NAMESPACES, PUBLISHED, RESTRICTED, VIEWS
from datahub.lake.storage import pyiceberg_properties
from datahub.metadata.store import _sqlite_pragmas

if TYPE_CHECKING:
    from datahub.settings import Settings

CATALOG_NAME = "datahub"
__all__ = ["NAMESPACES", "PUBLISHED", "RESTRICTED", "VIEWS", "TableSnapshot", "TableStore"]

DELIVERY_ID = "datahub.delivery-id"
CONTRACT_VERSION = "datahub.contract-version"
ROWS = "datahub.rows"

ALL_ROWS = AlwaysTrue()

COMMIT_ATTEMPTS = 30
"""Commits of one delivery tried before giving up (each after another process's commit won)."""
RETRY_WAIT = (0.02, 1.0)  # seconds: the first wait, doubled per attempt up to the second, plus jitter

WRITE_PROPERTIES = {
    TableProperties.PARQUET_COMPRESSION: "zstd",
    TableProperties.PARQUET_COMPRESSION_LEVEL: "1",
    TableProperties.PARQUET_ROW_GROUP_LIMIT: str(256 * 1024),
}
"""How data files are written, set on every table (for other engines too) and assumed for a table
without them: zstd at its fastest level (files 2% larger than at level 3, written a tenth faster),
row groups of 262,144 rows (a reader skips row groups by their bounds; a file of one row group of a
million rows took a quarter longer to write). docs/benchmarks.md, "Publishing into the Iceberg lake"."""

LEVELLED = ("zstd", "gzip", "brotli")  # the codecs that take a level

# The type a column gets when its frame holds only nulls (a redacted column), from the contract.
_CONTRACT_TYPES: dict[ElementType, pa.DataType] = {
    ElementType.string: pa.large_string(),
    ElementType.integer: pa.int64(),
    ElementType.decimal: pa.float64(),
    ElementType.date: pa.date32(),
    ElementType.timestamp: pa.timestamp("us"),
    ElementType.boolean: pa.bool_(),
}


@dataclass(frozen=True)
class TableSnapshot:
    """One snapshot of a table: what the delivery that made it committed."""

    snapshot_id: int
    committed_at: datetime  # UTC
    operation: str  # append | overwrite
    rows: int  # rows in the table at this snapshot
    delivery_id: str | None
    contract_version: str | None
    delivery_rows: int | None  # rows the delivery committed

    @classmethod
    def of(cls, snapshot: Snapshot) -> TableSnapshot:
        summary = snapshot.summary
        get = summary.get if summary is not None else (lambda _key: None)
        added = get(ROWS)
        return cls(
            snapshot_id=snapshot.snapshot_id,
            committed_at=datetime.fromtimestamp(snapshot.timestamp_ms / 1000, UTC),
            operation=str(summary.operation.value) if summary is not None else "unknown",
            rows=int(get("total-records") or 0),
            delivery_id=get(DELIVERY_ID),
            contract_version=get(CONTRACT_VERSION),
            delivery_rows=int(added) if added is not None else None,
        )


def default_warehouse(settings: Settings) -> str:
    """The warehouse of a home as configured (``lake_warehouse``; ``file://<home>/lake/warehouse`` by
    default), as a URL."""
    return pyiceberg_properties(settings)["warehouse"]


class TableStore:
    """The lake's Iceberg tables: one per dataset and namespace, one snapshot per delivery."""

    def __init__(self, uri: str, warehouse: str, properties: Mapping[str, str] | None = None) -> None:
        """``uri``: the SQLAlchemy URL of the metadata database; ``warehouse``: where table files go
        (``file:///…`` or ``s3://bucket/prefix``); ``properties``: more catalog properties (S3 endpoint,
        credentials)."""
        if uri.startswith("sqlite:///"):
            Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        self.uri, self.warehouse = uri, warehouse
        settings = {**(properties or {}), "uri": uri, "warehouse": warehouse}
        try:
            for attempt in range(10):
                try:
                    self.catalog = SqlCatalog(CATALOG_NAME, **settings)
                    break
                except OperationalError:  # another process is creating the catalog's tables: look again
                    if attempt == 9:
                        raise
                    time.sleep(0.05 * (attempt + 1))
            if self.catalog.engine.dialect.name == "sqlite":
                # As the platform's own connections: WAL, and waiting for a lock instead of failing.
                event.listen(self.catalog.engine, "connect", _sqlite_pragmas)
                self.catalog.engine.dispose()
            for namespace in NAMESPACES:
                self.catalog.create_namespace_if_not_exists(namespace)
        except OperationalError as exc:
            raise DatabaseUnavailable(f"the lake's catalog cannot be opened: {exc.orig}", file=uri) from exc

    @classmethod
    def for_settings(
        cls, settings: Settings, warehouse: str | None = None, properties: Mapping[str, str] | None = None
    ) -> TableStore:
        """The home's store: the metadata database as catalog, the warehouse and its S3 properties from
        the settings (``lake_warehouse``, ``s3_*``) unless given."""
        configured = pyiceberg_properties(settings)
        where = warehouse or configured.pop("warehouse")
        configured.pop("warehouse", None)
        return cls(settings.database_url, where, {**configured, **(properties or {})})

    def close(self) -> None:
        self.catalog.close()

    # ------------------------------------------------------------------ tables

    def table(self, namespace: str, name: str) -> Table:
        try:
            return self.catalog.load_table((namespace, name))
        except NoSuchTableError as exc:
            raise NotFound(f"no table {namespace}.{name} in the lake") from exc

    def tables(self) -> list[tuple[str, str]]:
        """Every table as ``(namespace, name)``."""
        found = []
        for namespace in NAMESPACES:
            found += [(namespace, identifier[-1]) for identifier in self.catalog.list_tables(namespace)]
        return sorted(found)

    def _table_for(self, namespace: str, dataset: Dataset, columns: pa.Schema) -> Table:
        """The dataset's table, created from the contract and ``columns`` if there is none; an existing
        table takes the contract's partitioning if it changed (new files follow it, old ones stay)."""
        try:
            return _with_partitioning(self.catalog.load_table((namespace, dataset.name)), dataset)
        except NoSuchTableError:
            pass
        schema = table_schema(dataset, columns)
        try:
            return self.catalog.create_table(
                (namespace, dataset.name),
                schema,
                partition_spec=partition_spec(dataset, schema),
                sort_order=sort_order(dataset, schema),
                properties={
                    "comment": _comment(dataset),
                    TableProperties.COMMIT_NUM_RETRIES: "0",
                    **WRITE_PROPERTIES,
                },
            )
        except TableAlreadyExistsError:  # another process created it first
            return self.catalog.load_table((namespace, dataset.name))

    # ------------------------------------------------------------------ writes

    def commit(
        self,
        namespace: str,
        dataset: Dataset,
        delivery_id: str,
        frame: pa.Table | pl.DataFrame,
        *,
        replace: bool,
        contract_version: str,
    ) -> TableSnapshot:
        """Commit the delivery's rows as one snapshot of the dataset's table (created on first use): an
        append, or with ``replace`` an overwrite of the whole table. A delivery already committed is
        not committed again: its snapshot is returned. Columns the table lacks are added."""
        columns = storable_schema(frame, dataset)
        rows = frame if isinstance(frame, pl.DataFrame) else pl.DataFrame(frame)
        table = self._table_for(namespace, dataset, columns)
        for attempt in range(COMMIT_ATTEMPTS):
            done = _snapshot_of(table, delivery_id)
            if done is not None:
                return done
            summary = {DELIVERY_ID: delivery_id, CONTRACT_VERSION: contract_version, ROWS: str(rows.height)}
            try:
                return _commit_once(table, dataset, rows, columns, replace, summary)
            except CommitFailedException:
                first, most = RETRY_WAIT
                wait = min(first * 2**attempt, most)
                time.sleep(wait + random.uniform(0, wait))
                table.refresh()
        raise Conflict(
            f"{namespace}.{dataset.name} kept changing: delivery {delivery_id} was not committed after "
            f"{COMMIT_ATTEMPTS} attempts; run it again"
        )

    # ------------------------------------------------------------------ reads

    def snapshots(self, namespace: str, name: str) -> list[TableSnapshot]:
        """The table's history, oldest first."""
        table = self.table(namespace, name)
        found = (table.snapshot_by_id(entry.snapshot_id) for entry in table.history())
        return [TableSnapshot.of(s) for s in found if s is not None]

    def current(self, namespace: str, name: str) -> TableSnapshot | None:
        """The table's current snapshot (None while nothing was committed)."""
        snapshot = self.table(namespace, name).current_snapshot()
        return TableSnapshot.of(snapshot) if snapshot is not None else None

    def snapshot_of(self, namespace: str, name: str, delivery_id: str) -> TableSnapshot | None:
        """The snapshot that committed ``delivery_id``, if any."""
        return _snapshot_of(self.table(namespace, name), delivery_id)

    def resolve(
        self, namespace: str, name: str, *, as_of: datetime | None = None, snapshot: int | None = None
    ) -> TableSnapshot | None:
        """The snapshot a read sees: ``snapshot`` by id, the one current at ``as_of`` (naive: UTC), or
        the current one (None when nothing was committed). NotFound when there is no such snapshot."""
        return self._resolve(self.table(namespace, name), as_of, snapshot)

    def scan(
        self,
        namespace: str,
        name: str,
        *,
        as_of: datetime | None = None,
        snapshot: int | None = None,
        columns: Iterable[str] | None = None,
        row_filter: str | BooleanExpression = ALL_ROWS,
    ) -> pa.Table:
        """The table's rows (those of a snapshot: see :meth:`resolve`), with ``columns`` only and rows
        matching ``row_filter`` (an Iceberg expression or its text, ``"district_code = '360102'"``)."""
        table = self.table(namespace, name)
        seen = self._resolve(table, as_of, snapshot)
        fields = tuple(columns) if columns is not None else ("*",)
        snapshot_id = seen.snapshot_id if seen is not None else None
        return table.scan(row_filter=row_filter, selected_fields=fields, snapshot_id=snapshot_id).to_arrow()

    def lazy(
        self, namespace: str, name: str, *, as_of: datetime | None = None, snapshot: int | None = None
    ) -> pl.LazyFrame:
        """The table's rows as a polars LazyFrame (filters and projections pushed into the scan)."""
        table = self.table(namespace, name)
        seen = self._resolve(table, as_of, snapshot)
        return pl.scan_iceberg(table, snapshot_id=seen.snapshot_id if seen is not None else None)

    def locations(self) -> dict[tuple[str, str], str]:
        """Every table's current metadata file, by ``(namespace, name)``: one query of the catalog, whose
        answer changes with each commit (a reader's cheap check for a new snapshot)."""
        rows = select(
            IcebergTables.table_namespace, IcebergTables.table_name, IcebergTables.metadata_location
        )
        with Session(self.catalog.engine) as session:
            found = session.execute(rows.where(IcebergTables.catalog_name == CATALOG_NAME)).all()
        return {(namespace, name): location or "" for namespace, name, location in found}

    def dataset(self, namespace: str, name: str, snapshot: int | None = None) -> ds.Dataset:
        """The rows of a snapshot (the current one by default) as a ``pyarrow.dataset.Dataset`` over the
        snapshot's data files, in the snapshot's schema: engines read it lazily, columns and row groups
        pruned (DuckDB registers it, polars scans it). Every commit adds or replaces whole files and
        none deletes rows inside a file, so the files are the snapshot."""
        table = self.table(namespace, name)
        scan = table.scan(snapshot_id=snapshot)
        schema = schema_to_pyarrow(scan.projection(), include_field_ids=False)
        paths = [task.file.file_path for task in scan.plan_files()] if table.current_snapshot() else []
        if not paths:
            return ds.dataset(schema.empty_table())
        scheme, netloc, _ = PyArrowFileIO.parse_location(paths[0])
        assert isinstance(table.io, PyArrowFileIO)
        filesystem = table.io.fs_by_scheme(scheme, netloc)
        files = [PyArrowFileIO.parse_location(path)[2] for path in paths]
        return ds.dataset(files, schema=schema, format="parquet", filesystem=filesystem)

    @staticmethod
    def _resolve(table: Table, as_of: datetime | None, snapshot: int | None) -> TableSnapshot | None:
        name = ".".join(table.name())
        if snapshot is not None and as_of is not None:
            raise InputError("give a snapshot or a time, not both")
        if snapshot is not None:
            found = table.snapshot_by_id(snapshot)
            if found is None:
                raise NotFound(f"{name} has no snapshot {snapshot}")
            return TableSnapshot.of(found)
        if as_of is not None:
            moment = as_of if as_of.tzinfo is not None else as_of.replace(tzinfo=UTC)
            found = table.snapshot_as_of_timestamp(int(moment.timestamp() * 1000))
            if found is None:
                history = table.history()
                since = ""
                if history:
                    first = datetime.fromtimestamp(history[0].timestamp_ms / 1000, UTC)
                    since = f" (its first is of {first:%Y-%m-%d %H:%M:%S} UTC)"
                raise NotFound(f"{name} had no snapshot at {moment.isoformat()}{since}")
            return TableSnapshot.of(found)
        current = table.current_snapshot()
        return TableSnapshot.of(current) if current is not None else None


# ---------------------------------------------------------------------- commits


def _snapshot_of(table: Table, delivery_id: str) -> TableSnapshot | None:
    for snapshot in table.snapshots():
        if snapshot.summary is not None and snapshot.summary.get(DELIVERY_ID) == delivery_id:
            return TableSnapshot.of(snapshot)
    return None


def _commit_once(
    table: Table,
    dataset: Dataset,
    rows: pl.DataFrame,
    columns: pa.Schema,
    replace: bool,
    summary: dict[str, str],
) -> TableSnapshot:
    """One attempt: add the columns the table lacks, write the data files, commit one snapshot on the
    table as loaded. CommitFailedException when another commit got there first (the files written for
    this attempt are removed)."""
    transaction = table.transaction()
    have = set(table.schema().column_names)
    added = [f for f in columns if f.name not in have]
    if added:
        with transaction.update_schema() as update:
            for f in added:
                update.add_column(f.name, iceberg_type(f.type, f.name), doc=_doc(dataset, f.name))
    metadata = transaction.table_metadata
    data, target = _as_table_schema(rows, metadata.schema(), dataset)
    # An empty delivery (a view with no rows yet) is a snapshot without files: it is still recorded.
    files = _write_data_files(table.io, metadata, data, target) if data.height else []
    removed = [task.file for task in table.scan().plan_files()] if replace else None
    return TableSnapshot.of(commit_files(table, transaction, summary, files, removed))


def commit_files(
    table: Table,
    transaction: Transaction,
    summary: dict[str, str],
    added: list[DataFile],
    removed: list[DataFile] | None = None,
) -> Snapshot:
    """Commit one snapshot of ``transaction`` adding ``added`` (a fast append) or, when ``removed`` is
    given, replacing those files with them (an overwrite). On CommitFailedException (another commit got
    there first) the added files are deleted before it is raised again."""
    try:
        snapshot_update = transaction.update_snapshot(snapshot_properties=summary)
        if removed is not None:
            with snapshot_update.overwrite() as overwrite:
                for data_file in removed:
                    overwrite.delete_data_file(data_file)
                for data_file in added:
                    overwrite.append_data_file(data_file)
        else:
            with snapshot_update.fast_append() as append:
                for data_file in added:
                    append.append_data_file(data_file)
        committed = transaction.commit_transaction()
    except CommitFailedException:
        for data_file in added:
            table.io.delete(data_file.file_path)
        raise
    snapshot = committed.current_snapshot()
    assert snapshot is not None
    return snapshot


def _as_table_schema(rows: pl.DataFrame, schema: Schema, dataset: Dataset) -> tuple[pl.DataFrame, pa.Schema]:
    """``rows`` with the table's types (cast by polars, without leaving it), in its field order, and
    the Arrow schema of the file that holds them: the table's types, nullability (the key columns
    required) and field ids. Columns the frame does not have are left out (they read as null)."""
    target = pa.schema(
        [f for f in schema_to_pyarrow(schema, include_field_ids=True) if f.name in rows.columns]
    )
    for f in target:
        if not f.nullable and (empty := rows.get_column(f.name).null_count()):
            raise InputError(
                f"{dataset.name}: key column {f.name} has {empty} empty values; a table's key is never empty"
            )
    types = pl.DataFrame(target.empty_table()).schema
    return rows.select(pl.col(name).cast(kind) for name, kind in types.items()), target


def _write_data_files(
    io: FileIO, metadata: TableMetadata, data: pl.DataFrame, target: pa.Schema
) -> list[DataFile]:
    """Write ``data`` (in the table's types; ``target``: the file schema) as the table's data files:
    polars writes an unpartitioned table of plain types (the platform's), pyiceberg the others (a
    partitioned table, decimals, times)."""
    schema = metadata.schema()
    plain = all(_written_by_polars(f.type) for f in target)
    if plain and metadata.spec().is_unpartitioned() and sanitize_column_names(schema) == schema:
        return [_polars_data_file(io, metadata, data, target)]
    arrow = data.to_arrow()
    table = pa.Table.from_arrays([arrow.column(f.name).cast(f.type) for f in target], schema=target)
    return list(_dataframe_to_data_files(table_metadata=metadata, df=table, io=io, write_uuid=uuid.uuid4()))


def _flush_to_disk(path: str) -> None:
    """A local data file is flushed to disk (fsync) before the snapshot naming it is committed, as every
    file the platform writes: a power cut after the commit must not leave the catalog pointing at a
    file that never reached the disk. (On object storage an object exists only once fully stored.)"""
    scheme, _, local = PyArrowFileIO.parse_location(path)
    if scheme != "file":
        return
    fd = os.open(local, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _polars_data_file(io: FileIO, metadata: TableMetadata, data: pl.DataFrame, target: pa.Schema) -> DataFile:
    """One Parquet file written by polars (on every core, from its own columns: pyiceberg's writer,
    single-threaded on Arrow after a copy of every string, took twice as long) and registered from
    its footer as pyiceberg registers the files it writes. The file carries the field ids of
    ``target``; it takes the table's codec, level and row-group limit (``write.parquet.*``) and
    statistics of every column, of which the data file keeps the metrics the table asks for
    (``write.metadata.metrics.*``; by default counts and bounds of every column, text truncated to
    16 characters)."""
    properties = metadata.properties
    written = {**WRITE_PROPERTIES, **properties}
    codec: Any = written[TableProperties.PARQUET_COMPRESSION]  # Iceberg's names of codecs are polars'
    level = int(written[TableProperties.PARQUET_COMPRESSION_LEVEL]) if codec in LEVELLED else None
    buffer = BytesIO()
    data.write_parquet(
        buffer,
        compression=codec,
        compression_level=level,
        statistics=True,
        row_group_size=int(written[TableProperties.PARQUET_ROW_GROUP_LIMIT]),
        arrow_schema=target,
    )
    content = buffer.getvalue()
    path = load_location_provider(metadata.location, properties).new_data_location(
        f"00000-0-{uuid.uuid4()}.parquet"
    )
    with io.new_output(path).create(overwrite=False) as stream:
        stream.write(content)
    _flush_to_disk(path)
    statistics = data_file_statistics_from_parquet_metadata(
        parquet_metadata=pq.read_metadata(pa.BufferReader(content)),
        stats_columns=compute_statistics_plan(metadata.schema(), properties),
        parquet_column_mapping=parquet_path_to_id_mapping(metadata.schema()),
    )
    return DataFile.from_args(
        content=DataFileContent.DATA,
        file_path=path,
        file_format=FileFormat.PARQUET,
        partition=Record(),
        file_size_in_bytes=len(content),
        sort_order_id=None,
        spec_id=metadata.default_spec_id,
        equality_ids=None,
        key_metadata=None,
        **statistics.to_serialized_dict(),
    )


def _written_by_polars(kind: pa.DataType) -> bool:
    """Whether polars writes a column of this (table) type as Iceberg reads it: not decimals (their
    physical type), not times (polars holds nanoseconds)."""
    if pa.types.is_large_list(kind) or pa.types.is_list(kind):
        return _written_by_polars(kind.value_type)
    return bool(
        _is_text(kind)
        or pa.types.is_integer(kind)
        or pa.types.is_floating(kind)
        or pa.types.is_boolean(kind)
        or pa.types.is_date32(kind)
        or pa.types.is_timestamp(kind)
        or pa.types.is_large_binary(kind)
    )


# ---------------------------------------------------------------------- schemas


def storable_schema(frame: pa.Table | pl.DataFrame, dataset: Dataset) -> pa.Schema:
    """The Arrow schema of the frame with types an Iceberg table holds: text as strings (categoricals
    too), timestamps in microseconds, unsigned integers widened; a column of nulls takes the contract's
    type. (The schema only: the rows are cast to the table's types when they are written.)"""
    columns = frame.head(0).to_arrow().schema if isinstance(frame, pl.DataFrame) else frame.schema
    declared = {c.name: c.type for c in dataset.columns}
    fields = []
    for f in columns:
        kind = f.type
        if pa.types.is_dictionary(kind):
            kind = kind.value_type
        if pa.types.is_null(kind):
            kind = _CONTRACT_TYPES[declared.get(f.name, ElementType.string)]
        elif _is_text(kind):
            kind = pa.large_string()
        elif (pa.types.is_list(kind) or pa.types.is_large_list(kind)) and _is_text(kind.value_type):
            kind = pa.large_list(pa.large_string())  # a view's list of source records
        elif pa.types.is_timestamp(kind):
            kind = pa.timestamp("us", kind.tz)
        elif kind in (pa.uint8(), pa.uint16()):
            kind = pa.int32()
        elif kind == pa.uint32():
            kind = pa.int64()
        fields.append(pa.field(f.name, kind))
    return pa.schema(fields)


def _is_text(kind: pa.DataType) -> bool:
    return bool(pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_string_view(kind))


def iceberg_type(kind: pa.DataType, column: str, element_id: int = 0) -> IcebergType:
    """The Iceberg type of an Arrow type (as :func:`storable_schema` leaves it); a list's element takes
    ``element_id`` (catalogs assign fresh ids when a table is created or a column added)."""
    if pa.types.is_large_list(kind) or pa.types.is_list(kind):
        return ListType(
            element_id=element_id,
            element_type=iceberg_type(kind.value_type, column),
            element_required=False,
        )
    simple: dict[pa.DataType, IcebergType] = {
        pa.large_string(): StringType(),
        pa.bool_(): BooleanType(),
        pa.int8(): IntegerType(),
        pa.int16(): IntegerType(),
        pa.int32(): IntegerType(),
        pa.int64(): LongType(),
        pa.float32(): FloatType(),
        pa.float64(): DoubleType(),
        pa.date32(): DateType(),
        pa.time64("us"): TimeType(),
        pa.binary(): BinaryType(),
        pa.large_binary(): BinaryType(),
    }
    if kind in simple:
        return simple[kind]
    if pa.types.is_timestamp(kind) and kind.unit == "us":
        return TimestamptzType() if kind.tz else TimestampType()
    if pa.types.is_decimal(kind):
        return DecimalType(kind.precision, kind.scale)
    raise InputError(f"column {column} has type {kind}, which the lake's tables cannot hold")


def table_schema(dataset: Dataset, columns: pa.Schema) -> Schema:
    """The Iceberg schema of ``columns`` (the first frame published): the frame's types, the contract's
    names and descriptions as docs, the key columns required and the table's identifier fields."""
    keys = [k for k in dataset.key_columns if k in columns.names]
    if len(keys) < len(dataset.key_columns):
        keys = []  # a frame without the whole key (none of the platform's) has no identifier
    fields = [
        NestedField(
            field_id=i,
            name=f.name,
            field_type=iceberg_type(f.type, f.name, element_id=len(columns) + i),
            required=f.name in keys,
            doc=_doc(dataset, f.name),
        )
        for i, f in enumerate(columns, start=1)
    ]
    return Schema(*fields, identifier_field_ids=[f.field_id for f in fields if f.name in keys])


def partition_spec(dataset: Dataset, schema: Schema) -> PartitionSpec:
    """The contract's ``partitioning``, over the columns the table has (a restricted table holds only
    the key and the personal columns)."""
    fields: list[IcebergPartitionField] = []
    for field in dataset.partitioning:
        source = schema.find_field(field.column) if field.column in schema.column_names else None
        if source is None:
            continue
        transform = parse_transform(field.transform)
        suffix = field.transform.replace("[", "_").rstrip("]")
        name = field.column if isinstance(transform, IdentityTransform) else f"{field.column}_{suffix}"
        fields.append(
            IcebergPartitionField(
                source_id=source.field_id, field_id=1000 + len(fields), transform=transform, name=name
            )
        )
    return PartitionSpec(*fields)


def _with_partitioning(table: Table, dataset: Dataset) -> Table:
    """``table`` with the contract's partitioning as its spec: the fields the contract no longer
    declares removed, the new ones added (Iceberg's partition evolution: files written before keep the
    spec they were written with, readers prune both). Another process evolving it at once wins."""
    wanted = partition_spec(dataset, table.schema()).fields
    have = table.spec().fields
    signature = lambda f: (f.source_id, str(f.transform))  # noqa: E731
    if {signature(f) for f in have} == {signature(f) for f in wanted}:
        return table
    try:
        with table.update_spec() as update:
            for field in have:
                if signature(field) not in {signature(f) for f in wanted}:
                    update.remove_field(field.name)
            for field in wanted:
                source = table.schema().find_column_name(field.source_id)
                if source is not None and signature(field) not in {signature(f) for f in have}:
                    update.add_field(source, field.transform, field.name)
    except CommitFailedException:
        pass
    table.refresh()
    return table


def sort_order(dataset: Dataset, schema: Schema) -> SortOrder:
    """Ascending by the key columns the table has."""
    keys = [schema.find_field(k) for k in dataset.key_columns if k in schema.column_names]
    return SortOrder(
        *(
            SortField(
                source_id=k.field_id,
                transform=IdentityTransform(),
                direction=SortDirection.ASC,
                null_order=NullOrder.NULLS_FIRST,
            )
            for k in keys
        )
    )


def _described(dataset: Dataset) -> dict[str, Any]:
    """The contract's schema object of the dataset, as written."""
    for obj in dataset.contract.schema_ or []:
        if obj.name == dataset.name:
            return {p.name: p for p in obj.properties or [] if p.name}
    return {}


def _doc(dataset: Dataset, column: str) -> str | None:
    """A column's business name and description from the contract (``业务名: description``)."""
    prop = _described(dataset).get(column)
    if prop is None:
        return None
    parts = [p for p in (prop.businessName, prop.description) if p]
    return ": ".join(dict.fromkeys(parts)) or None


def _comment(dataset: Dataset) -> str:
    for obj in dataset.contract.schema_ or []:
        if obj.name == dataset.name and obj.description:
            return f"{dataset.title}: {obj.description}"
    return dataset.title

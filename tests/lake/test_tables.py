"""The lake's Iceberg tables (datahub.lake.tables) on a real SQL catalog in SQLite and a local warehouse."""

from __future__ import annotations

import multiprocessing
from dataclasses import replace
from datetime import datetime, timedelta
from multiprocessing.sharedctypes import Synchronized
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.conversions import from_bytes
from pyiceberg.exceptions import CommitFailedException
from pyiceberg.table.sorting import SortDirection
from pyiceberg.transforms import MonthTransform
from pyiceberg.types import BooleanType, DateType, DoubleType, LongType, StringType, TimestampType
from sqlalchemy import inspect

from datahub.contracts import Catalog, Dataset, load_contract
from datahub.contracts.model import PartitionField
from datahub.dictionary import Dictionary, ElementType, load_dictionary
from datahub.errors import InputError, NotFound
from datahub.lake import tables
from datahub.lake.tables import (
    CONTRACT_VERSION,
    DELIVERY_ID,
    PUBLISHED,
    RESTRICTED,
    ROWS,
    VIEWS,
    TableSnapshot,
    TableStore,
)
from datahub.metadata.store import MetadataStore
from tests.conftest import ROOT

VALUES = {
    ElementType.string: lambda n: f"v{n}",
    ElementType.integer: lambda n: n,
    ElementType.decimal: lambda n: n / 4,
    ElementType.date: lambda n: datetime(2026, 1, 1).date() + timedelta(days=n),
    ElementType.timestamp: lambda n: datetime(2026, 1, 1, 8) + timedelta(days=n),
    ElementType.boolean: lambda n: n % 2 == 0,
}
DTYPES = {
    ElementType.string: pl.String,
    ElementType.integer: pl.Int64,
    ElementType.decimal: pl.Float64,
    ElementType.date: pl.Date,
    ElementType.timestamp: pl.Datetime("us"),
    ElementType.boolean: pl.Boolean,
}


def published(dataset: Dataset, numbers: range) -> pl.DataFrame:
    """Rows shaped as the pipeline publishes them: the contract's columns with their types (a text key
    numbered ``K000042``, a timestamp ``n`` days into 2026) and the lineage columns."""
    columns = {
        c.name: pl.Series(
            c.name,
            [
                f"K{n:06d}" if c.primary_key and c.type is ElementType.string else VALUES[c.type](n)
                for n in numbers
            ],
            dtype=DTYPES[c.type],
        )
        for c in dataset.columns
    }
    lineage = {"_source_file": [f"delivery{numbers.start}.csv"] * len(numbers), "_row_number": list(numbers)}
    return pl.DataFrame({**columns, **lineage})


def restricted(dataset: Dataset, numbers: range) -> pl.DataFrame:
    """The key and the raw personal values of the same rows, as the pipeline keeps them."""
    personal = [c.name for c in dataset.columns if c.desensitise.value != "keep"]
    return published(dataset, numbers).select([*dataset.key_columns, *personal])


@pytest.fixture
def store(tmp_path: Path) -> TableStore:
    store = TableStore(f"sqlite:///{tmp_path / 'metadata.db'}", (tmp_path / "warehouse").as_uri())
    yield store
    store.close()


@pytest.fixture
def hotline(catalog: Catalog) -> Dataset:
    return catalog.get("hotline_12345")


@pytest.fixture
def events_unified(dictionary: Dictionary) -> Dataset:
    return load_contract(ROOT / "contracts" / "views" / "events_unified.odcs.yaml", dictionary)[0]


def keys(rows: pa.Table, column: str = "work_order_id") -> list[str]:
    return sorted(rows.column(column).to_pylist())


def test_a_table_takes_its_schema_from_the_contract_and_the_frame(
    store: TableStore, hotline: Dataset
) -> None:
    store.commit(
        PUBLISHED, hotline, "d1", published(hotline, range(3)), replace=False, contract_version="1.0.0"
    )
    table = store.table(PUBLISHED, "hotline_12345")
    schema = table.schema()
    types = {f.name: f.field_type for f in schema.fields}
    assert types["work_order_id"] == StringType()
    assert types["report_time"] == TimestampType()
    assert types["satisfaction"] == LongType()
    assert types["is_resolved"] == BooleanType()
    assert types["_row_number"] == LongType()  # lineage columns are kept as published
    assert schema.find_field("caller_name").doc == "来电人姓名"  # the contract's business name
    assert "district name" in (schema.find_field("district_code").doc or "")  # and its description
    key = schema.find_field("work_order_id")
    assert key.required and not schema.find_field("report_time").required
    assert schema.identifier_field_ids == [key.field_id]
    assert schema.identifier_field_names() == {"work_order_id"}
    [by_key] = table.sort_order().fields
    assert by_key.source_id == key.field_id and by_key.direction == SortDirection.ASC
    assert table.spec().is_unpartitioned()
    assert table.properties["comment"].startswith("12345热线工单")


def test_data_files_carry_field_ids_and_the_bounds_of_every_column(
    store: TableStore, hotline: Dataset
) -> None:
    store.commit(
        PUBLISHED, hotline, "d1", published(hotline, range(50)), replace=False, contract_version="1.0.0"
    )
    table = store.table(PUBLISHED, "hotline_12345")
    assert table.properties["write.parquet.compression-level"] == "1"
    schema = table.schema()
    [task] = table.scan().plan_files()
    footer = pq.read_metadata(task.file.file_path.removeprefix("file://"))
    columns = footer.schema.to_arrow_schema()
    ids = {f.name: int(f.metadata[b"PARQUET:field_id"]) for f in columns}
    assert ids == {f.name: f.field_id for f in schema.fields}
    assert footer.row_group(0).column(0).compression == "ZSTD"
    assert set(task.file.lower_bounds) == set(task.file.upper_bounds) == set(ids.values())
    key = schema.find_field("work_order_id")
    low, high = task.file.lower_bounds[key.field_id], task.file.upper_bounds[key.field_id]
    assert (from_bytes(key.field_type, low), from_bytes(key.field_type, high)) == ("K000000", "K000049")
    assert task.file.null_value_counts[key.field_id] == 0 and task.file.record_count == 50
    # A reader skips the file by those bounds.
    assert not list(table.scan(row_filter="work_order_id = 'K000050'").plan_files())
    assert not list(table.scan(row_filter="report_time < '2025-01-01T00:00:00'").plan_files())


def test_decimal_and_date_columns_of_a_view(store: TableStore, dictionary: Dictionary) -> None:
    kpis = load_contract(ROOT / "contracts" / "views" / "event_kpis_daily.odcs.yaml", dictionary)[0]
    store.commit(VIEWS, kpis, "build1", published(kpis, range(4)), replace=True, contract_version="1.0.0")
    schema = store.table(VIEWS, "event_kpis_daily").schema()
    assert schema.find_field("date").field_type == DateType()
    assert schema.find_field("closure_rate").field_type == DoubleType()
    assert schema.identifier_field_names() == {"date", "department", "district_code", "category"}


def test_the_partitioning_declared_in_the_contract(store: TableStore, hotline: Dataset) -> None:
    by_month = replace(hotline, partitioning=(PartitionField("report_time", "month"),))
    frame = published(by_month, range(0, 90, 3))  # report_time across January to March
    store.commit(PUBLISHED, by_month, "d1", frame, replace=False, contract_version="1.0.0")
    table = store.table(PUBLISHED, "hotline_12345")
    [field] = table.spec().fields
    assert isinstance(field.transform, MonthTransform)
    assert field.source_id == table.schema().find_field("report_time").field_id
    assert field.name == "report_time_month"
    files = table.inspect.files()
    assert files.num_rows == 3  # one data file per month
    march = store.scan(PUBLISHED, "hotline_12345", row_filter="report_time >= '2026-03-01T00:00:00'")
    assert march.num_rows == sum(1 for n in range(0, 90, 3) if n >= 59)
    # The restricted table holds only the key and personal values: no report_time to partition by.
    store.commit(
        RESTRICTED, by_month, "d1", restricted(by_month, range(3)), replace=False, contract_version="1"
    )
    assert store.table(RESTRICTED, "hotline_12345").spec().is_unpartitioned()


def test_appends_and_a_replacement_each_make_one_snapshot_with_the_delivery(
    store: TableStore, hotline: Dataset
) -> None:
    first = store.commit(
        PUBLISHED, hotline, "d1", published(hotline, range(0, 5)), replace=False, contract_version="1.0.0"
    )
    second = store.commit(
        PUBLISHED, hotline, "d2", published(hotline, range(5, 8)), replace=False, contract_version="1.0.0"
    )
    third = store.commit(
        PUBLISHED, hotline, "d3", published(hotline, range(100, 102)), replace=True, contract_version="1.1.0"
    )
    assert [s.operation for s in store.snapshots(PUBLISHED, "hotline_12345")] == [
        "append",
        "append",
        "overwrite",
    ]
    assert (first.rows, second.rows, third.rows) == (5, 8, 2)
    assert (third.delivery_id, third.contract_version, third.delivery_rows) == ("d3", "1.1.0", 2)
    assert store.current(PUBLISHED, "hotline_12345") == third
    assert keys(store.scan(PUBLISHED, "hotline_12345")) == ["K000100", "K000101"]
    summary = store.table(PUBLISHED, "hotline_12345").snapshot_by_id(second.snapshot_id).summary
    assert (summary[DELIVERY_ID], summary[CONTRACT_VERSION], summary[ROWS]) == ("d2", "1.0.0", "3")
    assert store.snapshot_of(PUBLISHED, "hotline_12345", "d2") == second


def test_a_delivery_is_committed_once(store: TableStore, hotline: Dataset) -> None:
    frame = published(hotline, range(4))
    first = store.commit(PUBLISHED, hotline, "d1", frame, replace=False, contract_version="1.0.0")
    store.commit(
        PUBLISHED, hotline, "d2", published(hotline, range(4, 6)), replace=False, contract_version="1.0.0"
    )
    again = store.commit(PUBLISHED, hotline, "d1", frame, replace=False, contract_version="1.0.0")
    assert again == first
    assert len(store.snapshots(PUBLISHED, "hotline_12345")) == 2
    assert store.scan(PUBLISHED, "hotline_12345").num_rows == 6


def test_time_travel_by_snapshot_and_by_time(store: TableStore, hotline: Dataset) -> None:
    first = store.commit(
        PUBLISHED, hotline, "d1", published(hotline, range(3)), replace=False, contract_version="1.0.0"
    )
    second = store.commit(
        PUBLISHED, hotline, "d2", published(hotline, range(3, 5)), replace=False, contract_version="1.0.0"
    )
    assert keys(store.scan(PUBLISHED, "hotline_12345", snapshot=first.snapshot_id)) == [
        "K000000",
        "K000001",
        "K000002",
    ]
    assert store.scan(PUBLISHED, "hotline_12345", as_of=first.committed_at).num_rows == 3
    assert store.scan(PUBLISHED, "hotline_12345", as_of=second.committed_at).num_rows == 5
    naive_utc = second.committed_at.replace(tzinfo=None) + timedelta(hours=1)
    assert store.resolve(PUBLISHED, "hotline_12345", as_of=naive_utc) == second
    lazy = store.lazy(PUBLISHED, "hotline_12345", snapshot=first.snapshot_id)
    assert lazy.select(pl.len()).collect().item() == 3
    columns = store.scan(PUBLISHED, "hotline_12345", columns=["work_order_id", "satisfaction"])
    assert columns.column_names == ["work_order_id", "satisfaction"]

    with pytest.raises(NotFound, match="had no snapshot at"):
        store.scan(PUBLISHED, "hotline_12345", as_of=first.committed_at - timedelta(seconds=1))
    with pytest.raises(NotFound, match="has no snapshot 42"):
        store.scan(PUBLISHED, "hotline_12345", snapshot=42)
    with pytest.raises(NotFound, match=r"no table published\.nothing"):
        store.current(PUBLISHED, "nothing")


def test_a_column_added_by_a_new_contract_version_is_added_to_the_table(
    store: TableStore, hotline: Dataset
) -> None:
    old = store.commit(
        PUBLISHED, hotline, "d1", published(hotline, range(2)), replace=False, contract_version="1.0.0"
    )
    newer = published(hotline, range(2, 4)).with_columns(pl.lit("东湖").alias("grid_name"))
    store.commit(PUBLISHED, hotline, "d2", newer, replace=False, contract_version="1.1.0")
    rows = store.scan(PUBLISHED, "hotline_12345")
    by_key = dict(
        zip(rows.column("work_order_id").to_pylist(), rows.column("grid_name").to_pylist(), strict=True)
    )
    assert by_key == {"K000000": None, "K000001": None, "K000002": "东湖", "K000003": "东湖"}
    assert "grid_name" not in store.scan(PUBLISHED, "hotline_12345", snapshot=old.snapshot_id).column_names


def test_a_key_with_empty_values_is_refused(store: TableStore, hotline: Dataset) -> None:
    frame = published(hotline, range(3)).with_columns(
        pl.when(pl.col("_row_number") == 1)
        .then(None)
        .otherwise(pl.col("work_order_id"))
        .alias("work_order_id")
    )
    with pytest.raises(InputError, match="key column work_order_id has 1 empty values"):
        store.commit(PUBLISHED, hotline, "d1", frame, replace=False, contract_version="1.0.0")
    assert store.current(PUBLISHED, "hotline_12345") is None


def test_the_catalog_lives_beside_the_platforms_tables(tmp_path: Path, hotline: Dataset) -> None:
    url = f"sqlite:///{tmp_path / 'metadata.db'}"
    platform_first = MetadataStore(url)
    store = TableStore(url, (tmp_path / "warehouse").as_uri())
    store.commit(
        PUBLISHED, hotline, "d1", published(hotline, range(2)), replace=False, contract_version="1.0.0"
    )
    again = MetadataStore(url)  # create_all and the added-columns check leave the catalog alone
    names = set(inspect(again.engine).get_table_names())
    assert {"iceberg_tables", "iceberg_namespace_properties", "deliveries", "snapshots"} <= names
    assert TableStore(url, (tmp_path / "warehouse").as_uri()).current(PUBLISHED, "hotline_12345") is not None
    for metadata in (platform_first, again):
        metadata.dispose()
    store.close()


def test_every_table_reads_with_pyiceberg_alone_and_with_polars_and_duckdb(
    tmp_path: Path, store: TableStore, hotline: Dataset, events_unified: Dataset
) -> None:
    store.commit(
        PUBLISHED, hotline, "d1", published(hotline, range(5)), replace=False, contract_version="1.0.0"
    )
    store.commit(
        PUBLISHED, hotline, "d2", published(hotline, range(5, 7)), replace=False, contract_version="1.0.0"
    )
    store.commit(
        RESTRICTED, hotline, "d1", restricted(hotline, range(5)), replace=False, contract_version="1.0.0"
    )
    store.commit(
        VIEWS,
        events_unified,
        "b1",
        published(events_unified, range(4)),
        replace=True,
        contract_version="1.0.0",
    )
    expected = {
        ("published", "hotline_12345"): ("work_order_id", 7),
        ("restricted", "hotline_12345"): ("work_order_id", 5),
        ("views", "events_unified"): ("event_id", 4),
    }

    # Only pyiceberg, polars and duckdb from here: what another engine's user would have.
    outside = SqlCatalog(
        "datahub", uri=f"sqlite:///{tmp_path / 'metadata.db'}", warehouse=(tmp_path / "warehouse").as_uri()
    )
    found = {(ns[0], t[-1]) for ns in outside.list_namespaces() for t in outside.list_tables(ns)}
    assert found == set(expected)
    for identifier, (key, rows) in expected.items():
        table = outside.load_table(identifier)
        arrow = table.scan().to_arrow()
        assert arrow.num_rows == rows and arrow.column(key).null_count == 0
        assert len(set(arrow.column(key).to_pylist())) == rows
        by_polars = pl.scan_iceberg(table).select(pl.col(key).n_unique(), pl.len()).collect()
        assert by_polars.row(0) == (rows, rows)
        by_duckdb = duckdb.sql(f"select count(distinct {key}), count(*) from arrow").fetchall()[0]
        assert by_duckdb == (rows, rows)
    personal = outside.load_table(("restricted", "hotline_12345")).scan().to_arrow()
    assert set(personal.column_names) == {
        "work_order_id",
        "caller_name",
        "caller_phone",
        "caller_id_number",
        "complaint_text",
        "address",
    }
    outside.close()


def _commit_many(
    url: str, warehouse: str, writer: str, deliveries: int, start: Barrier, lost: Synchronized
) -> None:
    """One publisher: its own store and catalog connection, committing ``deliveries`` appends of its own,
    each followed by one both publishers commit (``S0``…, the same rows: a delivery taken over by another
    run); counts in ``lost`` the commits another process's commit got ahead of (then retried)."""
    dataset = Catalog.load(ROOT / "contracts", load_dictionary(ROOT / "dictionary")).get("hotline_12345")
    attempt = tables._commit_once

    def counted(*args: Any) -> TableSnapshot:
        try:
            return attempt(*args)
        except CommitFailedException:
            with lost.get_lock():
                lost.value += 1
            raise

    tables._commit_once = counted
    store = TableStore(url, warehouse)
    start.wait()
    for i in range(deliveries):
        first = (ord(writer) * 1000) + i * 10
        frame = published(dataset, range(first, first + 10))
        store.commit(PUBLISHED, dataset, f"{writer}{i}", frame, replace=False, contract_version="1.0.0")
        shared = published(dataset, range(90000 + i * 10, 90000 + i * 10 + 10))
        start.wait()  # both at once
        store.commit(PUBLISHED, dataset, f"S{i}", shared, replace=False, contract_version="1.0.0")
    store.close()


def test_two_processes_committing_to_one_table_lose_nothing(
    tmp_path: Path, store: TableStore, hotline: Dataset
) -> None:
    url, warehouse = f"sqlite:///{tmp_path / 'metadata.db'}", (tmp_path / "warehouse").as_uri()
    # The table exists before the race: both processes only commit.
    store.commit(
        PUBLISHED, hotline, "d0", published(hotline, range(0, 10)), replace=False, contract_version="1.0.0"
    )
    deliveries = 8
    context = multiprocessing.get_context("spawn")
    start, lost = context.Barrier(2), context.Value("i", 0)
    writers = [
        context.Process(target=_commit_many, args=(url, warehouse, w, deliveries, start, lost)) for w in "AB"
    ]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(timeout=120)
    assert [w.exitcode for w in writers] == [0, 0]
    assert lost.value > 0  # the two did race: commits were refused on a stale base and retried

    history = store.snapshots(PUBLISHED, "hotline_12345")
    committed = sorted(s.delivery_id or "" for s in history)
    assert committed == sorted(["d0", *(f"{w}{i}" for w in "ABS" for i in range(deliveries))])  # each once
    rows = store.scan(PUBLISHED, "hotline_12345")
    assert rows.num_rows == 10 * (1 + 3 * deliveries)
    assert len(set(rows.column("work_order_id").to_pylist())) == rows.num_rows
    # One table, one line of history: each snapshot builds on the one before.
    table = store.table(PUBLISHED, "hotline_12345")
    parents = [table.snapshot_by_id(s.snapshot_id).parent_snapshot_id for s in history]
    assert parents == [None, *(s.snapshot_id for s in history[:-1])]
    orphans = {Path(p) for p in (tmp_path / "warehouse").rglob("*.parquet")} - {
        Path(f.removeprefix("file://")) for f in table.inspect.files().column("file_path").to_pylist()
    }
    assert not orphans  # files written for a commit that lost the race were removed


def test_a_changed_partitioning_applies_to_new_files_and_every_row_still_reads(
    store: TableStore, hotline: Dataset
) -> None:
    store.commit(
        PUBLISHED, hotline, "d1", published(hotline, range(0, 30)), replace=False, contract_version="1.0.0"
    )
    assert not store.table(PUBLISHED, "hotline_12345").spec().fields
    by_month = replace(hotline, partitioning=(PartitionField("report_time", "month"),))
    store.commit(
        PUBLISHED, by_month, "d2", published(by_month, range(30, 90)), replace=False, contract_version="1.0.0"
    )
    table = store.table(PUBLISHED, "hotline_12345")
    [field] = table.spec().fields
    assert isinstance(field.transform, MonthTransform)
    files = table.inspect.files().to_pylist()
    assert sorted(f["spec_id"] for f in files)[0] == 0 and len({f["spec_id"] for f in files}) == 2
    assert store.scan(PUBLISHED, "hotline_12345").num_rows == 90
    march = store.scan(PUBLISHED, "hotline_12345", row_filter="report_time >= '2026-03-01T00:00:00'")
    assert march.num_rows == sum(1 for n in range(90) if n >= 59)  # day n of 2026: March from day 59
    # Declaring none again removes the field; what was written stays readable.
    store.commit(
        PUBLISHED, hotline, "d3", published(hotline, range(90, 95)), replace=False, contract_version="1.0.0"
    )
    assert not store.table(PUBLISHED, "hotline_12345").spec().fields
    assert store.scan(PUBLISHED, "hotline_12345").num_rows == 95

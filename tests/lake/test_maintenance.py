"""Maintenance of the lake's tables (datahub.lake.maintenance) on a real SQL catalog in SQLite and a local
warehouse: snapshots expired by the contract's retention, orphan files removed, small files compacted,
with reads and deliveries going on meanwhile."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pyarrow import fs
from typer.testing import CliRunner

from datahub.cli import app
from datahub.contracts import Catalog, Dataset, load_contract
from datahub.contracts.model import PartitionField
from datahub.dictionary import Dictionary
from datahub.errors import InputError, StorageUnavailable
from datahub.lake import maintenance
from datahub.lake.maintenance import (
    MAINTENANCE,
    maintain,
    maintain_platform,
    platform_retention,
    retention_of,
)
from datahub.lake.tables import PUBLISHED, RESTRICTED, VIEWS, TableSnapshot, TableStore
from datahub.platform import Platform
from datahub.settings import Settings
from tests.conftest import ROOT
from tests.lake.seaweed import SeaweedS3
from tests.lake.test_tables import published

HOTLINE = (PUBLISHED, "hotline_12345")
DAY = timedelta(days=1)
runner = CliRunner()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[TableStore]:
    store = TableStore(f"sqlite:///{tmp_path / 'metadata.db'}", (tmp_path / "warehouse").as_uri())
    yield store
    store.close()


@pytest.fixture
def hotline(catalog: Catalog) -> Dataset:
    return catalog.get("hotline_12345")


def deliver(
    store: TableStore, dataset: Dataset, count: int, rows: int = 10, first: int = 0
) -> list[TableSnapshot]:
    """``count`` appends of ``rows`` rows each (delivery ``d<first + i>``, keys numbered from
    ``(first + i) * rows``), a few milliseconds apart so that each snapshot has a time of its own."""
    done = []
    for i in range(first, first + count):
        frame = published(dataset, range(i * rows, (i + 1) * rows))
        done.append(store.commit(PUBLISHED, dataset, f"d{i}", frame, replace=False, contract_version="1.0.0"))
        time.sleep(0.003)
    return done


def keys(rows: pa.Table) -> list[str]:
    return sorted(rows.column("work_order_id").to_pylist())


def data_files(store: TableStore, name: str = "hotline_12345") -> list[str]:
    return store.table(PUBLISHED, name).inspect.files().column("file_path").to_pylist()


def all_files(tmp_path: Path) -> set[Path]:
    return {p for p in (tmp_path / "warehouse").rglob("*") if p.is_file()}


# ---------------------------------------------------------------------- retention


def test_the_retention_is_the_contracts_sla(hotline: Dataset, dictionary: Dictionary) -> None:
    assert retention_of(hotline) == 5 * 365 * DAY  # retention: 5 y
    view = load_contract(ROOT / "contracts" / "views" / "events_unified.odcs.yaml", dictionary)[0]
    assert retention_of(view) == 5 * 365 * DAY  # a view's own contract
    without = replace(hotline, contract=hotline.contract.model_copy(update={"slaProperties": None}))
    assert retention_of(without) is None


def test_the_platforms_tables_take_their_contracts_retention(platform: Platform) -> None:
    found = platform_retention(platform)
    names = {dataset.name for dataset in platform.catalog}
    assert {name for namespace, name in found if namespace == PUBLISHED} == names
    assert {name for namespace, name in found if namespace == RESTRICTED} == names
    assert {name for namespace, name in found if namespace == VIEWS} == {
        "events_unified",
        "event_kpis_daily",
        "resources_available",
        "sensor_alerts",
    }
    assert found[HOTLINE] == found[(RESTRICTED, "hotline_12345")] == 5 * 365 * DAY


# ---------------------------------------------------------------------- expiry


def test_snapshots_beyond_the_retention_are_expired_and_every_moment_within_it_still_reads(
    store: TableStore, hotline: Dataset
) -> None:
    s = deliver(store, hotline, 5)
    # At `now`, the retention reaches back to the moment s[2] was committed: s[0] and s[1] had stopped
    # being current by then and are expired; s[2] was current at that moment and is kept.
    now = s[2].committed_at + DAY
    retention = {HOTLINE: DAY}

    dry = maintain(store, retention, now=now, min_small_files=10, dry_run=True)
    assert dry.tables[0].snapshots_expired == 2
    assert len(store.snapshots(*HOTLINE)) == 5  # a dry run changes nothing

    with_four = maintain(store, retention, now=now, min_snapshots=4, min_small_files=10, dry_run=True)
    assert with_four.tables[0].snapshots_expired == 1  # the newest four are kept whatever their age

    report = maintain(store, retention, now=now, min_small_files=10)
    [table] = report.tables
    assert (table.table, table.retention, table.snapshots_before, table.snapshots_expired) == (
        "published.hotline_12345",
        DAY,
        5,
        2,
    )
    kept = store.snapshots(*HOTLINE)
    assert [k.delivery_id for k in kept] == ["d2", "d3", "d4"]
    assert store.resolve(*HOTLINE, as_of=now - DAY).delivery_id == "d2"
    assert store.scan(*HOTLINE, snapshot=s[2].snapshot_id).num_rows == 30
    assert store.scan(*HOTLINE).num_rows == 50
    # The expired snapshots' data files are all the current one's too: none was removed.
    assert len(data_files(store)) == 5


def test_the_current_snapshot_is_always_kept_and_a_table_without_retention_keeps_its_history(
    store: TableStore, hotline: Dataset
) -> None:
    deliver(store, hotline, 3)
    store.commit(
        PUBLISHED, hotline, "again", published(hotline, range(3)), replace=True, contract_version="1.0.0"
    )
    years_later = datetime.now(UTC) + 3650 * DAY
    assert maintain(store, {}, now=years_later).tables[0].snapshots_expired == 0  # no retention: all kept
    report = maintain(
        store, {HOTLINE: DAY}, now=years_later, orphan_older_than=timedelta(0), min_small_files=10
    )
    assert report.tables[0].snapshots_expired == 3
    [current] = store.snapshots(*HOTLINE)
    assert (current.delivery_id, current.rows) == ("again", 3)
    assert keys(store.scan(*HOTLINE)) == ["K000000", "K000001", "K000002"]
    # The three appends' data files went with their snapshots.
    assert report.tables[0].orphan_files_removed >= 3
    assert len(data_files(store)) == 1


# ---------------------------------------------------------------------- orphan files


def test_orphan_files_older_than_the_limit_are_removed_and_young_ones_left_alone(
    tmp_path: Path, store: TableStore, hotline: Dataset
) -> None:
    deliver(store, hotline, 2)
    table_dir = tmp_path / "warehouse" / "published" / "hotline_12345"
    two_hours_ago = time.time() - 7200
    for path in table_dir.rglob("*"):  # every file of the table is old: age alone removes nothing
        os.utime(path, (two_hours_ago, two_hours_ago))
    referenced = all_files(tmp_path)
    old_orphan = table_dir / "data" / "00000-lost-commit.parquet"
    pq.write_table(pa.table({"work_order_id": ["K999999"]}), old_orphan)
    os.utime(old_orphan, (two_hours_ago, two_hours_ago))
    young_orphan = table_dir / "data" / "00000-commit-in-flight.parquet"  # a commit still on its way
    pq.write_table(pa.table({"work_order_id": ["K999998"]}), young_orphan)
    beside = tmp_path / "warehouse" / "published" / "hotline_12345_old.parquet"  # not under the table
    beside.write_bytes(b"x")
    os.utime(beside, (two_hours_ago, two_hours_ago))

    report = maintain(store, {HOTLINE: DAY}, dry_run=True)
    assert (report.tables[0].orphan_files_removed, report.tables[0].orphan_bytes_removed) == (
        1,
        old_orphan.stat().st_size,
    )
    assert old_orphan.exists()

    [table] = maintain(store, {HOTLINE: DAY}).tables
    assert (table.orphan_files_removed, table.orphan_bytes_removed) == (
        1,
        report.tables[0].orphan_bytes_removed,
    )
    assert not old_orphan.exists()
    assert young_orphan.exists() and beside.exists()
    assert referenced <= all_files(tmp_path)  # every file the table references is still there
    assert store.scan(*HOTLINE).num_rows == 20

    later = maintain(store, {HOTLINE: DAY}, orphan_older_than=timedelta(0))
    assert later.tables[0].orphan_files_removed == 1 and not young_orphan.exists()


# ---------------------------------------------------------------------- compaction


def test_small_files_are_compacted_into_one_sorted_file_with_the_same_rows(
    store: TableStore, hotline: Dataset
) -> None:
    # Each delivery's rows in shuffled order: only the rewrite's sort puts the keys in order.
    for i in range(12):
        frame = published(hotline, range(i * 10, i * 10 + 10)).sample(fraction=1, shuffle=True, seed=i)
        store.commit(PUBLISHED, hotline, f"d{i}", frame, replace=False, contract_version="1.0.0")
    before = store.current(*HOTLINE)
    assert before is not None
    rows_before = store.scan(*HOTLINE).sort_by("work_order_id")
    assert len(data_files(store)) == 12

    [table] = maintain(store, {HOTLINE: 5 * 365 * DAY}, target_file_mb=1).tables
    assert (table.files_before, table.files_after, table.snapshots_expired) == (12, 1, 0)
    [compacted] = data_files(store)
    assert store.scan(*HOTLINE).sort_by("work_order_id").equals(rows_before)  # every row, once
    in_file = pq.read_table(compacted.removeprefix("file://")).column("work_order_id").to_pylist()
    assert in_file == sorted(in_file) and len(in_file) == 120  # by the table's sort order (its key)

    current = store.table(*HOTLINE).current_snapshot()
    assert current is not None and current.snapshot_id == table.compaction_snapshot
    assert current.parent_snapshot_id == before.snapshot_id
    assert current.summary is not None and current.summary[MAINTENANCE] == "compaction"
    assert current.summary.operation.value == "overwrite"  # pyiceberg 0.12 writes no "replace"
    assert (current.summary["deleted-data-files"], current.summary["added-data-files"]) == ("12", "1")
    assert current.summary["total-records"] == "120"
    assert store.scan(*HOTLINE, snapshot=before.snapshot_id).num_rows == 120  # time travel still reads

    again = maintain(store, {HOTLINE: 5 * 365 * DAY}, target_file_mb=1).tables[0]
    assert (again.files_before, again.files_after, again.compaction_snapshot) == (1, 1, None)


def test_compaction_writes_as_many_files_as_the_target_size_needs(
    store: TableStore, hotline: Dataset
) -> None:
    deliver(store, hotline, 8, rows=50)
    total = sum(store.table(*HOTLINE).inspect.files().column("file_size_in_bytes").to_pylist())
    target_mb = total / 2.5 / (1024 * 1024)  # the bytes of 8 files fit in 3 of this size
    dry = maintain(store, {}, target_file_mb=target_mb, dry_run=True).tables[0]
    assert (dry.files_before, dry.files_after, dry.compaction_snapshot) == (8, 3, None)
    assert len(data_files(store)) == 8

    [table] = maintain(store, {}, target_file_mb=target_mb).tables
    assert (table.files_before, table.files_after) == (8, 3)
    assert len(data_files(store)) == 3
    assert keys(store.scan(*HOTLINE)) == [f"K{n:06d}" for n in range(400)]


def test_compaction_is_per_partition_and_leaves_few_small_files_alone(
    store: TableStore, hotline: Dataset
) -> None:
    by_month = replace(hotline, partitioning=(PartitionField("report_time", "month"),))
    for i in range(5):  # each delivery spans January to March: one file per month
        frame = published(by_month, range(i * 90, i * 90 + 90))
        frame = frame.with_columns(frame["report_time"].dt.offset_by(f"-{i * 90}d"))
        store.commit(PUBLISHED, by_month, f"d{i}", frame, replace=False, contract_version="1.0.0")
    assert len(data_files(store)) == 15

    few = maintain(store, {}, target_file_mb=1, min_small_files=6).tables[0]
    assert (few.files_before, few.files_after, few.compaction_snapshot) == (15, 15, None)

    [table] = maintain(store, {}, target_file_mb=1).tables
    assert (table.files_before, table.files_after) == (15, 3)  # one file per month
    files = store.table(*HOTLINE).inspect.files()
    months = sorted(p["report_time_month"] for p in files.column("partition").to_pylist())
    assert len(set(months)) == 3 and len(months) == 3
    assert keys(store.scan(*HOTLINE)) == sorted(f"K{n:06d}" for n in range(450))
    march = store.scan(*HOTLINE, row_filter="report_time >= '2026-03-01T00:00:00'")
    assert march.num_rows == 5 * sum(1 for n in range(90) if n >= 59)


def test_the_options_are_checked(store: TableStore) -> None:
    with pytest.raises(InputError, match="min_snapshots must be at least 1"):
        maintain(store, {}, min_snapshots=0)
    with pytest.raises(InputError, match="min_small_files must be at least 2"):
        maintain(store, {}, min_small_files=1)


# ---------------------------------------------------------------------- concurrency


@pytest.mark.parametrize("replace_all", [False, True], ids=["append", "replacement"])
def test_a_delivery_committed_during_compaction_is_neither_lost_nor_duplicated(
    tmp_path: Path, store: TableStore, hotline: Dataset, monkeypatch: pytest.MonkeyPatch, replace_all: bool
) -> None:
    deliver(store, hotline, 6)
    other = TableStore(store.uri, store.warehouse)  # another process's publisher
    rewrite, attempts = maintenance._rewrite, []

    def delivery_lands_first(*args: Any) -> int:
        """The delivery commits after the compaction was planned, before it commits."""
        attempts.append(args)
        if len(attempts) == 1:
            frame = published(hotline, range(1000, 1010))
            other.commit(PUBLISHED, hotline, "late", frame, replace=replace_all, contract_version="1.0.0")
        return rewrite(*args)

    monkeypatch.setattr(maintenance, "_rewrite", delivery_lands_first)
    [table] = maintain(store, {}, target_file_mb=1).tables
    other.close()

    history = [s.delivery_id for s in store.snapshots(*HOTLINE)]
    assert history.count("late") == 1
    rows = store.scan(*HOTLINE)
    if replace_all:
        # Planned again on the replacement: one file, nothing to compact.
        assert len(attempts) == 1 and table.compaction_snapshot is None
        assert keys(rows) == [f"K{n:06d}" for n in range(1000, 1010)]
    else:
        assert len(attempts) == 2  # the first commit was refused on its stale base, then planned again
        assert (table.files_before, table.files_after) == (7, 1)
        assert keys(rows) == sorted(f"K{n:06d}" for n in [*range(60), *range(1000, 1010)])
        assert history[-2:] == ["late", None]  # the compaction built on the delivery
    assert len(set(keys(rows))) == rows.num_rows
    # The files of the refused attempt were removed: every data file is one a snapshot holds.
    table_files = store.table(*HOTLINE)
    held = set()
    for snapshot in table_files.snapshots():
        held |= set(table_files.inspect.files(snapshot.snapshot_id).column("file_path").to_pylist())
    assert {p.as_uri() for p in (tmp_path / "warehouse").rglob("*.parquet")} == held


def test_a_table_that_keeps_changing_is_reported_and_the_others_are_maintained(
    store: TableStore, hotline: Dataset, monkeypatch: pytest.MonkeyPatch
) -> None:
    deliver(store, hotline, 5)
    for i in range(5):
        frame = published(hotline, range(i * 10, i * 10 + 10)).select("work_order_id", "caller_name")
        store.commit(RESTRICTED, hotline, f"d{i}", frame, replace=False, contract_version="1.0.0")
    other = TableStore(store.uri, store.warehouse)
    rewrite, landed = maintenance._rewrite, []

    def always_overtaken(table: Any, *args: Any) -> int:
        if table.name() == HOTLINE:  # a delivery lands before every attempt to compact it
            frame = published(hotline, range(2000 + len(landed), 2001 + len(landed)))
            other.commit(PUBLISHED, hotline, f"x{len(landed)}", frame, replace=False, contract_version="1")
            landed.append(frame)
        return rewrite(table, *args)

    monkeypatch.setattr(maintenance, "COMMIT_ATTEMPTS", 3)
    monkeypatch.setattr(maintenance, "_rewrite", always_overtaken)
    report = maintain(store, {}, target_file_mb=1)
    other.close()

    by_table = {t.table: t for t in report.tables}
    assert [t.table for t in report.failed] == ["published.hotline_12345"]
    assert "published.hotline_12345 kept changing: it was not compacted" in (
        by_table["published.hotline_12345"].error or ""
    )
    assert by_table["published.hotline_12345"].compaction_snapshot is None
    assert (
        by_table["restricted.hotline_12345"].files_before,
        by_table["restricted.hotline_12345"].files_after,
    ) == (5, 1)
    assert store.scan(*HOTLINE).num_rows == 50 + len(landed) == 53  # every delivery, and no compaction


def test_deliveries_committed_by_another_thread_while_maintenance_runs_all_land_once(
    store: TableStore, hotline: Dataset
) -> None:
    deliver(store, hotline, 8)
    publisher = TableStore(store.uri, store.warehouse)
    errors: list[BaseException] = []

    def publish() -> None:
        try:
            deliver(publisher, hotline, 12, first=100)
        except BaseException as exc:  # reported by the test below
            errors.append(exc)

    thread = threading.Thread(target=publish)
    thread.start()
    while thread.is_alive():
        maintain(store, {HOTLINE: DAY}, target_file_mb=1, min_small_files=2)
    thread.join()
    publisher.close()
    assert not errors
    maintain(store, {HOTLINE: DAY}, target_file_mb=1, min_small_files=2)

    expected = sorted(f"K{n:06d}" for n in [*range(80), *range(1000, 1120)])
    assert keys(store.scan(*HOTLINE)) == expected
    deliveries = [s.delivery_id for s in store.snapshots(*HOTLINE) if s.delivery_id]
    assert len(deliveries) == len(set(deliveries)) == 20  # each once (retention: a day, nothing expired)
    assert len(data_files(store)) == 1


def test_reads_stay_correct_while_maintenance_runs(
    tmp_path: Path, store: TableStore, hotline: Dataset
) -> None:
    s = deliver(store, hotline, 30)
    old = time.time() - 7200
    orphans = tmp_path / "warehouse" / "published" / "hotline_12345" / "data"
    for i in range(20):  # files of commits that lost a race long ago
        lost = orphans / f"lost-{i}.parquet"
        pq.write_table(pa.table({"work_order_id": [f"X{i}"]}), lost)
        os.utime(lost, (old, old))
    kept = s[20]  # the retention reaches back to its commit: kept, s[0]…s[19] expire
    now = kept.committed_at + DAY
    everything, then = [f"K{n:06d}" for n in range(300)], [f"K{n:06d}" for n in range(210)]

    reader = TableStore(store.uri, store.warehouse)
    running, reads, failures = threading.Event(), [0], []

    def read() -> None:
        """Reads the current snapshot and the kept one in a loop until maintenance is over."""
        while True:
            done = not running.is_set()
            try:
                current = keys(reader.scan(*HOTLINE))
                earlier = keys(reader.scan(*HOTLINE, snapshot=kept.snapshot_id))
            except Exception as exc:  # a read that failed is a finding, reported below
                failures.append(repr(exc))
            else:
                if current != everything or earlier != then:
                    failures.append(f"read {len(current)} and {len(earlier)} rows")
            reads[0] += 1
            if done:
                return

    running.set()
    thread = threading.Thread(target=read)
    thread.start()
    while reads[0] < 2:  # the reader is under way
        time.sleep(0.001)
    started = reads[0]
    report = maintain(store, {HOTLINE: DAY}, now=now, target_file_mb=1)
    during = reads[0] - started
    running.clear()
    thread.join()
    reader.close()

    [table] = report.tables
    assert (table.snapshots_expired, table.files_before, table.files_after) == (20, 30, 1)
    assert table.orphan_files_removed >= 20  # the lost files, and the manifest lists of expired snapshots
    assert during >= 1
    assert not failures, failures[:3]


def test_maintenance_on_object_storage(seaweedfs: SeaweedS3, tmp_path: Path, hotline: Dataset) -> None:
    bucket = seaweedfs.create_bucket()
    settings = Settings(home=tmp_path, **seaweedfs.settings_values(f"s3://{bucket}/warehouse"))
    store = TableStore.for_settings(settings)
    deliver(store, hotline, 6)
    table_prefix = f"{bucket}/warehouse/published/hotline_12345"
    s3 = seaweedfs.filesystem()
    with s3.open_output_stream(f"{table_prefix}/data/stray.parquet") as stray:
        stray.write(b"a commit that lost its race")

    [now] = maintain(store, {HOTLINE: DAY}).tables
    assert (now.snapshots_expired, now.orphan_files_removed) == (0, 0)  # the stray object is young
    assert (now.files_before, now.files_after) == (6, 1)

    [later] = maintain(store, {HOTLINE: DAY}, now=datetime.now(UTC) + 10 * DAY).tables
    assert later.snapshots_expired == 6  # the appends; the compaction's snapshot is current
    objects = {
        info.path
        for info in s3.get_file_info(fs.FileSelector(table_prefix, recursive=True))
        if info.type == fs.FileType.File
    }
    assert f"{table_prefix}/data/stray.parquet" not in objects
    assert later.orphan_files_removed >= 1 + 6  # the stray object and the appends' data files
    assert [f"{bucket}/{f.removeprefix(f's3://{bucket}/')}" for f in data_files(store)] == [
        path for path in objects if path.endswith(".parquet")
    ]
    assert keys(store.scan(*HOTLINE)) == [f"K{n:06d}" for n in range(60)]
    store.close()

    refused = TableStore.for_settings(settings, properties={"s3.secret-access-key": "not-the-key"})
    with pytest.raises(
        StorageUnavailable, match=r"cannot maintain published\.hotline_12345 on s3://"
    ) as refusal:
        maintain(refused, {})
    assert "not-the-key" not in str(refusal.value)
    refused.close()


# ---------------------------------------------------------------------- the platform and the command


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "var"
    for variable in ("DATAHUB_METADATA_URL", "DATAHUB_LAKE_WAREHOUSE", "DATAHUB_S3_ENDPOINT"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("DATAHUB_HOME", str(home))
    monkeypatch.setenv("DATAHUB_DEMO_MODE", "true")
    monkeypatch.setenv("COLUMNS", "250")
    return home


def test_datahub_lake_maintain(home: Path, hotline: Dataset) -> None:
    settings = Settings(home=home, demo_mode=True)
    store = TableStore.for_settings(settings)
    deliver(store, hotline, 5)
    store.close()

    dry = runner.invoke(app, ["lake", "maintain", "--dry-run", "--json"])
    assert dry.exit_code == 0, dry.output
    report = json.loads(dry.output)
    [table] = report["tables"]
    assert report["dry_run"] is True
    assert table["table"] == "published.hotline_12345" and table["retention_days"] == 5 * 365
    assert (table["snapshots_before"], table["snapshots_expired"]) == (5, 0)
    assert (table["files_before"], table["files_after"], table["compaction_snapshot"]) == (5, 1, None)

    done = runner.invoke(app, ["lake", "maintain"])
    assert done.exit_code == 0, done.output
    assert "published.hotline_12345" in done.output and "5 → 1" in done.output

    platform = Platform(settings)
    again = maintain_platform(platform)
    platform.metadata.dispose()
    assert [(t.table, t.files_before, t.files_after) for t in again.tables] == [
        ("published.hotline_12345", 1, 1)
    ]

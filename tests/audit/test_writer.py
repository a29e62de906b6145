"""The write-behind writer: everything recorded lands, in order; errors reach flush()."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from datahub.audit import AuditEntry, AuditLog, AuditWriteError, AuditWriter
from datahub.metadata import MetadataStore
from tests.audit.conftest import KEY, entry, raw_rows


class SpyLog(AuditLog):
    """An AuditLog that counts its appends and can be made to fail or to be slow."""

    def __init__(self, store: MetadataStore, anchor: Path | None = None) -> None:
        super().__init__(store, KEY, anchor)
        self.batches: list[int] = []
        self.failures = 0  # the next this many appends raise
        self.delay = 0.0

    def append(self, entries: Iterable[AuditEntry], **options: Any) -> list[int]:
        batch = list(entries)
        if self.failures:
            self.failures -= 1
            raise RuntimeError("disk on fire")
        time.sleep(self.delay)
        self.batches.append(len(batch))
        return super().append(batch, **options)


def test_many_threads_all_land_in_order(audit: AuditLog, db_path: Path) -> None:
    threads_n, count = 8, 300
    writer = AuditWriter(audit, batch_size=50, interval=0.01)
    start = threading.Barrier(threads_n)

    def work(t: int) -> None:
        start.wait()
        for i in range(count):
            writer.record(AuditEntry(action="read", client_id=f"t{t}", rows=i))

    pool = [threading.Thread(target=work, args=(t,)) for t in range(threads_n)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    writer.flush()
    assert writer.pending == 0
    rows = raw_rows(db_path)
    assert len(rows) == threads_n * count
    for t in range(threads_n):
        assert [r["rows"] for r in rows if r["client_id"] == f"t{t}"] == list(range(count))
    result = audit.verify()
    assert result.ok and result.anchor_seq == threads_n * count, result.message
    writer.close()


def test_record_returns_at_once_while_the_database_is_busy(audit: AuditLog, db_path: Path) -> None:
    holder = sqlite3.connect(db_path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    writer = AuditWriter(audit, interval=0.001)
    started = time.monotonic()
    for i in range(200):
        writer.record(entry(i))
    assert time.monotonic() - started < 1.0
    time.sleep(0.1)
    assert audit.count() == 0 and writer.pending == 200
    holder.execute("ROLLBACK")
    holder.close()
    writer.flush(timeout=30)
    assert audit.count() == 200 and audit.verify().ok
    writer.close()


def test_flush_does_not_wait_for_the_interval(store: MetadataStore) -> None:
    log = SpyLog(store)
    writer = AuditWriter(log, interval=30)
    for i in range(3):
        writer.record(entry(i))
    writer.flush(timeout=5)
    assert log.batches == [3] and log.count() == 3  # one batch, written at once
    writer.close()


def test_batches_are_at_most_batch_size(store: MetadataStore) -> None:
    log = SpyLog(store)
    log.delay = 0.02
    writer = AuditWriter(log, batch_size=7, max_pending=7, interval=0.001)  # record() blocks when full
    for i in range(50):
        writer.record(entry(i))
    writer.close()
    assert sum(log.batches) == 50 and max(log.batches) <= 7
    assert [r["rows"] for r in log.query(limit=100)] == [10 * i for i in reversed(range(50))]


def test_flush_raises_a_stored_error_once(store: MetadataStore, caplog: pytest.LogCaptureFixture) -> None:
    log = SpyLog(store)
    log.failures = 1
    writer = AuditWriter(log, retries=0)
    writer.record(entry(1))
    writer.record(entry(2))
    with pytest.raises(AuditWriteError, match="could not write 2 records") as raised:
        writer.flush(timeout=5)
    assert isinstance(raised.value.__cause__, RuntimeError)
    assert "disk on fire" in caplog.text
    writer.flush(timeout=5)  # the error is reported once
    writer.record(entry(3))  # and the writer goes on
    writer.close()
    assert [r["rows"] for r in log.query()] == [30]
    assert log.verify().ok


def test_a_failed_batch_is_retried(store: MetadataStore) -> None:
    log = SpyLog(store)
    log.failures = 2
    writer = AuditWriter(log, retries=2, retry_delay=0.01)
    writer.record(entry(1))
    writer.flush(timeout=5)
    writer.close()
    assert log.count() == 1


def test_close_flushes_and_stops(audit: AuditLog) -> None:
    with AuditWriter(audit, interval=30) as writer:
        for i in range(10):
            writer.record(entry(i))
    assert audit.count() == 10
    with pytest.raises(RuntimeError, match="closed"):
        writer.record(entry(11))
    writer.close()  # again: nothing happens
    with pytest.raises(TypeError):
        AuditWriter(audit).record({"action": "read"})  # type: ignore[arg-type]


def test_close_raises_what_the_thread_could_not_write(store: MetadataStore) -> None:
    log = SpyLog(store)
    log.failures = 1
    writer = AuditWriter(log, retries=0, interval=30)
    writer.record(entry(1))
    with pytest.raises(AuditWriteError):
        writer.close()

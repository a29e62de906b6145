"""Group commit: ``record(entry, wait=True)`` and ``submit(entry)`` return once the entry is committed,
without sitting out the writer's interval, share commits between concurrent callers, and hand a
failed batch's error to the callers waiting for it."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest

from datahub.audit import AuditEntry, AuditLog, AuditWriteError, AuditWriter
from datahub.metadata import MetadataStore
from tests.audit.conftest import entry
from tests.audit.test_writer import SpyLog


def _committed_rows(db_path: Path, seq: int) -> int | None:
    """The ``rows`` of record ``seq`` as another connection sees it (None: not committed)."""
    con = sqlite3.connect(db_path)
    try:
        found = con.execute("SELECT rows FROM audit_log WHERE seq = ?", (seq,)).fetchone()
    finally:
        con.close()
    return None if found is None else int(found[0])


def test_record_with_wait_returns_once_committed_without_the_interval(audit: AuditLog, db_path: Path) -> None:
    writer = AuditWriter(audit, interval=30)
    writer.record(entry(1))  # write-behind: waits for the interval
    started = time.monotonic()
    writer.record(entry(2), wait=True)
    assert time.monotonic() - started < 5  # not the 30 s interval
    assert _committed_rows(db_path, 1) == 10 and _committed_rows(db_path, 2) == 20  # in order, both
    seq = writer.submit(entry(3)).result(timeout=5)
    assert seq == 3 and _committed_rows(db_path, 3) == 30
    writer.close()
    assert audit.verify().ok


def test_concurrent_waiters_share_commits(store: MetadataStore, db_path: Path) -> None:
    log = SpyLog(store)
    log.delay = 0.02  # each commit takes a while: callers arriving meanwhile join the next batch
    writer = AuditWriter(log, interval=30)
    threads_n, count = 8, 15
    start = threading.Barrier(threads_n)
    wrong: list[str] = []

    def work(t: int) -> None:
        start.wait()
        for i in range(count):
            rows = t * 1000 + i
            seq = writer.submit(AuditEntry(action="read", client_id=f"t{t}", rows=rows)).result(timeout=30)
            if _committed_rows(db_path, seq) != rows:  # committed, as the future said, and the right one
                wrong.append(f"t{t} #{i}: seq {seq}")

    pool = [threading.Thread(target=work, args=(t,)) for t in range(threads_n)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    writer.close()
    assert not wrong, wrong[:5]
    assert sum(log.batches) == threads_n * count
    assert len(log.batches) < threads_n * count  # grouped: fewer commits than records
    assert log.verify().ok


def test_a_waiting_caller_gets_its_batch_error(store: MetadataStore) -> None:
    log = SpyLog(store)
    log.failures = 1
    writer = AuditWriter(log, retries=0, interval=30)
    with pytest.raises(AuditWriteError, match="could not be written") as raised:
        writer.record(entry(1), wait=True)
    assert isinstance(raised.value.__cause__, RuntimeError)
    assert raised.value.http_status == 503
    writer.flush(timeout=5)  # the waiting caller had the error: nothing else was lost
    writer.record(entry(2), wait=True)  # and the writer goes on
    writer.close()
    assert [r["rows"] for r in log.query()] == [20]


def test_a_failed_batch_fails_its_waiters_and_reports_the_others_at_flush(store: MetadataStore) -> None:
    log = SpyLog(store)
    log.delay = 0.3
    writer = AuditWriter(log, retries=0, interval=30)
    first = writer.submit(entry(1))  # taken at once: the thread is busy writing it for a while
    time.sleep(0.1)
    log.failures = 1  # the next batch fails: one waited-for entry and one nobody waits for
    writer.record(entry(2))
    second = writer.submit(entry(3))
    assert first.result(timeout=5) == 1
    with pytest.raises(AuditWriteError):
        second.result(timeout=5)
    with pytest.raises(AuditWriteError, match="could not write 1 records"):
        writer.flush(timeout=5)
    writer.close()


def test_a_cancelled_wait_is_written_all_the_same(store: MetadataStore) -> None:
    log = SpyLog(store)
    log.delay = 0.3
    writer = AuditWriter(log, interval=30)
    writer.submit(entry(1))  # the thread is busy with this one
    time.sleep(0.1)
    waiting = writer.submit(entry(2))
    assert waiting.cancel()  # the caller went away before its batch was taken
    writer.flush(timeout=5)
    writer.close()
    assert log.count() == 2 and log.verify().ok


def test_waiting_on_a_stopped_writer_raises(audit: AuditLog) -> None:
    writer = AuditWriter(audit)
    writer.close()
    with pytest.raises(RuntimeError, match="closed"):
        writer.record(entry(1), wait=True)


def test_a_large_append(audit: AuditLog) -> None:
    seqs = audit.append(AuditEntry(action="read", rows=i) for i in range(2500))
    assert seqs == list(range(1, 2501))
    assert audit.count() == 2500 and audit.verify().ok


def _anchored(audit: AuditLog) -> int | None:
    anchor = audit.read_anchor()
    return None if anchor is None else anchor.seq


def _wait_for_anchor(audit: AuditLog, seq: int) -> None:
    deadline = time.monotonic() + 10
    while _anchored(audit) != seq:
        assert time.monotonic() < deadline, f"the anchor did not reach {seq}: {_anchored(audit)}"
        time.sleep(0.02)


def test_the_anchor_moves_at_most_every_anchor_interval_and_catches_up(audit: AuditLog) -> None:
    writer = AuditWriter(audit, anchor_interval=1.0)
    writer.record(entry(1), wait=True)  # returns at the commit; the anchor is moved right after
    _wait_for_anchor(audit, 1)  # the append of record 1 creates the anchor
    started = time.monotonic()
    writer.record(entry(2), wait=True)
    writer.record(entry(3), wait=True)
    time.sleep(0.1)
    if time.monotonic() - started < 0.5:  # (on a machine slow enough to take the interval, it moved)
        assert _anchored(audit) == 1
    assert audit.verify().ok  # a log longer than its anchor verifies
    _wait_for_anchor(audit, 3)  # idle: the writer moves it on its own
    writer.record(entry(4))
    writer.flush(timeout=5)  # a flush anchors at once
    assert _anchored(audit) == 4
    writer.record(entry(5))
    writer.close()  # and so does close
    assert _anchored(audit) == 5 and audit.verify().anchor_seq == 5

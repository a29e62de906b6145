"""Appends from many threads and many processes make one gapless chain, and why BEGIN IMMEDIATE."""

from __future__ import annotations

import multiprocessing
import sqlite3
import threading
import time
from collections import defaultdict
from pathlib import Path

import pytest

from datahub.audit import AuditEntry, AuditLog, record_hash
from datahub.metadata import MetadataStore
from tests.audit import workers
from tests.audit.conftest import KEY, T0, entry, fill, raw_rows


def _rows_by_client(db_path: Path) -> dict[str, list[int]]:
    by_client: dict[str, list[int]] = defaultdict(list)
    for row in raw_rows(db_path):
        by_client[str(row["client_id"])].append(int(row["rows"]))  # type: ignore[call-overload]
    return by_client


def test_threads(store: MetadataStore, db_path: Path, anchor: Path) -> None:
    threads_n, appends = 8, 25
    shared = AuditLog(store, KEY, anchor)
    results: dict[int, list[list[int]]] = defaultdict(list)
    errors: list[BaseException] = []
    start = threading.Barrier(threads_n)

    def work(t: int) -> None:
        # Half the threads share one AuditLog, the other half open their own on the same file.
        log = shared if t % 2 else AuditLog(MetadataStore(f"sqlite:///{db_path}"), KEY, anchor)
        try:
            start.wait()
            for i in range(appends):
                batch = [AuditEntry(action="read", client_id=f"t{t}", rows=i)] * (1 + i % 3)
                results[t].append(log.append(batch))
        except BaseException as exc:
            errors.append(exc)

    pool = [threading.Thread(target=work, args=(t,)) for t in range(threads_n)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    assert not errors, errors
    total = threads_n * sum(1 + i % 3 for i in range(appends))
    every = sorted(s for calls in results.values() for seqs in calls for s in seqs)
    assert every == list(range(1, total + 1))  # each seq handed out once, no gaps
    for calls in results.values():
        for seqs in calls:  # one append's records are consecutive
            assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
    result = AuditLog(store, KEY, anchor).verify()
    assert result.ok and result.last_seq == total and result.anchor_seq == total, result.message
    for rows in _rows_by_client(db_path).values():
        assert rows == sorted(rows)


def test_processes(db_path: Path, anchor: Path, store: MetadataStore) -> None:
    processes, count = 4, 20
    context = multiprocessing.get_context("spawn")
    with context.Pool(processes) as pool:
        jobs = [(f"sqlite:///{db_path}", str(anchor), w, count) for w in range(processes)]
        results = pool.starmap(workers.append_one_by_one, jobs)
    total = processes * (count + count // 5)
    assert sorted(s for seqs in results for s in seqs) == list(range(1, total + 1))
    result = AuditLog(store, KEY, anchor).verify()
    assert result.ok and result.last_seq == total and result.anchor_seq == total, result.message
    by_client = _rows_by_client(db_path)
    assert sorted(by_client) == [f"p{w}" for w in range(processes)]
    for rows in by_client.values():
        assert rows == sorted(rows)  # each process's records in its order


def test_processes_through_write_behind(db_path: Path, anchor: Path, store: MetadataStore) -> None:
    processes, count = 3, 200
    context = multiprocessing.get_context("spawn")
    pool = [
        context.Process(target=workers.write_behind, args=(f"sqlite:///{db_path}", str(anchor), w, count))
        for w in range(processes)
    ]
    for p in pool:
        p.start()
    for p in pool:
        p.join(60)
    assert [p.exitcode for p in pool] == [0] * processes
    result = AuditLog(store, KEY, anchor).verify()
    assert result.ok and result.last_seq == processes * count, result.message
    for rows in _rows_by_client(db_path).values():
        assert rows == list(range(count))


def test_deferred_read_then_write_fails_under_contention(db_path: Path, store: MetadataStore) -> None:
    """Why appends begin with BEGIN IMMEDIATE: a deferred transaction that has read cannot write once
    another connection committed after its read, and SQLite fails it at once, busy_timeout or not."""
    reader = sqlite3.connect(db_path, isolation_level=None, timeout=5)
    writer = sqlite3.connect(db_path, isolation_level=None, timeout=5)
    try:
        reader.execute("BEGIN")  # deferred
        reader.execute("SELECT max(seq) FROM audit_log").fetchone()
        writer.execute("BEGIN IMMEDIATE")
        writer.execute("CREATE TABLE other (x)")
        writer.execute("COMMIT")
        with pytest.raises(sqlite3.OperationalError, match="database is locked"):
            reader.execute("CREATE TABLE mine (x)")
        reader.execute("ROLLBACK")
    finally:
        reader.close()
        writer.close()


def test_append_waits_for_the_write_lock_and_reads_after_it(
    audit: AuditLog, db_path: Path, anchor: Path
) -> None:
    """Another process holds the write lock and appends seq 4 while our append starts: ours must wait
    and then chain onto 4. (Reading the last seq before taking the lock gives either 'database is
    locked' or a duplicate seq 4.)"""
    fill(audit, 3)
    last = raw_rows(db_path)[-1]
    holder = sqlite3.connect(db_path, isolation_level=None, timeout=5)
    holder.execute("BEGIN IMMEDIATE")
    fields = {
        "seq": 4,
        "at": T0,
        "client_id": "other-process",
        "client_name": None,
        "role": None,
        "action": "read",
        "view": None,
        "columns": None,
        "filter": None,
        "rows": None,
        "purpose": None,
        "detail": None,
    }
    hash4 = record_hash(KEY, str(last["hash"]), fields)
    holder.execute(
        "INSERT INTO audit_log (seq, at, client_id, action, columns, detail, prev_hash, hash) "
        "VALUES (4, ?, 'other-process', 'read', 'null', 'null', ?, ?)",
        (T0.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds"), last["hash"], hash4),
    )
    outcome: list[object] = []
    thread = threading.Thread(target=lambda: outcome.append(_try(audit.append, [entry(5)])))
    thread.start()
    time.sleep(0.3)
    assert thread.is_alive(), f"append did not wait for the write lock: {outcome}"
    holder.execute("COMMIT")
    holder.close()
    thread.join(10)
    assert outcome == [[5]]
    assert audit.verify().ok


def _try(fn: object, *args: object) -> object:
    try:
        return fn(*args)  # type: ignore[operator]
    except Exception as exc:
        return exc

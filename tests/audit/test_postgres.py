"""The same log on Postgres (pg_advisory_xact_lock instead of BEGIN IMMEDIATE), on a throwaway
server the session starts (tests/conftest.py)."""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from datahub.audit import AuditLog
from datahub.metadata import MetadataStore
from tests.audit import workers
from tests.audit.conftest import KEY, entry, fill


@pytest.fixture
def pg(tmp_path: Path, postgres_database: str) -> Iterator[tuple[MetadataStore, AuditLog]]:
    store = MetadataStore(postgres_database)
    log = AuditLog(store, KEY, tmp_path / "HEAD")
    yield store, log
    store.dispose()


def test_chain_and_tampering(pg: tuple[MetadataStore, AuditLog]) -> None:
    store, log = pg
    fill(log, 10)
    assert log.verify(chunk_size=3).ok
    assert [r["seq"] for r in log.query(client_id="client-1", limit=2)] == [10, 7]
    assert log.query()[-1]["detail"] == {"grant": 1, "snapshot": "v1"}
    with store.engine.begin() as conn:
        conn.execute(text("""UPDATE audit_log SET columns = '["身份证号"]' WHERE seq = 5"""))
    result = log.verify()
    assert (result.ok, result.first_bad_seq, result.reason) == (False, 5, "hash mismatch (record edited)")
    with store.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_log WHERE seq > 3"))
    result = log.verify()
    assert not result.ok and result.first_bad_seq == 4 and "anchor says 10" in (result.reason or "")


def test_threads_and_processes(
    pg: tuple[MetadataStore, AuditLog], tmp_path: Path, postgres_database: str
) -> None:
    url = postgres_database
    _, log = pg
    errors: list[BaseException] = []

    def work(t: int) -> None:
        try:
            for i in range(20):
                log.append([entry(i, client_id=f"t{t}")])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    context = multiprocessing.get_context("spawn")
    with context.Pool(3) as pool:
        pending = pool.starmap_async(
            workers.append_one_by_one, [(url, str(tmp_path / "HEAD"), w, 20) for w in range(3)]
        )
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        pending.get(120)
    assert not errors, errors
    result = log.verify()
    assert result.ok and result.last_seq == 4 * 20 + 3 * 24, result.message

"""Process bodies for the multi-process tests (a module of its own, so spawned processes import it)."""

from __future__ import annotations

from pathlib import Path

from datahub.audit import AuditEntry, AuditLog, AuditWriter
from datahub.metadata import MetadataStore
from tests.audit.conftest import KEY


def append_one_by_one(url: str, anchor: str, worker: int, count: int) -> list[int]:
    store = MetadataStore(url)
    log = AuditLog(store, KEY, Path(anchor))
    seqs: list[int] = []
    try:
        for i in range(count):
            batch = [AuditEntry(action="read", client_id=f"p{worker}", rows=i)]
            if i % 5 == 0:  # now and then a batch of two
                batch.append(AuditEntry(action="read", client_id=f"p{worker}", rows=i, purpose="second"))
            seqs.extend(log.append(batch))
    finally:
        log.close()
        store.dispose()
    return seqs


def write_behind(url: str, anchor: str, worker: int, count: int) -> None:
    store = MetadataStore(url)
    log = AuditLog(store, KEY, Path(anchor))
    with AuditWriter(log, batch_size=20, interval=0.005) as writer:
        for i in range(count):
            writer.record(AuditEntry(action="read", client_id=f"w{worker}", rows=i))
    log.close()
    store.dispose()

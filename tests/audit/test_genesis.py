"""The genesis marker: once a log has existed, its absence is an error, even with the anchor gone too."""

from __future__ import annotations

from pathlib import Path

import pytest

from datahub.audit import AuditLog
from datahub.audit.log import GenesisError
from datahub.metadata import MetadataStore
from tests.audit.conftest import KEY, fill, raw_rows, raw_sql


def test_the_first_append_writes_a_signed_marker(audit: AuditLog, db_path: Path) -> None:
    assert audit.read_genesis() is None  # never written to: nothing to miss
    assert audit.verify().ok
    fill(audit, 3)
    genesis = audit.read_genesis()
    assert genesis is not None and genesis.first_hash == raw_rows(db_path)[0]["hash"]
    fill(audit, 2, start=4)
    assert audit.read_genesis() == genesis  # written once, with record 1
    assert audit.verify().ok


def test_every_record_and_the_anchor_deleted_is_an_error(
    audit: AuditLog, store: MetadataStore, db_path: Path, anchor: Path
) -> None:
    fill(audit, 5)
    raw_sql(db_path, "DELETE FROM audit_log")
    anchor.unlink()
    result = audit.verify()
    assert not result.ok and result.first_bad_seq == 1
    assert "the log is empty but its genesis marker says it was begun at" in result.message
    assert "every record deleted" in result.message
    unanchored = AuditLog(store, KEY, None)  # without an anchor file the marker still tells
    assert not unanchored.verify().ok
    unanchored.close()
    refused = audit.reanchor()
    assert not refused.ok and "reanchor does not accept a deleted log" in refused.message
    assert not audit.verify().ok


def test_a_log_deleted_and_begun_again_is_an_error(audit: AuditLog, db_path: Path, anchor: Path) -> None:
    fill(audit, 5)
    raw_sql(db_path, "DELETE FROM audit_log")
    anchor.unlink()
    fill(audit, 2, start=10)  # the next appends start a new chain at seq 1 (and a new anchor)
    result = audit.verify()
    assert not result.ok and result.first_bad_seq == 1
    assert "the log was deleted and begun again" in result.message
    assert not audit.reanchor().ok


@pytest.mark.parametrize(
    "edit",
    [
        "UPDATE audit_genesis SET first_hash = '" + "1" * 64 + "'",
        "UPDATE audit_genesis SET begun_at = '2020-01-01T00:00:00.000000+00:00'",
        "UPDATE audit_genesis SET mac = '" + "2" * 64 + "'",
        "INSERT INTO audit_genesis (id, begun_at, first_hash, mac) SELECT 2, begun_at, first_hash, mac "
        "FROM audit_genesis",
    ],
)
def test_an_edited_marker_is_an_error(audit: AuditLog, db_path: Path, edit: str) -> None:
    fill(audit, 3)
    raw_sql(db_path, edit)
    with pytest.raises(GenesisError):
        audit.read_genesis()
    result = audit.verify()
    assert not result.ok and "audit_genesis edited" in result.message


def test_a_marker_under_another_key_is_refused(audit: AuditLog, store: MetadataStore) -> None:
    fill(audit, 3)
    other = AuditLog(store, KEY[::-1], None)
    with pytest.raises(GenesisError, match="not signed with the audit key"):
        other.read_genesis()
    other.close()


def test_a_deleted_marker_is_an_error_until_reanchor(audit: AuditLog, db_path: Path) -> None:
    fill(audit, 3)
    raw_sql(db_path, "DELETE FROM audit_genesis")
    result = audit.verify()
    assert not result.ok and "the genesis marker is missing but the log has 3 records" in result.message
    fill(audit, 1, start=4)  # appends do not recreate it behind the operator's back
    assert audit.read_genesis() is None
    assert audit.reanchor().ok
    genesis = audit.read_genesis()
    assert genesis is not None and genesis.first_hash == raw_rows(db_path)[0]["hash"]
    assert audit.verify().ok

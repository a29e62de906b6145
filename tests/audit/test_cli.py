"""What `datahub audit …` runs, on a platform with a temporary home."""

from __future__ import annotations

import sqlite3

from datahub.audit import AuditEntry, open_audit_log
from datahub.audit.cli import list_log, reanchor_log, verify_log
from datahub.platform import Platform


def _append(platform: Platform, n: int) -> None:
    log = open_audit_log(platform)
    log.append(AuditEntry(action="read", client_id=f"c{i}", view="hotline_12345", rows=i) for i in range(n))
    log.close()


def test_verify_an_intact_log(platform: Platform) -> None:
    _append(platform, 4)
    code, message = verify_log(platform)
    assert code == 0 and "intact: 4 records" in message
    assert (platform.settings.var / "audit" / "HEAD").exists()
    assert [r["seq"] for r in list_log(platform, client_id="c2")] == [3]


def test_verify_names_the_first_bad_record(platform: Platform) -> None:
    _append(platform, 4)
    db = platform.settings.var / "metadata.db"
    with sqlite3.connect(db) as con:
        con.execute("UPDATE audit_log SET rows = 1000 WHERE seq = 2")
    code, message = verify_log(platform)
    assert code == 1 and "record 2: hash mismatch (record edited)" in message


def test_deleting_from_the_end_then_reanchor(platform: Platform) -> None:
    _append(platform, 4)
    with sqlite3.connect(platform.settings.var / "metadata.db") as con:
        con.execute("DELETE FROM audit_log WHERE seq = 4")
    code, message = verify_log(platform)
    assert code == 1 and "record 4: log ends at seq 3 but the anchor says 4" in message
    (platform.settings.var / "audit" / "HEAD").unlink()
    assert verify_log(platform)[0] == 1
    assert reanchor_log(platform) == (0, "audit log intact: 3 records; anchor set to seq 3")
    assert verify_log(platform)[0] == 0

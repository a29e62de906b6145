"""What `datahub audit …` runs, on a platform with a temporary home."""

from __future__ import annotations

import sqlite3

import pytest
from typer.testing import CliRunner

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


def test_a_log_deleted_whole_with_its_anchor_fails_verify(platform: Platform) -> None:
    _append(platform, 4)
    with sqlite3.connect(platform.settings.var / "metadata.db") as con:
        con.execute("DELETE FROM audit_log")
    (platform.settings.var / "audit" / "HEAD").unlink()
    code, message = verify_log(platform)
    assert code == 1, message
    assert "record 1: the log is empty but its genesis marker says it was begun at" in message
    code, message = reanchor_log(platform)
    assert code == 1 and "reanchor does not accept a deleted log" in message
    assert verify_log(platform)[0] == 1


def test_datahub_audit_verify_exits_1_for_a_deleted_log(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datahub.cli import app

    monkeypatch.setenv("DATAHUB_HOME", str(platform.settings.home))
    monkeypatch.setenv("DATAHUB_DEMO_MODE", "true")
    monkeypatch.setenv("COLUMNS", "250")
    _append(platform, 2)
    runner = CliRunner()
    intact = runner.invoke(app, ["audit", "verify"])
    assert intact.exit_code == 0 and "audit log intact: 2 records" in intact.output, intact.output
    with sqlite3.connect(platform.settings.var / "metadata.db") as con:
        con.execute("DELETE FROM audit_log")
    (platform.settings.var / "audit" / "HEAD").unlink()
    deleted = runner.invoke(app, ["audit", "verify"])
    assert deleted.exit_code == 1, deleted.output
    assert "genesis marker" in deleted.output and "every record deleted" in deleted.output


def test_reanchor_marks_a_log_from_before_genesis_markers(platform: Platform) -> None:
    _append(platform, 3)
    with sqlite3.connect(platform.settings.var / "metadata.db") as con:
        con.execute("DELETE FROM audit_genesis")  # as a log written before markers existed
    code, message = verify_log(platform)
    assert code == 1 and "the genesis marker is missing but the log has 3 records" in message
    assert reanchor_log(platform) == (
        0,
        "audit log intact: 3 records; anchor set to seq 3; genesis marker written",
    )
    assert verify_log(platform) == (0, "audit log intact: 3 records, anchored at seq 3")

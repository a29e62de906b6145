"""The chain: its canonical form, and every kind of tampering found at the right record."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import shutil
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from datahub.audit import (
    GENESIS_HASH,
    AnchorError,
    AuditEntry,
    AuditLog,
    audit_key,
    canonical_json,
    record_hash,
)
from datahub.audit.log import HASHED_FIELDS, format_time
from datahub.metadata import MetadataStore
from tests.audit.conftest import KEY, entry, fill, raw_rows, raw_sql

N = 10
MIDDLE = 5


# --- the canonical form --------------------------------------------------------------------------------


def test_key_derivation_is_the_documented_one() -> None:
    assert audit_key(b"secret") == hmac.new(b"secret", b"datahub audit log v1", hashlib.sha256).digest()
    assert audit_key(b"secret") != audit_key(b"other")
    with pytest.raises(ValueError):
        audit_key(b"")


def test_record_hash_is_hmac_over_prev_hash_and_canonical_json() -> None:
    fields = {
        "seq": 1,
        "at": datetime(2025, 3, 1, 16, 30, 0, 123456, tzinfo=timezone(timedelta(hours=8))),
        "client_id": "c1",
        "client_name": "市民热线",
        "role": "consumer",
        "action": "read",
        "view": "hotline",
        "columns": ["case_id"],
        "filter": None,
        "rows": 3,
        "purpose": "分析",
        "detail": {"grant": 7},
    }
    body = (
        '{"action":"read","at":"2025-03-01T08:30:00.123456+00:00","client_id":"c1","client_name":"市民热线",'
        '"columns":["case_id"],"detail":{"grant":7},"filter":null,"purpose":"分析","role":"consumer",'
        '"rows":3,"seq":1,"view":"hotline"}'
    ).encode()
    key = audit_key(b"secret")
    expected = hmac.new(key, b"0" * 64 + body, hashlib.sha256).hexdigest()
    assert record_hash(key, GENESIS_HASH, fields) == expected
    # Pinned: a change of the canonical form would make every existing log fail to verify.
    assert expected == "92fc9832e6fcaa98ce526d6aeacab847ba8d20c4921e31454fe7f9f6f7212ac5"


def test_canonical_json() -> None:
    assert canonical_json({"b": [1, 2], "a": "列"}) == '{"a":"列","b":[1,2]}'.encode()
    with pytest.raises(ValueError):
        canonical_json({"x": float("nan")})
    assert format_time(datetime(2025, 1, 1)) == "2025-01-01T00:00:00.000000+00:00"


def test_entry_is_checked_when_made() -> None:
    with pytest.raises(ValueError, match="action"):
        AuditEntry(action="")
    with pytest.raises(ValueError, match="client_id"):
        AuditEntry(action="read", client_id="x" * 41)
    with pytest.raises(ValueError, match="JSON"):
        AuditEntry(action="read", detail={"x": object()})
    with pytest.raises(ValueError, match="JSON"):
        AuditEntry(action="read", detail={"x": float("inf")})
    with pytest.raises(ValueError, match="columns"):
        AuditEntry(action="read", columns="case_id")
    with pytest.raises(ValueError, match="rows"):
        AuditEntry(action="read", rows="3")  # type: ignore[arg-type]
    e = AuditEntry(action="read", columns=("a",), detail={"t": (1, 2), 3: "x"})
    assert e.columns == ["a"] and e.detail == {"t": [1, 2], "3": "x"}  # as JSON gives them back
    assert e.at.tzinfo is UTC


# --- an intact log ---------------------------------------------------------------------------------------


def test_empty_log_verifies(audit: AuditLog) -> None:
    result = audit.verify()
    assert result.ok and result.checked == 0 and result.last_seq == 0


def test_intact_log_verifies(audit: AuditLog, db_path: Path, anchor: Path) -> None:
    assert fill(audit, 3) == [1, 2, 3]
    assert audit.append([entry(4), entry(5, detail=None, columns=None, rows=None)]) == [4, 5]
    assert audit.append([]) == []
    result = audit.verify(chunk_size=2)
    assert result.ok, result.message
    assert (result.checked, result.last_seq, result.anchor_seq) == (5, 5, 5)
    rows = raw_rows(db_path)
    assert [r["seq"] for r in rows] == [1, 2, 3, 4, 5]
    assert rows[0]["prev_hash"] == GENESIS_HASH
    assert all(b["prev_hash"] == a["hash"] for a, b in itertools.pairwise(rows))
    assert json.loads(anchor.read_text())["seq"] == 5
    assert "intact: 5 records" in result.message


def test_times_in_other_zones_are_stored_in_utc(audit: AuditLog) -> None:
    at = datetime(2025, 3, 1, 16, 0, 0, 1, tzinfo=timezone(timedelta(hours=8)))
    audit.append([entry(1, at=at)])
    assert audit.query()[0]["at"] == "2025-03-01T08:00:00.000001+00:00"
    assert audit.verify().ok


def test_another_key_does_not_verify(audit: AuditLog, store: MetadataStore) -> None:
    fill(audit, 3)
    other = AuditLog(store, audit_key(b"another secret"), None)
    result = other.verify()
    assert not result.ok and result.first_bad_seq == 1 and "hash mismatch" in (result.reason or "")


# --- tampering ----------------------------------------------------------------------------------------

EDITS = {
    "at": "at = '2020-01-01 00:00:00.000000'",
    "client_id": "client_id = 'someone-else'",
    "client_name": "client_name = NULL",
    "role": "role = 'admin'",
    "action": "action = 'export'",
    "view": "view = 'other_view'",
    "columns": """columns = '["case_id","district","身份证号"]'""",
    "filter": "filter = '1 = 1'",
    "rows": "rows = rows + 1",
    "purpose": "purpose = ''",
    "detail": """detail = '{"grant":99,"snapshot":"v1"}'""",
}


def test_every_hashed_field_has_an_edit_test() -> None:
    assert set(EDITS) == set(HASHED_FIELDS) - {"seq"}


@pytest.mark.parametrize("field", sorted(EDITS))
def test_edited_field_of_a_middle_record(audit: AuditLog, db_path: Path, field: str) -> None:
    fill(audit, N)
    raw_sql(db_path, f"UPDATE audit_log SET {EDITS[field]} WHERE seq = {MIDDLE}")
    result = audit.verify(chunk_size=3)
    assert not result.ok
    assert result.first_bad_seq == MIDDLE
    assert result.reason == "hash mismatch (record edited)"
    assert result.checked == MIDDLE - 1
    assert f"record {MIDDLE}: hash mismatch" in result.message


def test_edited_hash(audit: AuditLog, db_path: Path) -> None:
    fill(audit, N)
    raw_sql(db_path, f"UPDATE audit_log SET hash = '{'2' * 64}' WHERE seq = {MIDDLE}")
    result = audit.verify()
    assert (result.ok, result.first_bad_seq, result.reason) == (
        False,
        MIDDLE,
        "hash mismatch (record edited)",
    )


def test_edited_prev_hash(audit: AuditLog, db_path: Path) -> None:
    fill(audit, N)
    raw_sql(db_path, f"UPDATE audit_log SET prev_hash = '{'1' * 64}' WHERE seq = {MIDDLE}")
    result = audit.verify()
    assert not result.ok and result.first_bad_seq == MIDDLE
    assert (result.reason or "").startswith("prev_hash does not match")


@pytest.mark.parametrize(
    "edit", ["at = 'yesterday'", "columns = 'not json'", "detail = '{'", "rows = 'many'", "hash = '哈希'"]
)
def test_unparseable_edits_are_findings_not_crashes(audit: AuditLog, db_path: Path, edit: str) -> None:
    fill(audit, N)
    raw_sql(db_path, f"UPDATE audit_log SET {edit} WHERE seq = {MIDDLE}")
    result = audit.verify()
    assert not result.ok and result.first_bad_seq == MIDDLE
    assert "edited" in (result.reason or "") or "deleted" in (result.reason or "")


@pytest.mark.parametrize("deleted", [1, MIDDLE, 7])
def test_deleted_record(audit: AuditLog, db_path: Path, deleted: int) -> None:
    fill(audit, N)
    raw_sql(db_path, f"DELETE FROM audit_log WHERE seq = {deleted}")
    result = audit.verify(chunk_size=3)  # 7 is the first of the third chunk
    assert not result.ok and result.first_bad_seq == deleted
    assert (result.reason or "").startswith("gap in sequence (record deleted)")


def test_deleted_record_with_later_records_renumbered(audit: AuditLog, db_path: Path) -> None:
    fill(audit, N)
    raw_sql(
        db_path,
        f"DELETE FROM audit_log WHERE seq = {MIDDLE}",
        f"UPDATE audit_log SET seq = seq - 1 WHERE seq > {MIDDLE}",
    )
    result = audit.verify()
    assert not result.ok and result.first_bad_seq == MIDDLE
    assert (result.reason or "").startswith("prev_hash does not match")


def _forge(db_path: Path, seq: int, prev_hash: str) -> None:
    """Inserts a record an attacker made up, with a hash they can compute: SHA-256 without the key."""
    fields = {name: None for name in HASHED_FIELDS} | {
        "seq": seq,
        "at": "2025-03-01T09:00:00.000000+00:00",
        "action": "read",
        "client_id": "client-0",
        "view": "view_0",
    }
    fake = hashlib.sha256(prev_hash.encode() + canonical_json(fields)).hexdigest()
    raw_sql(
        db_path,
        "INSERT INTO audit_log (seq, at, action, client_id, view, columns, detail, prev_hash, hash) "
        "VALUES (?, '2025-03-01 09:00:00.000000', 'read', 'client-0', 'view_0', 'null', 'null', ?, ?)",
        params=(seq, prev_hash, fake),
    )


def test_inserted_record_in_the_middle(audit: AuditLog, db_path: Path) -> None:
    fill(audit, N)
    hashes = {r["seq"]: r["hash"] for r in raw_rows(db_path)}
    raw_sql(
        db_path,
        f"UPDATE audit_log SET seq = seq + 1000 WHERE seq > {MIDDLE}",
        "UPDATE audit_log SET seq = seq - 999 WHERE seq > 1000",
    )
    _forge(db_path, MIDDLE + 1, str(hashes[MIDDLE]))
    result = audit.verify()
    assert not result.ok and result.first_bad_seq == MIDDLE + 1
    assert result.reason == "hash mismatch (record edited)"


def test_inserted_record_at_the_end(audit: AuditLog, db_path: Path) -> None:
    fill(audit, N)
    _forge(db_path, N + 1, str(raw_rows(db_path)[-1]["hash"]))
    result = audit.verify()
    assert (
        not result.ok and result.first_bad_seq == N + 1 and result.reason == "hash mismatch (record edited)"
    )


def test_inserted_record_before_the_start(audit: AuditLog, db_path: Path) -> None:
    fill(audit, N)
    _forge(db_path, 0, GENESIS_HASH)
    result = audit.verify()
    assert not result.ok and result.first_bad_seq == 0 and "inserted" in (result.reason or "")


def test_swapped_records(audit: AuditLog, db_path: Path) -> None:
    fill(audit, N)
    raw_sql(
        db_path,
        "UPDATE audit_log SET seq = -3 WHERE seq = 3",
        "UPDATE audit_log SET seq = 3 WHERE seq = 7",
        "UPDATE audit_log SET seq = 7 WHERE seq = -3",
    )
    result = audit.verify()
    assert not result.ok and result.first_bad_seq == 3
    assert (result.reason or "").startswith("prev_hash does not match")


def test_swapped_contents_keeping_the_chain_columns(audit: AuditLog, db_path: Path) -> None:
    fill(audit, N)
    fields = ", ".join(f"{f} = (SELECT {f} FROM audit_log WHERE seq = 7)" for f in EDITS)
    raw_sql(db_path, f"UPDATE audit_log SET {fields} WHERE seq = 3")
    result = audit.verify()
    assert (result.ok, result.first_bad_seq, result.reason) == (False, 3, "hash mismatch (record edited)")


@pytest.mark.parametrize("cut", [1, 3, N])
def test_records_deleted_from_the_end(audit: AuditLog, db_path: Path, cut: int) -> None:
    fill(audit, N)
    raw_sql(db_path, f"DELETE FROM audit_log WHERE seq > {N - cut}")
    result = audit.verify()
    assert not result.ok and result.first_bad_seq == N - cut + 1
    assert result.reason == (
        f"log ends at seq {N - cut} but the anchor says {N} (records deleted from the end)"
    )


def test_without_an_anchor_deleting_from_the_end_goes_unseen(store: MetadataStore, db_path: Path) -> None:
    """The limitation the anchor is there for."""
    log = AuditLog(store, KEY, None)
    fill(log, N)
    raw_sql(db_path, f"DELETE FROM audit_log WHERE seq > {N - 2}")
    result = log.verify()
    assert result.ok and result.last_seq == N - 2


def _rechain(db_path: Path, edited_from: int, digest: object) -> None:
    """Edits record ``edited_from`` and recomputes hash and prev_hash of it and every later record."""
    raw_sql(db_path, f"UPDATE audit_log SET purpose = 'nothing to see' WHERE seq = {edited_from}")
    rows = raw_rows(db_path)
    prev = rows[edited_from - 2]["hash"] if edited_from > 1 else GENESIS_HASH
    for row in rows[edited_from - 1 :]:
        fields = {name: row[name] for name in HASHED_FIELDS}
        fields["at"] = datetime.fromisoformat(str(row["at"]))
        fields["columns"] = json.loads(str(row["columns"]))
        fields["detail"] = json.loads(str(row["detail"]))
        new = digest(str(prev), fields)  # type: ignore[operator]
        raw_sql(
            db_path,
            "UPDATE audit_log SET prev_hash = ?, hash = ? WHERE seq = ?",
            params=(prev, new, row["seq"]),
        )
        prev = new


@pytest.mark.parametrize(
    "digest",
    [
        pytest.param(
            lambda prev, fields: hashlib.sha256(
                prev.encode() + canonical_json({**fields, "at": format_time(fields["at"])})
            ).hexdigest(),
            id="plain-sha256",
        ),
        pytest.param(lambda prev, fields: record_hash(audit_key(b"guessed"), prev, fields), id="wrong-key"),
    ],
)
def test_chain_recomputed_without_the_key(audit: AuditLog, db_path: Path, digest: object) -> None:
    fill(audit, N)
    _rechain(db_path, MIDDLE, digest)
    result = audit.verify()
    assert (result.ok, result.first_bad_seq, result.reason) == (
        False,
        MIDDLE,
        "hash mismatch (record edited)",
    )


def test_chain_recomputed_with_the_key_is_caught_by_the_anchor(audit: AuditLog, db_path: Path) -> None:
    fill(audit, N)
    _rechain(db_path, MIDDLE, lambda prev, fields: record_hash(KEY, prev, fields))
    result = audit.verify()
    assert not result.ok and result.first_bad_seq == N and "anchored hash" in (result.reason or "")


# --- the anchor ---------------------------------------------------------------------------------------


def test_anchor_rewritten_without_the_key(audit: AuditLog, db_path: Path, anchor: Path) -> None:
    fill(audit, N)
    rows = raw_rows(db_path)
    raw_sql(db_path, "DELETE FROM audit_log WHERE seq > 7")
    anchor.write_text(json.dumps({"seq": 7, "hash": rows[6]["hash"], "mac": "0" * 64}))
    result = audit.verify()
    assert not result.ok and "not signed with the audit key" in (result.reason or "")


def test_anchor_deleted(audit: AuditLog, anchor: Path) -> None:
    fill(audit, N)
    anchor.unlink()
    result = audit.verify()
    assert not result.ok and "anchor file" in (result.reason or "") and "missing" in (result.reason or "")
    # An append does not quietly make a new anchor for a log that existed before.
    audit.append([entry(99)])
    assert not anchor.exists() and not audit.verify().ok
    # The operator's way out: reanchor after checking the log.
    fixed = audit.reanchor()
    assert fixed.ok and fixed.anchor_seq == N + 1
    assert audit.verify().ok


@pytest.mark.parametrize(
    ("content", "reason"),
    [("", "cannot be read"), ('{"seq": 2, "hash": "x"}', "cannot be read"), (None, "not signed")],
)
def test_anchor_unreadable(audit: AuditLog, anchor: Path, content: str | None, reason: str) -> None:
    fill(audit, 2)
    if content is None:
        content = json.dumps(json.loads(anchor.read_text()) | {"mac": "签名"}, ensure_ascii=False)
    anchor.write_text(content, encoding="utf-8")
    result = audit.verify()
    assert not result.ok and result.first_bad_seq is None and reason in (result.reason or "")
    assert result.message.startswith("audit log not verified: the anchor file")


def test_anchor_only_moves_forward(audit: AuditLog, db_path: Path, anchor: Path) -> None:
    fill(audit, N)
    raw_sql(db_path, f"DELETE FROM audit_log WHERE seq > {N - 2}")
    audit.append([entry(1)])  # seq N - 1 again, with another hash
    result = audit.verify()
    assert not result.ok and result.first_bad_seq == N and "anchor says 10" in (result.reason or "")
    audit.append([entry(2), entry(3)])  # the log grows past the anchor, but seq N is not the anchored one
    result = audit.verify()
    assert not result.ok and result.first_bad_seq == N and "anchored hash" in (result.reason or "")


def test_log_longer_than_its_anchor_verifies(audit: AuditLog, anchor: Path, tmp_path: Path) -> None:
    """A process killed between its commit and its anchor write leaves the anchor behind: fine. (The
    same is what replaying an old anchor looks like: the anchor does not protect against that.)"""
    fill(audit, 5)
    shutil.copy(anchor, tmp_path / "old")
    fill(audit, 5, start=6)
    shutil.copy(tmp_path / "old", anchor)
    result = audit.verify()
    assert result.ok and result.anchor_seq == 5 and result.last_seq == 10


def test_anchor_of_another_key_is_refused(audit: AuditLog, store: MetadataStore, anchor: Path) -> None:
    fill(audit, 3)
    other = AuditLog(store, audit_key(b"another secret"), anchor)
    with pytest.raises(AnchorError, match="is not signed with the audit key"):
        other.read_anchor()  # the file was signed with KEY
    assert not other.verify().ok  # (the first record already fails under the other key)
    # An anchor for the true end of the log, but signed with another key: refused, although the
    # chain and the anchored seq and hash are all right.
    head = audit.head()
    assert head is not None
    other.write_anchor(head)
    result = audit.verify()
    assert not result.ok and result.first_bad_seq is None
    assert "is not signed with the audit key" in result.message
    with pytest.raises(AnchorError):
        audit.read_anchor()
    fill(audit, 1, start=4)  # an append does not move a foreign anchor forward
    assert other.read_anchor() == head
    other.close()

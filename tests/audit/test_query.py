"""AuditLog.query: the filters and the paging of GET /api/v1/audit."""

from __future__ import annotations

import json
from datetime import timedelta, timezone

import pytest

from datahub.audit import AuditLog
from tests.audit.conftest import T0, entry, fill


@pytest.fixture
def filled(audit: AuditLog) -> AuditLog:
    fill(audit, 12)  # client-(i % 3), view_(i % 2), at T0 + i minutes
    audit.append([entry(13, action="grant.approve", client_id="steward", view=None)])
    return audit


def test_newest_first_as_plain_dicts(filled: AuditLog) -> None:
    records = filled.query()
    assert [r["seq"] for r in records] == list(range(13, 0, -1))
    first = records[-1]
    assert first["at"] == "2025-03-01T08:31:00.000000+00:00"
    assert first["columns"] == ["case_id", "district", "类别"]
    assert first["detail"] == {"grant": 1, "snapshot": "v1"}
    assert set(first) == {
        "seq", "at", "client_id", "client_name", "role", "action", "view", "columns", "filter", "rows",
        "purpose", "detail", "prev_hash", "hash",
    }  # fmt: skip
    json.dumps(records)  # JSON-ready


def test_filters(filled: AuditLog) -> None:
    assert [r["seq"] for r in filled.query(client_id="client-1")] == [10, 7, 4, 1]
    assert [r["seq"] for r in filled.query(view="view_0")] == [12, 10, 8, 6, 4, 2]
    assert [r["seq"] for r in filled.query(action="grant.approve")] == [13]
    assert [r["seq"] for r in filled.query(client_id="client-1", view="view_0")] == [10, 4]
    assert filled.query(client_id="nobody") == []


def test_time_range(filled: AuditLog) -> None:
    since, until = T0 + timedelta(minutes=3), T0 + timedelta(minutes=6)
    assert [r["seq"] for r in filled.query(since=since, until=until)] == [5, 4, 3]  # since in, until out
    # The same instant in another zone, and naive datetimes taken as UTC.
    local = since.astimezone(timezone(timedelta(hours=8)))
    assert [r["seq"] for r in filled.query(since=local, until=until.replace(tzinfo=None))] == [5, 4, 3]


def test_paging(filled: AuditLog) -> None:
    assert [r["seq"] for r in filled.query(limit=4)] == [13, 12, 11, 10]
    assert [r["seq"] for r in filled.query(limit=4, offset=4)] == [9, 8, 7, 6]
    assert [r["seq"] for r in filled.query(limit=4, before_seq=10)] == [9, 8, 7, 6]
    assert [r["seq"] for r in filled.query(view="view_1", limit=2, before_seq=9)] == [7, 5]
    with pytest.raises(ValueError):
        filled.query(limit=-1)

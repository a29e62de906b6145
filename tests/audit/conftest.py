"""An audit log on a real SQLite file in tmp_path, and raw access to that file (what an attacker with
write access to the database has)."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from datahub.audit import AuditEntry, AuditLog, audit_key
from datahub.metadata import MetadataStore

KEY = audit_key(b"test platform secret")
T0 = datetime(2025, 3, 1, 8, 30, tzinfo=UTC)


def entry(i: int, **changes: object) -> AuditEntry:
    """A full entry: every field set, so editing any of them changes something."""
    fields: dict[str, object] = {
        "action": "read",
        "client_id": f"client-{i % 3}",
        "client_name": f"客户端 {i % 3}",
        "role": "consumer",
        "view": f"view_{i % 2}",
        "columns": ["case_id", "district", "类别"],
        "filter": f"district = '{i}'",
        "rows": 10 * i,
        "purpose": "月度分析 monthly analysis",
        "detail": {"grant": i, "snapshot": "v1"},
        "at": T0 + timedelta(minutes=i),
    }
    fields.update(changes)
    return AuditEntry(**fields)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def empty_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The metadata schema made once (creating it costs a tenth of a second per test), copied per test."""
    path = tmp_path_factory.mktemp("template") / "metadata.db"
    MetadataStore(f"sqlite:///{path}").dispose()
    return path


@pytest.fixture
def db_path(tmp_path: Path, empty_database: Path) -> Path:
    path = tmp_path / "metadata.db"
    shutil.copyfile(empty_database, path)
    return path


@pytest.fixture
def anchor(tmp_path: Path) -> Path:
    return tmp_path / "audit" / "HEAD"


@pytest.fixture
def store(db_path: Path) -> Iterator[MetadataStore]:
    s = MetadataStore(f"sqlite:///{db_path}")
    yield s
    s.dispose()


@pytest.fixture
def audit(store: MetadataStore, anchor: Path) -> Iterator[AuditLog]:
    log = AuditLog(store, KEY, anchor)
    yield log
    log.close()


def fill(log: AuditLog, n: int, start: int = 1) -> list[int]:
    return log.append(entry(i) for i in range(start, start + n))


def raw_sql(db_path: Path, *statements: str, params: tuple[object, ...] = ()) -> None:
    """Runs statements straight on the database file, bypassing the audit log."""
    con = sqlite3.connect(db_path)
    try:
        for statement in statements:
            con.execute(statement, params) if params else con.execute(statement)
        con.commit()
    finally:
        con.close()


def raw_rows(db_path: Path) -> list[dict[str, object]]:
    con = sqlite3.connect(db_path)
    con.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in con.execute("SELECT * FROM audit_log ORDER BY seq")]
    finally:
        con.close()

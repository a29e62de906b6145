"""The Postgres configuration of the metadata database, end to end: a delivery through the pipeline,
API clients and a grant, and the audit chain, on a real PostgreSQL server (tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from datahub import pipeline
from datahub.access import Clients, GrantRequest
from datahub.audit import AuditEntry, AuditLog, audit_key
from datahub.metadata import Delivery
from datahub.platform import Platform
from datahub.serving.service import Service
from datahub.settings import Settings
from tests.hotline_rows import valid_row, write_hotline


def test_the_platform_on_postgres(tmp_path: Path, postgres_database: str) -> None:
    settings = Settings(home=tmp_path / "var", demo_mode=True, metadata_url=postgres_database)
    platform = Platform(settings)
    assert platform.metadata.engine.dialect.name == "postgresql"
    hotline = platform.catalog.get("hotline_12345")
    rows = [valid_row(platform.dictionary, i) for i in range(1, 13)]
    rows[3]["联系电话"] = "12"  # quarantined: invalid_format
    summary = pipeline.ingest_file(platform, hotline.name, write_hotline(tmp_path / "h.csv", rows, hotline))
    assert (summary.status, summary.rows_in, summary.rows_quarantined) == ("published", 12, 1)
    with platform.metadata.session() as s:
        delivery = s.scalars(select(Delivery)).one()
        assert delivery.reconciled and delivery.rows_published == 11

    service = Service(platform)
    try:
        consumer = Clients(platform.metadata, platform.dictionary).create("ops", "consumer")
        steward = Clients(platform.metadata, platform.dictionary).create("office", "steward")
        who = service.clients.authenticate(consumer.api_key)
        boss = service.clients.authenticate(steward.api_key)
        assert who is not None and boss is not None
        asked = service.grants.request(
            who, GrantRequest("hotline_12345", "研判", row_filter="satisfaction >= 4")
        )
        service.grants.approve(int(asked["grant_id"]), boss)
        page = service.rows(who, "hotline_12345", fields="work_order_id,satisfaction")
        assert page.count == 11 and page.version == summary.snapshot_version
        service.audit_writer.flush()
        assert service.audit.verify().ok
    finally:
        service.close()
    log = AuditLog(platform.metadata, audit_key(settings.secret_key))
    log.append([AuditEntry(action="read", view="hotline_12345", rows=1)])
    records = log.query(view="hotline_12345")
    assert [r["action"] for r in records] == ["read", "read"] and log.verify().ok
    platform.metadata.dispose()

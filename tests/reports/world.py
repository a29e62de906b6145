"""A small city over two months for the report's tests: two weeks of synthetic deliveries from every
department through the real pipelines (one week delivered in September, one in October), a hotline
delivery in October that a blocking rule holds back, the event views, and sharing in October —
grants requested, approved, refused and revoked, and reads in the audit log — plus some outside it
that the October figures must leave out."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from datahub import pipeline
from datahub.access import Clients
from datahub.audit.log import AuditEntry, open_audit_log
from datahub.demo import register_contracts
from datahub.metadata import Grant, GrantStatus
from datahub.pipeline import process
from datahub.platform import Platform
from datahub.settings import Settings
from datahub.synth import SynthConfig, generate
from datahub.synth.model import DATASETS
from datahub.views import build_views
from tests.hotline_rows import valid_row, write_hotline
from tests.synth_runs import land_synthetic

MONTH, PREVIOUS = "2026-10", "2026-09"
BLOCKED_ROWS = 20
# Reads of October in the audit log: client → (reads, rows).
READS = {"城运中心大屏": (3, 600), "应急指挥平台": (1, 50)}


@dataclass(frozen=True)
class ReportWorld:
    platform: Platform
    home: Path


def _blocked_hotline_delivery(platform: Platform, home: Path) -> None:
    """Hotline orders handled by an external source: the blocking rule handling_department_core fails."""
    rows = [valid_row(platform.dictionary, 900_000 + i) for i in range(BLOCKED_ROWS)]
    rows[3] = rows[3] | {"承办部门": "EX"}
    file = write_hotline(home / "blocked_hotline.csv", rows, platform.catalog.get("hotline_12345"))
    stamp = datetime(2026, 10, 6, 2, 30).timestamp()
    os.utime(file, (stamp, stamp))
    summary = pipeline.ingest_file(platform, "hotline_12345", file)
    assert summary.status == "blocked", summary


def _grant(
    client_id: str,
    view: str,
    status: str,
    requested: datetime,
    decided: datetime | None = None,
    revoked: datetime | None = None,
) -> Grant:
    return Grant(
        client_id=client_id,
        view=view,
        purpose="城市运行监测",
        status=status,
        requested_at=requested,
        decided_at=decided,
        decided_by="steward" if decided else None,
        revoked_at=revoked,
        revoked_by="steward" if revoked else None,
    )


def _read(client_id: str, name: str, rows: int, at: datetime) -> AuditEntry:
    return AuditEntry(
        action="read",
        client_id=client_id,
        client_name=name,
        role="consumer",
        view="events_unified",
        rows=rows,
        at=at.replace(tzinfo=UTC),
    )


def _sharing(platform: Platform) -> None:
    """October: 3 requests (1 approved, 1 refused, 1 still waiting), 1 revocation of a September grant,
    4 reads; outside October: a September grant and read, and a grant decision (not a read)."""
    clients = Clients(platform.metadata, platform.dictionary)
    ids = {name: clients.create(name, "consumer").client_id for name in READS}
    ops, command = ids["城运中心大屏"], ids["应急指挥平台"]
    d = datetime
    with platform.metadata.session() as s:
        s.add_all(
            [
                _grant(ops, "events_unified", GrantStatus.approved, d(2026, 10, 3), d(2026, 10, 4)),
                _grant(command, "events_unified", GrantStatus.refused, d(2026, 10, 5), d(2026, 10, 6)),
                _grant(command, "hotline_12345", GrantStatus.requested, d(2026, 10, 20)),
                _grant(
                    ops, "hotline_12345", GrantStatus.revoked, d(2026, 9, 25), d(2026, 9, 26), d(2026, 10, 10)
                ),
                _grant(command, "events_unified", GrantStatus.approved, d(2026, 9, 1), d(2026, 9, 2)),
            ]
        )
    entries = [
        # From 00:30 on 1 October city time (16:30 UTC on 30 September): October reads.
        _read(ids[name], name, rows // reads, d(2026, 9, 30, 16, 30) + timedelta(days=i))
        for name, (reads, rows) in READS.items()
        for i in range(reads)
    ]
    # 23:59 on 30 September, city time (15:59 UTC): a September read, on the edge of October.
    entries.append(_read(ops, "城运中心大屏", 999, d(2026, 9, 30, 15, 59)))
    entries.append(
        AuditEntry(
            action="grant.approve", client_name="steward", role="steward", at=d(2026, 10, 4, tzinfo=UTC)
        )
    )
    with open_audit_log(platform) as log:
        log.append(entries)


def build_report_world(home: Path) -> ReportWorld:
    settings = Settings(home=home / "var", demo_mode=True)
    platform = Platform(settings)
    register_contracts(platform)
    config = SynthConfig(start=date(2026, 9, 21), days=14, rows_per_day=40, seed=31, defect_rate=0.002)
    synth = generate(config, platform.dictionary, platform.catalog, home / "synth")
    land_synthetic(platform, synth)
    for name in DATASETS:  # in generation order: the app's reference rule reads the published hotline
        assert {s.status for s in process(platform, platform.catalog.get(name))} <= {"published", "blocked"}
    _blocked_hotline_delivery(platform, home)
    build_views(platform)
    _sharing(platform)
    return ReportWorld(platform, home)

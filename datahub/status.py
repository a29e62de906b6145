"""Where every dataset stands: current published version, last delivery, reconciliation, freshness."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from datahub.metadata import Delivery, DeliveryStatus, Snapshot
from datahub.pipeline import quality_summary
from datahub.platform import Platform

_FINAL = (DeliveryStatus.published, DeliveryStatus.blocked, DeliveryStatus.rejected)


@dataclass
class DatasetStatus:
    dataset: str
    title: str
    owner_department: str | None
    sharing_class: str
    current_version: str | None = None
    published_at: str | None = None
    rows_current: int = 0
    deliveries: int = 0
    last_delivery: str | None = None
    last_status: str | None = None
    last_rows_in: int | None = None
    last_rows_published: int | None = None
    last_rows_quarantined: int | None = None
    last_reconciled: bool | None = None
    all_reconciled: bool = True
    unreconciled_deliveries: list[str] = field(default_factory=list)
    # The last checked delivery's quality: pass rate, overall score and the rules that failed.
    quality: dict[str, Any] | None = None

    @property
    def stale(self) -> bool:
        failed = (self.quality or {}).get("failed_rules", [])
        return any(rule["check"] == "stale_delivery" for rule in failed)


def dataset_status(platform: Platform) -> list[DatasetStatus]:
    out = []
    with platform.metadata.session() as s:
        for dataset in platform.catalog:
            status = DatasetStatus(
                dataset.name, dataset.title, dataset.owner_department, dataset.sharing_class.value
            )
            snap = s.scalars(
                select(Snapshot).where(Snapshot.dataset == dataset.name, Snapshot.is_current)
            ).first()
            if snap is not None:
                status.current_version = snap.version
                status.published_at = snap.created_at.isoformat(timespec="seconds")
                status.rows_current = snap.rows
            status.deliveries = (
                s.scalar(select(func.count()).select_from(Delivery).where(Delivery.dataset == dataset.name))
                or 0
            )
            last = s.scalars(
                select(Delivery)
                .where(Delivery.dataset == dataset.name, Delivery.status.in_(_FINAL))
                .order_by(Delivery.finished_at.desc())
            ).first()
            if last is not None:
                status.last_delivery = last.source_file
                status.last_status = last.status
                status.last_rows_in = last.rows_in
                status.last_rows_published = last.rows_published
                status.last_rows_quarantined = last.rows_quarantined
                status.last_reconciled = last.reconciled
                status.quality = quality_summary(last.quality) if last.quality else None
            bad = s.scalars(
                select(Delivery.source_file).where(
                    Delivery.dataset == dataset.name,
                    Delivery.status.in_(_FINAL),
                    Delivery.reconciled.is_not(True),
                )
            ).all()
            status.unreconciled_deliveries = list(bad)
            status.all_reconciled = not bad
            out.append(status)
    return out


def write_status_report(platform: Platform, statuses: list[DatasetStatus]) -> Path:
    """Keep the day's status of every dataset as JSON in the lake (the daily cross-dataset record)."""
    now = datetime.now(UTC)
    path = platform.lake.root / "status" / f"{now:%Y-%m-%d}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    body = {"generated_at": now.isoformat(), "datasets": [asdict(s) for s in statuses]}
    path.write_text(json.dumps(body, ensure_ascii=False, indent=2), encoding="utf-8")
    return path

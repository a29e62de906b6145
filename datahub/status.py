"""Where every dataset stands: the contract version in force and any to come, current published
version, last delivery, reconciliation, freshness.

A delivery is *reconciled* only when it is finished (its status is in ``DeliveryStatus.FINAL``) and its
rows reconcile (``Delivery.reconciled``: rows in = rows published + rows quarantined); a duplicate
processes nothing and counts as reconciled. Every other delivery — waiting for a stage, claimed by one
(or left claimed by a process that died), or ``failed`` — is *unfinished* and counts as not reconciled
until it is finished.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, and_, func, not_, or_, select

from datahub.contracts.registry import Standing, effective_of
from datahub.metadata import Delivery, DeliveryStatus, Snapshot
from datahub.pipeline import quality_summary
from datahub.platform import Platform
from datahub.quality import resubmissions

FINISHED = tuple(sorted(DeliveryStatus.FINAL))
"""Statuses of a finished delivery (``DeliveryStatus.FINAL``), for SQL ``IN``."""
PROCESSED = tuple(s for s in FINISHED if s != DeliveryStatus.duplicate)
"""Finished after being processed: these have rows to reconcile (a duplicate has none)."""


def unfinished_clause() -> ColumnElement[bool]:
    """SQL: the delivery is not finished (waiting, claimed or failed)."""
    return Delivery.status.not_in(FINISHED)


def unreconciled_clause() -> ColumnElement[bool]:
    """SQL: the delivery does not count as reconciled: unfinished, or finished with rows that did not
    reconcile (or were never recorded as reconciled)."""
    return or_(
        unfinished_clause(),
        and_(Delivery.status.in_(PROCESSED), not_(Delivery.reconciled.is_(True))),
    )


def is_reconciled(status: str, reconciled: bool | None) -> bool:
    """Whether a delivery in ``status`` with ``reconciled`` counts as reconciled."""
    if status == DeliveryStatus.duplicate:
        return True
    return status in DeliveryStatus.FINAL and reconciled is True


@dataclass
class DatasetStatus:
    dataset: str
    title: str
    owner_department: str | None
    sharing_class: str
    # The contract version in force, and the next one to come: awaiting a steward's approval
    # (``pending_state`` "awaiting_approval") or approved for a later date ("scheduled", naive UTC).
    contract_version: str | None = None
    pending_version: str | None = None
    pending_state: str | None = None
    pending_effective_at: str | None = None
    current_version: str | None = None
    published_at: str | None = None
    rows_current: int = 0
    deliveries: int = 0
    # The last finished delivery that was processed (duplicates aside).
    last_delivery: str | None = None
    last_status: str | None = None
    last_rows_in: int | None = None
    last_rows_published: int | None = None
    last_rows_quarantined: int | None = None
    last_reconciled: bool | None = None
    last_rows_fixed: int | None = None  # of its quarantined rows, fixed by resubmissions
    # False when any delivery is unfinished or finished without its rows reconciling.
    all_reconciled: bool = True
    # Files of every delivery that does not count as reconciled (unfinished ones included).
    unreconciled_deliveries: list[str] = field(default_factory=list)
    # Deliveries not finished: waiting for a stage, claimed by one, or failed: how many, and each as
    # {delivery_id, source_file, status, error}, oldest delivered first.
    unfinished: int = 0
    unfinished_deliveries: list[dict[str, str | None]] = field(default_factory=list)
    # The last checked delivery's quality: pass rate (its fixed rows counted), overall score and the
    # rules that failed. Resubmissions (fixes of quarantined rows) are no deliveries of their own.
    quality: dict[str, Any] | None = None

    @property
    def stale(self) -> bool:
        failed = (self.quality or {}).get("failed_rules", [])
        return any(rule["check"] == "stale_delivery" for rule in failed)

    @property
    def unfinished_statuses(self) -> dict[str, int]:
        """How many unfinished deliveries are in each status."""
        counts: dict[str, int] = {}
        for d in self.unfinished_deliveries:
            status = str(d["status"])
            counts[status] = counts.get(status, 0) + 1
        return counts


def dataset_status(platform: Platform) -> list[DatasetStatus]:
    out = []
    standings = {st.contract_id: st for st in platform.registry.standings()}
    with platform.metadata.session() as s:
        for dataset in platform.catalog:
            status = DatasetStatus(
                dataset.name, dataset.title, dataset.owner_department, dataset.sharing_class.value
            )
            _contract_versions(status, standings.get(str(dataset.contract.id)), dataset.version)
            snap = s.scalars(
                select(Snapshot).where(Snapshot.dataset == dataset.name, Snapshot.is_current)
            ).first()
            if snap is not None:
                status.current_version = snap.version
                status.published_at = snap.created_at.isoformat(timespec="seconds")
                status.rows_current = snap.rows
            status.deliveries = (
                s.scalar(
                    select(func.count())
                    .select_from(Delivery)
                    .where(Delivery.dataset == dataset.name, resubmissions.is_original())
                )
                or 0
            )
            last = s.scalars(
                select(Delivery)
                .where(
                    Delivery.dataset == dataset.name,
                    Delivery.status.in_(PROCESSED),
                    resubmissions.is_original(),
                )
                .order_by(Delivery.finished_at.desc())
            ).first()
            if last is not None:
                status.last_delivery = last.source_file
                status.last_status = last.status
                status.last_rows_in = last.rows_in
                status.last_rows_published = last.rows_published
                status.last_rows_quarantined = last.rows_quarantined
                status.last_reconciled = last.reconciled
                fixes = resubmissions.fixes_of(s, [last.id]).get(last.id)
                status.last_rows_fixed = resubmissions.rows_fixed(last.rows_quarantined, fixes)
                run = last.quality
                status.quality = (
                    resubmissions.with_fixes(
                        quality_summary(run), run.rows_in, run.rows_passed, last.rows_quarantined, fixes
                    )
                    if run
                    else None
                )
            bad = s.execute(
                select(Delivery.id, Delivery.source_file, Delivery.status, Delivery.error)
                .where(Delivery.dataset == dataset.name, unreconciled_clause())
                .order_by(Delivery.delivered_at, Delivery.source_file)
            ).all()
            status.unreconciled_deliveries = [row.source_file for row in bad]
            status.unfinished_deliveries = [
                {
                    "delivery_id": row.id,
                    "source_file": row.source_file,
                    "status": row.status,
                    "error": row.error,
                }
                for row in bad
                if row.status not in DeliveryStatus.FINAL
            ]
            status.unfinished = len(status.unfinished_deliveries)
            status.all_reconciled = not bad
            out.append(status)
    return out


def _contract_versions(status: DatasetStatus, st: Standing | None, loaded: str) -> None:
    status.contract_version = st.in_force.version if st and st.in_force else loaded
    coming = st.pending if st else None
    if coming is not None:
        effective = effective_of(coming)
        status.pending_version = coming.version
        status.pending_state = "awaiting_approval" if effective is None else "scheduled"
        status.pending_effective_at = effective.isoformat(timespec="seconds") if effective else None


def write_status_report(platform: Platform, statuses: list[DatasetStatus]) -> Path:
    """Keep the day's status of every dataset as JSON in the lake (the daily cross-dataset record)."""
    now = datetime.now(UTC)
    path = platform.lake.root / "status" / f"{now:%Y-%m-%d}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    body = {"generated_at": now.isoformat(), "datasets": [asdict(s) for s in statuses]}
    path.write_text(json.dumps(body, ensure_ascii=False, indent=2), encoding="utf-8")
    return path

"""Deliveries as stewards see them: every one with its id and where it stands, and a retry."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from datahub.errors import DatahubError, NotFound
from datahub.metadata import Delivery, DeliveryStatus
from datahub.pipeline import claims
from datahub.pipeline.stages import DeliverySummary, converge, platform_errors, restart
from datahub.platform import Platform


class NotRetryable(DatahubError):
    code = "not_retryable"
    http_status = 409


@dataclass
class DeliveryRow:
    delivery_id: str
    dataset: str
    source_file: str
    status: str
    delivered_at: datetime
    finished: bool  # published, blocked, rejected, duplicate or withheld: its rows are accounted for
    reconciled: bool  # finished, and rows in = published + quarantined
    rows_in: int | None
    rows_published: int | None
    rows_quarantined: int | None
    attempts: int
    holder: str | None  # who holds its claim, while a stage holds it
    holder_alive: bool | None  # None when no stage holds it
    error: str | None


def list_deliveries(
    platform: Platform, *, status: str | None = None, dataset: str | None = None, unfinished: bool = False
) -> list[DeliveryRow]:
    """Deliveries, newest first; ``status`` one status, ``unfinished`` those not finished."""
    query = select(Delivery).order_by(Delivery.delivered_at.desc(), Delivery.source_file)
    if status is not None:
        query = query.where(Delivery.status == status)
    if dataset is not None:
        query = query.where(Delivery.dataset == dataset)
    if unfinished:
        query = query.where(Delivery.status.not_in(DeliveryStatus.FINAL))
    at = claims.now()
    with platform.metadata.session() as s:
        out = []
        for d in s.scalars(query):
            claimed = d.status in DeliveryStatus.CLAIMED
            finished = d.status in DeliveryStatus.FINAL
            out.append(
                DeliveryRow(
                    delivery_id=d.id,
                    dataset=d.dataset,
                    source_file=d.source_file,
                    status=d.status,
                    delivered_at=d.delivered_at,
                    finished=finished,
                    reconciled=finished and d.reconciled is not False,
                    rows_in=d.rows_in,
                    rows_published=d.rows_published,
                    rows_quarantined=d.rows_quarantined,
                    attempts=d.attempts or 0,
                    holder=d.claimed_by if claimed else None,
                    holder_alive=claims.alive(d.claimed_by, d.lease_until, at) if claimed else None,
                    error=d.error,
                )
            )
        return out


def retry(platform: Platform, delivery_id: str) -> DeliverySummary:
    """Restart a delivery that failed, or whose stage's process died, and run it to its end."""
    with platform.metadata.session() as s:
        delivery = s.get(Delivery, delivery_id)
        if delivery is None:
            raise NotFound(f"no delivery {delivery_id}; `datahub deliveries` lists them", path="delivery")
        status, dataset_name = delivery.status, delivery.dataset
        holder, lease = delivery.claimed_by, delivery.lease_until
    if status in DeliveryStatus.FINAL:
        raise NotRetryable(f"delivery {delivery_id} is {status}: it is finished, nothing to retry")
    if status in DeliveryStatus.CLAIMED and claims.alive(holder, lease):
        raise NotRetryable(f"delivery {delivery_id} is {status} by a running process ({holder})")
    dataset = platform.catalog.get(dataset_name)
    with platform_errors(f"delivery {delivery_id} could not be retried"):
        if status == DeliveryStatus.failed:
            restart(platform, delivery_id)
        return converge(platform, dataset, delivery_id, retry_failed=False)

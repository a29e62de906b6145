"""The metadata database: deliveries, reconciliation, quarantine reasons, findings, snapshots."""

from datahub.metadata.models import (
    ContractVersion,
    Delivery,
    DeliveryStatus,
    Finding,
    QuarantineReason,
    Snapshot,
)
from datahub.metadata.store import MetadataStore

__all__ = [
    "ContractVersion",
    "Delivery",
    "DeliveryStatus",
    "Finding",
    "MetadataStore",
    "QuarantineReason",
    "Snapshot",
]

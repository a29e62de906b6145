"""The metadata database: deliveries, reconciliation, quarantine reasons, quality runs, snapshots."""

from datahub.metadata.models import (
    ContractVersion,
    Delivery,
    DeliveryStatus,
    QualityRun,
    QualityScore,
    QuarantineReason,
    RuleResult,
    Snapshot,
)
from datahub.metadata.store import MetadataStore

__all__ = [
    "ContractVersion",
    "Delivery",
    "DeliveryStatus",
    "MetadataStore",
    "QualityRun",
    "QualityScore",
    "QuarantineReason",
    "RuleResult",
    "Snapshot",
]

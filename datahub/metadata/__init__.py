"""The metadata database: deliveries, reconciliation, quarantine reasons, quality runs, snapshots,
contracts, API clients, dashboard sessions, grants and the audit log."""

from datahub.metadata.models import (
    AuditRecord,
    Client,
    ContractVersion,
    CorrectionRequest,
    CorrectionStatus,
    DashboardSession,
    Delivery,
    DeliveryStatus,
    Grant,
    GrantStatus,
    QualityRun,
    QualityScore,
    QuarantineReason,
    RuleResult,
    Snapshot,
    StandingGrant,
    VersionState,
)
from datahub.metadata.store import MetadataStore

__all__ = [
    "AuditRecord",
    "Client",
    "ContractVersion",
    "CorrectionRequest",
    "CorrectionStatus",
    "DashboardSession",
    "Delivery",
    "DeliveryStatus",
    "Grant",
    "GrantStatus",
    "MetadataStore",
    "QualityRun",
    "QualityScore",
    "QuarantineReason",
    "RuleResult",
    "Snapshot",
    "StandingGrant",
    "VersionState",
]

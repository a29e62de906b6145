"""The tamper-evident audit log of the sharing API: a keyed hash chain in the metadata database, an
anchor file for its end, and a write-behind writer for the hot path (see docs/audit.md)."""

from datahub.audit.log import (
    GENESIS_HASH,
    Anchor,
    AnchorError,
    AuditEntry,
    AuditLog,
    AuditWriteError,
    AuditWriter,
    Verification,
    anchor_path,
    audit_key,
    canonical_json,
    format_time,
    open_audit_log,
    record_hash,
)

__all__ = [
    "GENESIS_HASH",
    "Anchor",
    "AnchorError",
    "AuditEntry",
    "AuditLog",
    "AuditWriteError",
    "AuditWriter",
    "Verification",
    "anchor_path",
    "audit_key",
    "canonical_json",
    "format_time",
    "open_audit_log",
    "record_hash",
]

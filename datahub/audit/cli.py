"""What ``datahub audit …`` runs: plain functions of a Platform returning an exit code and a message
(or plain data), so the CLI only wires arguments and prints.

Exit codes of ``verify_log``/``reanchor_log``: 0 the log is intact, 1 it is not (the message names the
first bad record and why).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from datahub.audit.log import GenesisError, open_audit_log

if TYPE_CHECKING:
    from datahub.platform import Platform

EXIT_OK = 0
EXIT_BROKEN = 1


def verify_log(platform: Platform, chunk_size: int = 5000) -> tuple[int, str]:
    """``datahub audit verify``: walks the whole chain and checks its end against the anchor."""
    audit = open_audit_log(platform)
    try:
        result = audit.verify(chunk_size=chunk_size)
    finally:
        audit.close()
    return (EXIT_OK if result.ok else EXIT_BROKEN), result.message


def reanchor_log(platform: Platform) -> tuple[int, str]:
    """``datahub audit reanchor``: after a lost or broken anchor file (or genesis marker), verify the
    chain and anchor its current end (and mark its record 1). This accepts the log as it is now
    (records already cut off the end stay unseen), so it is for an operator who has checked the log by
    other means (a backup, an export). It refuses a log its genesis marker shows to have been deleted."""
    audit = open_audit_log(platform)
    try:
        try:
            marked = audit.read_genesis() is not None
        except GenesisError:
            marked = False
        result = audit.reanchor()
    finally:
        audit.close()
    if not result.ok:
        return EXIT_BROKEN, result.message + "; anchor not moved"
    if result.last_seq == 0:
        return EXIT_OK, "audit log empty: anchor removed, the first record will create it"
    genesis = "" if marked else "; genesis marker written"
    return (
        EXIT_OK,
        f"audit log intact: {result.checked} records; anchor set to seq {result.last_seq}{genesis}",
    )


def list_log(platform: Platform, **filters: Any) -> list[dict[str, Any]]:
    """``datahub audit list``: records newest first as plain dicts (filters as ``AuditLog.query``)."""
    audit = open_audit_log(platform)
    try:
        return audit.query(**filters)
    finally:
        audit.close()

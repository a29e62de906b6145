"""The audit log (审计日志) for stewards and admins: who read what, when, why, and how many rows."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query

from datahub.api.deps import ServiceDep, Stewardship
from datahub.api.models import AuditPublic, ErrorPublic

router = APIRouter(
    prefix="/audit",
    tags=["audit"],
    responses={
        401: {"model": ErrorPublic, "description": "No or unknown API key (`unauthenticated`)."},
        403: {"model": ErrorPublic, "description": "Stewards and admins only (`forbidden`)."},
    },
)


@router.get("", response_model=AuditPublic, summary="Audit records, newest first")
def audit_log(
    steward: Stewardship,
    service: ServiceDep,
    client_id: Annotated[str | None, Query(max_length=40)] = None,
    view: Annotated[str | None, Query(max_length=100)] = None,
    action: Annotated[str | None, Query(max_length=40, examples=["read"])] = None,
    since: Annotated[datetime | None, Query(description="From this time (UTC).")] = None,
    until: Annotated[datetime | None, Query(description="Before this time (UTC).")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> dict[str, Any]:
    records = service.audit_records(
        client_id=client_id, view=view, action=action, since=since, until=until, limit=limit, offset=offset
    )
    return {"data": records, "count": len(records)}

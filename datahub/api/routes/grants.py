"""Grants (共享申请): a client requests a conditional view; a steward approves or refuses; either revokes.

Every decision is written to the audit log. Expiry and revocation take effect on the next request.
"""

from __future__ import annotations

from datetime import UTC
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, status

from datahub.access import GrantRequest
from datahub.api.deps import CurrentPrincipal, GrantsDep, ServiceDep, Stewardship, get_principal
from datahub.api.models import ErrorPublic, GrantCreate, GrantDecision, GrantPublic, GrantsPublic

router = APIRouter(
    prefix="/grants",
    tags=["grants"],
    dependencies=[Depends(get_principal)],
    responses={
        401: {"model": ErrorPublic, "description": "No or unknown API key (`unauthenticated`)."},
        403: {"model": ErrorPublic, "description": "Not for this role (`forbidden`)."},
        429: {"model": ErrorPublic, "description": "Over the client's rate limit (`rate_limited`)."},
    },
)
GrantId = Annotated[int, Path(ge=1, le=2**62, examples=[1])]
_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorPublic, "description": "No such grant you may see (`not_found`)."},
    409: {"model": ErrorPublic, "description": "Decided already (`conflict`)."},
}


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=GrantPublic,
    summary="Request a grant",
    responses={404: _FOUND[404], 422: {"model": ErrorPublic, "description": "Invalid request."}},
)
def request_grant(body: GrantCreate, principal: CurrentPrincipal, service: ServiceDep) -> dict[str, Any]:
    expires = body.expires_at
    if expires is not None and expires.tzinfo is not None:
        expires = expires.astimezone(UTC).replace(tzinfo=None)
    grant = service.grants.request(
        principal,
        GrantRequest(body.view, body.purpose, body.columns, body.row_filter, body.legal_basis, expires),
    )
    service.record_grant(principal, "grant.request", grant)
    return grant


@router.get("", response_model=GrantsPublic, summary="Grants: all for stewards, your own otherwise")
def list_grants(
    principal: CurrentPrincipal,
    grants: GrantsDep,
    status: Annotated[Literal["requested", "approved", "refused", "revoked"] | None, Query()] = None,
    view: Annotated[str | None, Query(max_length=100)] = None,
) -> dict[str, Any]:
    found = grants.find(principal, status=status, view=view)
    return {"data": found, "count": len(found)}


@router.get("/{grant_id}", response_model=GrantPublic, summary="One grant", responses=_FOUND)
def get_grant(grant_id: GrantId, principal: CurrentPrincipal, grants: GrantsDep) -> dict[str, Any]:
    return grants.get(grant_id, principal)


@router.post(
    "/{grant_id}/approve", response_model=GrantPublic, summary="Approve (stewards)", responses=_FOUND
)
def approve_grant(
    grant_id: GrantId, steward: Stewardship, service: ServiceDep, body: GrantDecision | None = None
) -> dict[str, Any]:
    grant = service.grants.approve(grant_id, steward, body.note if body else None)
    service.record_grant(steward, "grant.approve", grant)
    return grant


@router.post("/{grant_id}/refuse", response_model=GrantPublic, summary="Refuse (stewards)", responses=_FOUND)
def refuse_grant(
    grant_id: GrantId, steward: Stewardship, service: ServiceDep, body: GrantDecision | None = None
) -> dict[str, Any]:
    grant = service.grants.refuse(grant_id, steward, body.note if body else None)
    service.record_grant(steward, "grant.refuse", grant)
    return grant


@router.post(
    "/{grant_id}/revoke",
    response_model=GrantPublic,
    summary="Revoke (stewards, or the grantee)",
    responses=_FOUND,
)
def revoke_grant(grant_id: GrantId, principal: CurrentPrincipal, service: ServiceDep) -> dict[str, Any]:
    grant = service.grants.revoke(grant_id, principal)
    service.record_grant(principal, "grant.revoke", grant)
    return grant

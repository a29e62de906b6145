"""Correction requests (校核纠错): a consumer reports wrong data in rows it read; the owner department
accepts (and links the delivery that corrects it) or rejects with a reason, within a deadline in
working days. Every step is written to the audit log (datahub/access/corrections.py)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, status

from datahub.access.corrections import CorrectionAsk, Corrections
from datahub.api.deps import CurrentPrincipal, ServiceDep, get_principal
from datahub.api.models import (
    CorrectionAccept,
    CorrectionCreate,
    CorrectionLink,
    CorrectionPublic,
    CorrectionReject,
    CorrectionsPublic,
    ErrorPublic,
)


async def get_corrections(service: ServiceDep) -> Corrections:
    return Corrections(service)


CorrectionsDep = Annotated[Corrections, Depends(get_corrections)]

router = APIRouter(
    prefix="/corrections",
    tags=["corrections"],
    dependencies=[Depends(get_principal)],
    responses={
        401: {"model": ErrorPublic, "description": "No or unknown API key (`unauthenticated`)."},
        403: {"model": ErrorPublic, "description": "Not for this role or this request (`forbidden`)."},
        429: {"model": ErrorPublic, "description": "Over the client's rate limit (`rate_limited`)."},
    },
)
CorrectionId = Annotated[int, Path(ge=1, le=2**62, examples=[1])]
_ANSWER: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorPublic, "description": "No such request you may see (`not_found`)."},
    409: {"model": ErrorPublic, "description": "Answered already (`conflict`)."},
    422: {"model": ErrorPublic, "description": "A missing reason, an unusable delivery (`invalid_input`)."},
}


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=CorrectionPublic,
    summary="Report wrong data in rows you read",
    responses={
        404: {"model": ErrorPublic, "description": "Unknown or unpublished view (`not_found`)."},
        422: {"model": ErrorPublic, "description": "Keys not found, a field you may not read, …"},
    },
)
def request_correction(
    body: CorrectionCreate, principal: CurrentPrincipal, corrections: CorrectionsDep
) -> dict[str, Any]:
    return corrections.request(
        principal, CorrectionAsk(body.view, body.keys, body.field, body.problem, body.evidence)
    )


@router.get(
    "",
    response_model=CorrectionsPublic,
    summary="Requests: yours, your department's inbox, or all for stewards",
)
def list_corrections(
    principal: CurrentPrincipal,
    corrections: CorrectionsDep,
    status: Annotated[Literal["open", "accepted", "rejected", "corrected"] | None, Query()] = None,
    department: Annotated[str | None, Query(max_length=20, description="The answering department.")] = None,
    view: Annotated[str | None, Query(max_length=100)] = None,
    overdue: Annotated[bool | None, Query(description="Only overdue (true) or only not (false).")] = None,
) -> dict[str, Any]:
    found = corrections.find(principal, status=status, department=department, view=view, overdue=overdue)
    return {"data": found, "count": len(found)}


@router.get(
    "/{correction_id}", response_model=CorrectionPublic, summary="One request", responses={404: _ANSWER[404]}
)
def get_correction(
    correction_id: CorrectionId, principal: CurrentPrincipal, corrections: CorrectionsDep
) -> dict[str, Any]:
    return corrections.get(correction_id, principal)


@router.post(
    "/{correction_id}/accept",
    response_model=CorrectionPublic,
    summary="Accept (the owner department or a steward); with `delivery`, corrected at once",
    responses=_ANSWER,
)
def accept_correction(
    correction_id: CorrectionId,
    principal: CurrentPrincipal,
    corrections: CorrectionsDep,
    body: CorrectionAccept | None = None,
) -> dict[str, Any]:
    return corrections.accept(
        correction_id, principal, body.note if body else None, body.delivery if body else None
    )


@router.post(
    "/{correction_id}/reject",
    response_model=CorrectionPublic,
    summary="Reject with a reason (the owner department or a steward)",
    responses=_ANSWER,
)
def reject_correction(
    correction_id: CorrectionId,
    body: CorrectionReject,
    principal: CurrentPrincipal,
    corrections: CorrectionsDep,
) -> dict[str, Any]:
    return corrections.reject(correction_id, principal, body.reason)


@router.post(
    "/{correction_id}/corrected",
    response_model=CorrectionPublic,
    summary="Link the delivery that corrected an accepted request",
    responses=_ANSWER,
)
def link_correction(
    correction_id: CorrectionId,
    body: CorrectionLink,
    principal: CurrentPrincipal,
    corrections: CorrectionsDep,
) -> dict[str, Any]:
    return corrections.corrected(correction_id, principal, body.delivery)

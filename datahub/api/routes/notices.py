"""Notices (变更通知): contract versions still to come that change what the caller reads.

A breaking version of a dataset's contract waits for a steward's approval and takes effect on its
date. Until then everyone holding grants on the dataset, or on a view built from it, finds it here;
each read of such a view also carries ``X-Datahub-Pending-Version``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from datahub.api.deps import CurrentPrincipal, ServiceDep, get_principal
from datahub.api.models import ErrorPublic

router = APIRouter(
    prefix="/notices",
    tags=["notices"],
    dependencies=[Depends(get_principal)],
    responses={401: {"model": ErrorPublic, "description": "No or unknown API key (`unauthenticated`)."}},
)


@router.get("", summary="Contract changes to come that reach you")
def list_notices(principal: CurrentPrincipal, service: ServiceDep) -> dict[str, Any]:
    """Each pending or scheduled version: the contract, the version in force and the one to come, its
    state (`awaiting_approval`, or `scheduled` with `effective_at`), its breaking changes and the
    datasets and views it changes that you hold grants on (stewards, admins and leaders see all; a
    department also its own contracts)."""
    data = [n.to_dict() for n in service.notices(principal)]
    return {"data": data, "count": len(data)}

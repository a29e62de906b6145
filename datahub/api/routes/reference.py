"""The unified data dictionary (数据字典) and quality results (质量结果), read-only."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query

from datahub.access import Principal, Role
from datahub.api.deps import CurrentPrincipal, PlatformDep, get_principal
from datahub.api.models import ErrorPublic
from datahub.errors import Forbidden, NotFound
from datahub.quality.history import PASS_RATE_TARGET, quality_report

router = APIRouter(
    dependencies=[Depends(get_principal)],
    responses={
        401: {"model": ErrorPublic, "description": "No or unknown API key (`unauthenticated`)."},
        404: {"model": ErrorPublic, "description": "No such entry (`not_found`)."},
        429: {"model": ErrorPublic, "description": "Over the client's rate limit (`rate_limited`)."},
    },
)
TableId = Annotated[str, Path(pattern=r"^[a-z][a-z0-9_]{0,99}$", examples=["event_categories"])]


@router.get("/dictionary", tags=["dictionary"], summary="Data elements and the code tables")
def dictionary(platform: PlatformDep) -> dict[str, Any]:
    d = platform.dictionary
    return {
        "elements": [e.model_dump(mode="json") for e in d.elements.values()],
        "code_tables": [
            {**t.spec.model_dump(mode="json", exclude={"file"}), "codes": len(t.codes)}
            for t in d.code_tables.values()
        ],
        "crosswalks": [
            {**c.spec.model_dump(mode="json", exclude={"file"}), "entries": len(c.mapping)}
            for c in d.crosswalks.values()
        ],
    }


@router.get("/dictionary/code-tables/{table_id}", tags=["dictionary"], summary="Every code of one code table")
def code_table(table_id: TableId, platform: PlatformDep) -> dict[str, Any]:
    table = platform.dictionary.code_tables.get(table_id)
    if table is None:
        known = ", ".join(platform.dictionary.code_tables)
        raise NotFound(f"unknown code table '{table_id}' (known: {known})", path="table_id")
    codes = [
        {"code": c.code, "name_zh": c.name_zh, "name_en": c.name_en, "parent": c.parent, **c.attributes}
        for c in table.codes.values()
    ]
    return {**table.spec.model_dump(mode="json", exclude={"file"}), "data": codes, "count": len(codes)}


def _may_see(principal: Principal, owner: str | None) -> bool:
    return principal.role is not Role.department or principal.department == owner


@router.get("/quality", tags=["quality"], summary="Latest quality of every dataset you may see")
def quality_overview(principal: CurrentPrincipal, platform: PlatformDep) -> dict[str, Any]:
    out = []
    for dataset in platform.catalog:
        if not _may_see(principal, dataset.owner_department):
            continue
        try:
            report = quality_report(platform, dataset, history=1)
        except NotFound:
            continue
        latest = report["latest"]
        latest.pop("result_path", None)
        out.append(
            {
                "dataset": dataset.name,
                "title": dataset.title,
                "owner_department": dataset.owner_department,
                "validated_at": latest["validated_at"],
                "blocked": latest["blocked"],
                "pass_rate": latest["pass_rate"],
                "overall_score": latest["overall_score"],
                "scores": latest["scores"],
                "failing_rules": sum(1 for r in latest["rules"] if not r["success"]),
            }
        )
    return {"data": out, "count": len(out), "pass_rate_target": PASS_RATE_TARGET}


@router.get("/quality/{dataset}", tags=["quality"], summary="A dataset's latest scores, rules and history")
def quality_detail(
    dataset: Annotated[str, Path(pattern=r"^[A-Za-z][A-Za-z0-9_]{0,99}$", examples=["hotline_12345"])],
    principal: CurrentPrincipal,
    platform: PlatformDep,
    history: Annotated[int, Query(ge=1, le=120)] = 12,
) -> dict[str, Any]:
    contract = platform.catalog.get(dataset)
    if not _may_see(principal, contract.owner_department):
        raise Forbidden(f"a department sees the quality of its own datasets only, not of '{dataset}'")
    report = quality_report(platform, contract, history=history)
    report["latest"].pop("result_path", None)
    return report

"""The monthly leadership report (月通报) for stewards, admins and leaders, as PDF or HTML.

Made on demand by :func:`datahub.reports.render.cached_report` and kept until the metadata changes
(a new delivery, a grant decision, a read in that month …): the first request for a month takes a few
seconds, the next ones send the file.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path
from fastapi.responses import FileResponse

from datahub.access import Principal, Role
from datahub.api.deps import PlatformDep, require_role
from datahub.api.models import ErrorPublic
from datahub.reports.render import cached_report, report_name

router = APIRouter(
    prefix="/reports",
    tags=["reports"],
    responses={
        401: {"model": ErrorPublic, "description": "No or unknown API key (`unauthenticated`)."},
        403: {"model": ErrorPublic, "description": "Stewards, admins and leaders only (`forbidden`)."},
        404: {"model": ErrorPublic, "description": "No quality runs in that month (`not_found`)."},
        422: {"model": ErrorPublic, "description": "Not a month written YYYY-MM (`invalid_input`)."},
        429: {"model": ErrorPublic, "description": "Over the client's rate limit (`rate_limited`)."},
    },
)
Reader = Annotated[Principal, Depends(require_role(Role.steward, Role.admin, Role.leader))]
Month = Annotated[
    str, Path(pattern=r"^\d{4}-\d{2}$", examples=["2026-10"], description="The month reported, YYYY-MM.")
]


def _binary(media_type: str, description: str) -> dict[int | str, dict[str, Any]]:
    return {
        200: {
            "content": {media_type: {"schema": {"type": "string", "format": "binary"}}},
            "description": description,
        }
    }


@router.get(
    "/{month}.pdf",
    summary="The month's report as PDF (A4, Chinese)",
    response_class=FileResponse,
    responses=_binary("application/pdf", "The report, A4 PDF with its CJK font embedded."),
)
def report_pdf(month: Month, reader: Reader, platform: PlatformDep) -> FileResponse:
    path = cached_report(platform, month, "pdf")
    return FileResponse(
        path,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{report_name(month, "pdf")}"'},
    )


@router.get(
    "/{month}.html",
    summary="The month's report as one self-contained HTML page",
    response_class=FileResponse,
    responses=_binary("text/html", "The report as HTML: inline styles and SVG charts, nothing external."),
)
def report_html(month: Month, reader: Reader, platform: PlatformDep) -> FileResponse:
    path = cached_report(platform, month, "html")
    return FileResponse(path, media_type="text/html; charset=utf-8")

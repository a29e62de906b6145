"""Open311 GeoReport v2 read endpoints over ``events_unified`` (JSON format).

services.json             the unified event categories as services (service_code = the minor category)
requests.json             service requests: ``service_request_id`` (comma-separated; when given, the
                          other filters are ignored), ``service_code`` (comma-separated), ``status``
                          (open, closed), ``start_date``/``end_date`` on requested_datetime (ISO 8601;
                          by default the 90 days up to now; a range may not span more than 90 days);
                          at most 1,000 requests, newest first
requests/{id}.json        one request, as a one-element array

The same access rules, grants, row filters and audit as ``/api/v1/views/events_unified/rows`` apply.
Times are the city's local time with its offset (+08:00), as the spec requires a zone. Errors are JSON
of the API's own shape with a stable code (the spec leaves the error body to the server).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query

from datahub.api.deps import CurrentPrincipal, PlatformDep, ServiceDep, get_principal
from datahub.api.errors import InvalidRequest
from datahub.api.models import ErrorPublic
from datahub.citytime import CITY_ZONE
from datahub.dictionary.loader import DEPARTMENT_TABLE
from datahub.errors import NotFound

EVENTS = "events_unified"
CATEGORY_TABLE = "event_category"
MAJOR_TABLE = "event_major_category"
LEVEL_TABLE = "response_level"
MAX_REQUESTS = 1000
MAX_SPAN = timedelta(days=90)

router = APIRouter(
    tags=["open311"],
    dependencies=[Depends(get_principal)],
    responses={
        401: {"model": ErrorPublic, "description": "No or unknown API key (`unauthenticated`)."},
        403: {"model": ErrorPublic, "description": "No grant on events_unified (`forbidden`)."},
        429: {"model": ErrorPublic, "description": "Over the client's rate limit (`rate_limited`)."},
    },
)


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.replace(tzinfo=CITY_ZONE).isoformat()


def _local(moment: datetime) -> datetime:
    """A zoned time as the city's naive local time (how the views store it)."""
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(CITY_ZONE).replace(tzinfo=None)


def _request(row: dict[str, Any], platform: Any) -> dict[str, Any]:
    d = platform.dictionary
    category = d.codes(CATEGORY_TABLE).get(row.get("category") or "")
    department = d.codes(DEPARTMENT_TABLE).get(row.get("department") or "")
    level = d.codes(LEVEL_TABLE).get(row.get("response_level") or "")
    expected = None
    if level is not None and row.get("report_time") and "handling_hours" in level.attributes:
        reported = datetime.fromisoformat(row["report_time"])
        expected = reported + timedelta(hours=float(level.attributes["handling_hours"]))
    return {
        "service_request_id": row.get("event_id"),
        "status": "closed" if row.get("is_closed") else "open",
        "status_notes": None,
        "service_name": category.name_zh if category else None,
        "service_code": row.get("category"),
        "description": row.get("description"),
        "agency_responsible": department.name_zh if department else row.get("department"),
        "service_notice": level.name_zh + "响应" if level else None,
        "requested_datetime": _iso(row.get("report_time")),
        "updated_datetime": _iso(row.get("updated_at")),
        "expected_datetime": _iso(expected),
        "address": row.get("address"),
        "address_id": None,
        "zipcode": None,
        "lat": row.get("latitude"),
        "long": row.get("longitude"),
        "media_url": None,
    }


@router.get("/services.json", summary="Services: the unified event categories")
def services(platform: PlatformDep) -> list[dict[str, Any]]:
    d = platform.dictionary
    majors = d.codes(MAJOR_TABLE)
    out = []
    for code in d.codes(CATEGORY_TABLE).values():
        major = majors.get(code.parent or "")
        out.append(
            {
                "service_code": code.code,
                "service_name": code.name_zh,
                "description": code.name_en,
                "metadata": False,
                "type": "batch",
                "keywords": code.name_en.lower(),
                "group": major.name_zh if major else None,
            }
        )
    return out


def _split(text: str | None, name: str, limit: int = 100) -> list[str]:
    if text is None:
        return []
    items = [t.strip() for t in text.split(",") if t.strip()]
    if not items or len(items) > limit:
        raise InvalidRequest(f"{name} takes 1 to {limit} comma-separated values", path=name)
    return items


@router.get("/requests.json", summary="Service requests (unified events)")
def requests(
    principal: CurrentPrincipal,
    service: ServiceDep,
    platform: PlatformDep,
    service_request_id: Annotated[
        str | None, Query(max_length=4000, examples=["EV-hotline_12345-GD20261001000001"])
    ] = None,
    service_code: Annotated[str | None, Query(max_length=2000, examples=["0101,0102"])] = None,
    start_date: Annotated[datetime | None, Query(examples=["2026-10-01T00:00:00+08:00"])] = None,
    end_date: Annotated[datetime | None, Query(examples=["2026-10-31T23:59:59+08:00"])] = None,
    status: Annotated[str | None, Query(max_length=20, examples=["open"])] = None,
    jurisdiction_id: Annotated[str | None, Query(max_length=100)] = None,
) -> list[dict[str, Any]]:
    del jurisdiction_id  # one jurisdiction: the city
    ids = _split(service_request_id, "service_request_id", MAX_REQUESTS)
    terms: list[str] = []
    if ids:
        terms.append(f"event_id in ({', '.join(_quoted(i) for i in ids)})")
    else:
        codes = _split(service_code, "service_code")
        if codes:
            terms.append(f"category in ({', '.join(_quoted(c) for c in codes)})")
        statuses = _split(status, "status", 2)
        if any(s not in ("open", "closed") for s in statuses):
            raise InvalidRequest("status is open, closed or both", path="status")
        if len(set(statuses)) == 1:
            terms.append("is_closed = true" if statuses[0] == "closed" else "is_closed = false")
        end = _local(end_date) if end_date else datetime.now(CITY_ZONE).replace(tzinfo=None)
        start = _local(start_date) if start_date else end - MAX_SPAN
        if start > end or end - start > MAX_SPAN:
            raise InvalidRequest("start_date must precede end_date by at most 90 days", path="start_date")
        terms.append(
            f"report_time >= {_quoted(start.isoformat())} and report_time <= {_quoted(end.isoformat())}"
        )
    page = service.rows(
        principal,
        EVENTS,
        filter=" and ".join(terms),
        order="-report_time",
        limit=MAX_REQUESTS,
        action="open311",
    )
    return [_request(row, platform) for row in page.records()]


@router.get("/requests/{request_id}.json", summary="One service request")
def request(
    request_id: Annotated[str, Path(max_length=100, examples=["EV-hotline_12345-GD20261001000001"])],
    principal: CurrentPrincipal,
    service: ServiceDep,
    platform: PlatformDep,
) -> list[dict[str, Any]]:
    page = service.rows(
        principal, EVENTS, filter=f"event_id = {_quoted(request_id)}", limit=1, action="open311"
    )
    if not page.count:
        raise NotFound(f"no service request '{request_id}' you may read", path="request_id")
    return [_request(page.records()[0], platform)]

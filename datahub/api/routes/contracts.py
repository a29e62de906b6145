"""Data contracts (数据契约): the registry over HTTP. Every rule lives in ``ContractRegistry``.

Contract ids are URNs with colons (``urn:datahub:contract:hotline_12345``); a path segment takes them
as they are. An id containing ``/`` cannot be addressed here.
"""

from datetime import UTC, datetime
from typing import Annotated, Any

import pydantic
from fastapi import APIRouter, Depends, Path, Query, Request, Response, status
from fastapi.exceptions import RequestValidationError

from datahub.api.deps import (
    ContractRegistrar,
    CurrentCaller,
    CurrentPrincipal,
    PlatformDep,
    RegistryDep,
    ServiceDep,
    get_caller,
)
from datahub.api.errors import InvalidRequest, PayloadTooLarge, UnsupportedMediaType
from datahub.api.models import (
    ContractCreate,
    ContractDiffPublic,
    ContractPublic,
    ContractsPublic,
    ContractSummaryPublic,
    ContractVersionDetailPublic,
    ContractVersionPublic,
    DiffPublic,
    ErrorPublic,
    RegistrationPublic,
    VersionDecision,
    VersionRejection,
)
from datahub.citytime import recorded_time
from datahub.contracts.registry import Registration
from datahub.contracts.yaml_io import MAX_YAML_BYTES

YAML_TYPES = frozenset({"application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml", "text/plain"})
# The most the contract reader takes: a larger body is refused unread.
MAX_CONTRACT_BYTES = MAX_YAML_BYTES
# What the registry names as the file in refusals of a contract sent over HTTP.
SOURCE = "request body"

router = APIRouter(
    prefix="/contracts",
    tags=["contracts"],
    dependencies=[Depends(get_caller)],
    responses={
        401: {"model": ErrorPublic, "description": "No caller (`unauthenticated`)."},
        403: {"model": ErrorPublic, "description": "Unknown role or department (`forbidden`)."},
    },
)
ContractId = Annotated[str, Path(examples=["urn:datahub:contract:hotline_12345"])]
Version = Annotated[str, Path(examples=["1.0.0"])]
_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorPublic, "description": "No such contract or version (`not_found`)."}
}


async def _read_body(request: Request, limit: int) -> bytes:
    """The body, refused once it grows past ``limit`` bytes (JSON 413, unlike Starlette's plain text)."""
    too_large = PayloadTooLarge(f"the body is larger than {limit} bytes", path="body")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise too_large
    return bytes(body)


async def contract_text(request: Request) -> str:
    """The contract YAML: the raw body (``application/yaml``, ``text/yaml``, ``text/plain``) or the
    ``content`` of a JSON body."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/json" and media_type not in YAML_TYPES:
        raise UnsupportedMediaType(
            f"send the contract as application/yaml (or text/yaml, text/plain), or as application/json "
            f'{{"content": "<yaml>"}}; got {media_type or "no Content-Type"}'
        )
    body = await _read_body(request, MAX_CONTRACT_BYTES)
    if media_type == "application/json":
        try:
            return ContractCreate.model_validate_json(body).content
        except pydantic.ValidationError as exc:
            raise RequestValidationError(
                [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]
            ) from None
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidRequest(f"the contract is not UTF-8 text: {exc.reason}", path="body") from None
    if not text.strip():
        raise InvalidRequest("the body is empty; send the contract YAML", path="body")
    return text


ContractText = Annotated[str, Depends(contract_text)]


@router.get("")
def list_contracts(registry: RegistryDep) -> ContractsPublic:
    """Every registered contract, by its latest version."""
    data = [ContractSummaryPublic.from_rows(registry.versions(row.contract_id)) for row in registry.latest()]
    return ContractsPublic(data=data, count=len(data))


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"model": RegistrationPublic, "description": "This exact content is registered already."},
        409: {"model": ErrorPublic, "description": "Refused, with every reason (`contract_refused`)."},
        422: {
            "model": ErrorPublic,
            "description": "Not plain, bounded YAML (`contract_invalid`, naming the line): not YAML, an "
            "alias bomb, nesting too deep, a repeated key, a tag such as `!!python/...`.",
        },
        413: {"model": ErrorPublic, "description": "A body over 1 MiB (`payload_too_large`)."},
        415: {"model": ErrorPublic, "description": "Another body type (`unsupported_media_type`)."},
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/yaml": {"schema": {"type": "string"}},
                "text/yaml": {"schema": {"type": "string"}},
                "text/plain": {"schema": {"type": "string"}},
                "application/json": {"schema": ContractCreate.model_json_schema()},
            },
        }
    },
)
def register_contract(
    caller: ContractRegistrar,
    principal: CurrentPrincipal,
    registry: RegistryDep,
    platform: PlatformDep,
    service: ServiceDep,
    text: ContractText,
    response: Response,
) -> RegistrationPublic:
    """Register a new version (201), or find this content registered already (200). A new dataset is
    onboarded at once (landing zone, pipeline, API view). A breaking version is accepted (202) as
    ``pending``: it waits for a steward's approval and an effective date.

    Refused (422) when the text is not plain, bounded YAML (alias bombs, deep nesting, repeated
    keys, non-plain tags: the line is named). Refused (409) when the contract does not lint, reuses
    a version number with other content, is older than the latest, or breaks consumers without a
    new major version. A department may register only contracts it owns; consumers and leaders may
    not register.
    """
    registration = registry.register(text, source=SOURCE, caller=caller)
    if registration.status != "registered":
        response.status_code = status.HTTP_200_OK
    else:
        platform.forget_catalog()  # served from the next request on
        if registration.pending:
            response.status_code = status.HTTP_202_ACCEPTED
        service.record_contract(principal, "contract.register", registration_detail(registration))
    return RegistrationPublic.from_registration(registration)


def registration_detail(registration: Registration) -> dict[str, Any]:
    return {
        "contract_id": registration.contract_id,
        "version": registration.version,
        "state": registration.state,
        "effective_at": registration.effective_at.isoformat() if registration.effective_at else None,
    }


def _city_utc(moment: datetime | None) -> datetime | None:
    """A time given with a zone, or in city time without one, as naive UTC (how the registry keeps it)."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        return recorded_time(moment)
    return moment.astimezone(UTC).replace(tzinfo=None)


@router.post(
    "/{contract_id}/versions/{version}/approve",
    responses={
        **_NOT_FOUND,
        403: {"model": ErrorPublic, "description": "Only stewards and admins decide (`forbidden`)."},
        409: {"model": ErrorPublic, "description": "The version is not waiting for a decision (`conflict`)."},
        422: {"model": ErrorPublic, "description": "An effective date in the past (`invalid_input`)."},
    },
)
def approve_version(
    contract_id: ContractId,
    version: Version,
    decision: VersionDecision,
    caller: CurrentCaller,
    principal: CurrentPrincipal,
    registry: RegistryDep,
    platform: PlatformDep,
    service: ServiceDep,
) -> ContractVersionPublic:
    """Approve a breaking version: it takes effect at ``effective_at`` (now when left out). Consumers
    holding grants on what it feeds see a notice until then (``GET /api/v1/notices``)."""
    row = registry.approve(
        contract_id, version, caller=caller, effective_at=_city_utc(decision.effective_at), note=decision.note
    )
    platform.forget_catalog()
    service.record_contract(
        principal,
        "contract.approve",
        {"contract_id": contract_id, "version": version, "effective_at": str(row.effective_at)},
    )
    return ContractVersionPublic.from_row(row)


@router.post(
    "/{contract_id}/versions/{version}/reject",
    responses={
        **_NOT_FOUND,
        403: {"model": ErrorPublic, "description": "Only stewards and admins decide (`forbidden`)."},
        409: {"model": ErrorPublic, "description": "The version is not waiting for a decision (`conflict`)."},
    },
)
def reject_version(
    contract_id: ContractId,
    version: Version,
    rejection: VersionRejection,
    caller: CurrentCaller,
    principal: CurrentPrincipal,
    registry: RegistryDep,
    service: ServiceDep,
) -> ContractVersionPublic:
    """Reject a breaking version: it never takes effect; the department registers another."""
    row = registry.reject(contract_id, version, caller=caller, reason=rejection.reason)
    service.record_contract(
        principal,
        "contract.reject",
        {"contract_id": contract_id, "version": version, "reason": rejection.reason},
    )
    return ContractVersionPublic.from_row(row)


@router.get("/{contract_id}", responses=_NOT_FOUND)
def read_contract(contract_id: ContractId, registry: RegistryDep) -> ContractPublic:
    """A contract with all its versions, and its latest version parsed."""
    return ContractPublic.from_rows(registry.versions(contract_id))


@router.get("/{contract_id}/versions/{version}", responses=_NOT_FOUND)
def read_contract_version(
    contract_id: ContractId, version: Version, registry: RegistryDep
) -> ContractVersionDetailPublic:
    """One registered version, verbatim (``content``) and parsed (``document``)."""
    return ContractVersionDetailPublic.from_row(registry.get(contract_id, version))


@router.get("/{contract_id}/diff", responses=_NOT_FOUND)
def diff_contract(
    contract_id: ContractId,
    registry: RegistryDep,
    from_version: Annotated[str, Query(description="The older version.", examples=["1.0.0"])],
    to_version: Annotated[str, Query(description="The newer version.", examples=["1.1.0"])],
) -> ContractDiffPublic:
    """Every change between two registered versions, judged from the consumers' side."""
    diff = DiffPublic.from_diff(registry.diff(contract_id, from_version, to_version))
    return ContractDiffPublic(
        **diff.model_dump(), contract_id=contract_id, from_version=from_version, to_version=to_version
    )

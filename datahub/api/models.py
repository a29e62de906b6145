"""What the API reads (``…Create``) and answers (``…Public``), apart from the tables they come from.

Public models name every field a client may see; building them from the metadata rows here keeps
the routes thin and keeps internal columns (row ids, raw JSON) out of responses.
"""

from datetime import UTC, datetime
from typing import Any, Literal, Self

from pydantic import BaseModel, Field

from datahub.contracts.diff import ContractDiff
from datahub.contracts.registry import Registration
from datahub.contracts.yaml_io import load_yaml_text
from datahub.metadata import ContractVersion


class ErrorBody(BaseModel):
    code: str = Field(description="Stable, for scripts: unauthenticated, forbidden, not_found, …")
    message: str
    file: str | None = None
    path: str | None = Field(None, description="Where the problem is: a path in the document or request.")
    problems: list[str] | None = Field(None, description="Every reason, when there are several.")


class ErrorPublic(BaseModel):
    """The body of every error response."""

    error: ErrorBody


def _utc(moment: datetime) -> datetime:
    """Registry times are stored naive in UTC; answer them with their zone."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


# --- contracts -------------------------------------------------------------------------------------


class ContractCreate(BaseModel):
    """The JSON form of a registration; the raw YAML body (``application/yaml``) works as well."""

    content: str = Field(min_length=1, description="The contract, ODCS v3 YAML text.")


class ChangePublic(BaseModel):
    path: str
    kind: str
    old: Any
    new: Any
    breaking: bool
    tightening: bool
    reason: str


class DiffPublic(BaseModel):
    breaking: bool
    changes: list[ChangePublic]

    @classmethod
    def from_diff(cls, diff: ContractDiff) -> Self:
        return cls.model_validate(diff.to_dict())


class ContractDiffPublic(DiffPublic):
    contract_id: str
    from_version: str
    to_version: str


class ChangeSummaryPublic(BaseModel):
    """How a version differs from the one registered before it; the diff route has every change."""

    breaking: bool
    changes: int
    kinds: list[str]

    @classmethod
    def from_stored(cls, changes: dict[str, Any] | None) -> Self | None:
        if changes is None:
            return None
        items = changes.get("changes") or []
        return cls(
            breaking=bool(changes.get("breaking")),
            changes=len(items),
            kinds=sorted({str(item.get("kind")) for item in items}),
        )


class ContractVersionPublic(BaseModel):
    version: str
    sha256: str
    registered_at: datetime
    registered_by: str | None
    changes: ChangeSummaryPublic | None = Field(
        description="Against the previous version; null for the first."
    )

    @classmethod
    def from_row(cls, row: ContractVersion) -> Self:
        return cls(
            version=row.version,
            sha256=row.sha256,
            registered_at=_utc(row.registered_at),
            registered_by=row.registered_by,
            changes=ChangeSummaryPublic.from_stored(row.changes),
        )


class ContractVersionDetailPublic(ContractVersionPublic):
    contract_id: str
    name: str | None
    owner_department: str | None
    content: str = Field(description="The contract exactly as registered (YAML).")
    document: dict[str, Any] = Field(description="The same contract parsed; dates stay strings.")

    @classmethod
    def from_row(cls, row: ContractVersion) -> Self:
        return cls(
            **ContractVersionPublic.from_row(row).model_dump(),
            contract_id=row.contract_id,
            name=row.name,
            owner_department=row.owner_department,
            content=row.content,
            document=load_yaml_text(row.content),
        )


class ContractSummaryPublic(BaseModel):
    """A registered contract by its latest version."""

    contract_id: str
    name: str | None
    version: str
    owner_department: str | None
    versions: int = Field(description="How many versions are registered.")
    registered_at: datetime = Field(description="When the latest version was registered.")

    @classmethod
    def from_rows(cls, rows: list[ContractVersion]) -> Self:
        latest = rows[-1]
        return cls(
            contract_id=latest.contract_id,
            name=latest.name,
            version=latest.version,
            owner_department=latest.owner_department,
            versions=len(rows),
            registered_at=_utc(latest.registered_at),
        )


class ContractsPublic(BaseModel):
    data: list[ContractSummaryPublic]
    count: int


class ContractPublic(BaseModel):
    """A contract with every registered version (oldest first) and its latest content parsed."""

    contract_id: str
    name: str | None
    owner_department: str | None
    latest_version: str
    versions: list[ContractVersionPublic]
    document: dict[str, Any] = Field(description="The latest version parsed; dates stay strings.")

    @classmethod
    def from_rows(cls, rows: list[ContractVersion]) -> Self:
        latest = rows[-1]
        return cls(
            contract_id=latest.contract_id,
            name=latest.name,
            owner_department=latest.owner_department,
            latest_version=latest.version,
            versions=[ContractVersionPublic.from_row(row) for row in rows],
            document=load_yaml_text(latest.content),
        )


class RegistrationPublic(BaseModel):
    contract_id: str
    version: str
    status: Literal["registered", "unchanged"]
    previous_version: str | None
    diff: DiffPublic | None = Field(description="Against the previous version; null for a first version.")

    @classmethod
    def from_registration(cls, registration: Registration) -> Self:
        return cls.model_validate(registration.to_dict())


# --- views -----------------------------------------------------------------------------------------


class ViewSummaryPublic(BaseModel):
    name: str = Field(examples=["events_unified"])
    kind: Literal["dataset", "view"]
    title: str
    owner_department: str | None
    sharing_class: Literal["unconditional", "conditional", "not_shared"]
    access: Literal["allowed", "granted", "needs_grant"] = Field(
        description="allowed: readable by your role; granted: through your grants; needs_grant: request one."
    )
    reason: str
    grants: list[int]
    version: str | None = Field(description="The current published version (none before the first).")
    rows: int | None = Field(description="Rows of the current version, when you may read it.")


class ViewsPublic(BaseModel):
    data: list[ViewSummaryPublic]
    count: int


class ViewColumnPublic(BaseModel):
    name: str
    type: Literal["string", "integer", "decimal", "date", "timestamp", "boolean", "list"]
    title: str | None
    primary_key: bool
    personal_class: str
    masking: str = Field(
        description="How you receive it: none, raw (a grant with a legal basis), or the contract's "
        "desensitisation (mask, pseudonym, generalise, scan, redact)."
    )
    code_table: str | None


class ViewSchemaPublic(BaseModel):
    name: str
    kind: Literal["dataset", "view"]
    title: str
    contract_version: str
    owner_department: str | None
    sharing_class: str
    key: list[str]
    row_filter: str | None = Field(description="Your grants' row filter, applied to every read.")
    grants: list[int]
    columns: list[ViewColumnPublic]


class PagePublic(BaseModel):
    view: str
    version: str = Field(description="The snapshot version every row of this page comes from.")
    columns: list[str]
    data: list[dict[str, Any]]
    count: int
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")
    next: str | None = Field(description="The URL of the next page.")


# --- grants ----------------------------------------------------------------------------------------


class GrantCreate(BaseModel):
    view: str = Field(min_length=1, max_length=100, examples=["hotline_12345"])
    purpose: str = Field(min_length=1, max_length=2000, examples=["区级平台按辖区研判热线诉求"])
    columns: list[str] | None = Field(
        None, max_length=200, description="Columns you need (default: all).", examples=[["work_order_id"]]
    )
    row_filter: str | None = Field(
        None,
        max_length=2000,
        description="Rows you need, in the query language.",
        examples=["district_code = '330102'"],
    )
    legal_basis: str | None = Field(
        None, max_length=2000, description="Needed for personal columns to be released unmasked."
    )
    expires_at: datetime | None = Field(None, description="When the grant ends (UTC when no zone is given).")


class GrantDecision(BaseModel):
    note: str | None = Field(None, max_length=2000, examples=["同意，限辖区内使用"])


class GrantPublic(BaseModel):
    grant_id: int
    client_id: str
    view: str
    purpose: str
    columns: list[str] | None
    row_filter: str | None
    legal_basis: str | None
    expires_at: str | None
    status: Literal["requested", "approved", "refused", "revoked"]
    active: bool
    requested_at: str | None
    decided_at: str | None
    decided_by: str | None
    decision_note: str | None
    revoked_at: str | None
    revoked_by: str | None


class GrantsPublic(BaseModel):
    data: list[GrantPublic]
    count: int


# --- audit -----------------------------------------------------------------------------------------


class AuditPublic(BaseModel):
    data: list[dict[str, Any]]
    count: int

"""What the API reads (``…Create``) and answers (``…Public``), apart from the tables they come from.

Public models name every field a client may see; building them from the metadata rows here keeps
the routes thin and keeps internal columns (row ids, raw JSON) out of responses.
"""

from datetime import UTC, datetime
from typing import Any, Literal, Self

from pydantic import BaseModel, Field

from datahub.contracts.diff import ContractDiff
from datahub.contracts.registry import Registration, effective_of, standing, state_of
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
    state: Literal["pending", "approved", "rejected", "superseded"]
    breaking: bool | None = Field(description="Breaking against the approved version before it.")
    effective_at: datetime | None = Field(description="When it takes (or took) effect; null unless approved.")
    decided_by: str | None = Field(
        description="Who approved or rejected it; `rule: not breaking` for one approved by rule."
    )
    decision_note: str | None
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
            state=state_of(row),
            breaking=row.breaking,
            effective_at=_utc(effective) if (effective := effective_of(row)) else None,
            decided_by=row.decided_by,
            decision_note=row.decision_note,
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
    """A registered contract by its latest version, with the version in force and any to come."""

    contract_id: str
    name: str | None
    version: str = Field(description="The latest registered version.")
    in_force_version: str | None = Field(description="The version that runs now.")
    pending_version: str | None = Field(
        description="A version still to come: waiting for approval, or approved for a later date."
    )
    pending_effective_at: datetime | None = Field(
        description="When the pending version takes effect, if set."
    )
    owner_department: str | None
    versions: int = Field(description="How many versions are registered.")
    registered_at: datetime = Field(description="When the latest version was registered.")

    @classmethod
    def from_rows(cls, rows: list[ContractVersion]) -> Self:
        latest = rows[-1]
        now = standing(latest.contract_id, rows)
        upcoming = now.pending
        when = effective_of(upcoming) if upcoming is not None else None
        return cls(
            contract_id=latest.contract_id,
            name=latest.name,
            version=latest.version,
            in_force_version=now.in_force.version if now.in_force else None,
            pending_version=upcoming.version if upcoming else None,
            pending_effective_at=_utc(when) if when else None,
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
    in_force_version: str | None = Field(description="The version that runs now.")
    pending_version: str | None = Field(description="A version still to come, if any.")
    versions: list[ContractVersionPublic]
    document: dict[str, Any] = Field(description="The latest version parsed; dates stay strings.")

    @classmethod
    def from_rows(cls, rows: list[ContractVersion]) -> Self:
        latest = rows[-1]
        now = standing(latest.contract_id, rows)
        return cls(
            contract_id=latest.contract_id,
            name=latest.name,
            owner_department=latest.owner_department,
            latest_version=latest.version,
            in_force_version=now.in_force.version if now.in_force else None,
            pending_version=now.pending.version if now.pending else None,
            versions=[ContractVersionPublic.from_row(row) for row in rows],
            document=load_yaml_text(latest.content),
        )


class VersionDecision(BaseModel):
    """A steward's decision on a pending (breaking) version."""

    effective_at: datetime | None = Field(
        None, description="When it takes effect (ISO 8601; without a zone, city time); now when left out."
    )
    note: str | None = Field(None, max_length=2000)


class VersionRejection(BaseModel):
    reason: str = Field(min_length=1, max_length=2000, description="Why; the department sees it.")


class RegistrationPublic(BaseModel):
    contract_id: str
    version: str
    status: Literal["registered", "unchanged"]
    state: Literal["pending", "approved", "rejected", "superseded"] = Field(
        description="approved: in force from effective_at (at once when not breaking); pending: a breaking "
        "version waiting for a steward's approval (202)."
    )
    effective_at: datetime | None = Field(description="When it takes effect; null while pending.")
    in_force_version: str | None = Field(description="The version that runs now.")
    previous_version: str | None
    diff: DiffPublic | None = Field(description="Against the previous version; null for a first version.")

    @classmethod
    def from_registration(cls, registration: Registration) -> Self:
        return cls.model_validate(registration.to_dict())


# --- views -----------------------------------------------------------------------------------------


class PendingVersionPublic(BaseModel):
    """The next contract version to come for a dataset or view (the full notice: ``/api/v1/notices``)."""

    contract_id: str
    version: str = Field(examples=["2.0.0"])
    in_force_version: str | None
    state: Literal["awaiting_approval", "scheduled"] = Field(
        description="awaiting_approval: a breaking version a steward has not decided on yet; scheduled: "
        "approved, in force from effective_at."
    )
    effective_at: datetime | None = Field(description="When it takes effect (UTC); null while awaiting.")


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
    standing_grants: list[int] = Field(
        default_factory=list, description="Your standing grants (回流) that cover it: your area's rows."
    )
    version: str | None = Field(description="The current published version (none before the first).")
    rows: int | None = Field(description="Rows of the current version, when you may read it.")
    contract_version: str = Field(description="The contract version in force: what is served.")
    pending_version: PendingVersionPublic | None = Field(
        None,
        description="The contract version to come that changes it (for a view, of a source dataset: the "
        "soonest); null when none.",
    )


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
    standing_grants: list[int] = Field(
        default_factory=list, description="Your standing grants (回流) that cover it: your area's rows."
    )
    columns: list[ViewColumnPublic]
    pending_version: PendingVersionPublic | None = Field(
        None,
        description="The contract version to come that changes it (for a view, of a source dataset: the "
        "soonest); null when none.",
    )


class PagePublic(BaseModel):
    view: str
    version: str = Field(
        description="The snapshot every row of this page comes from (its Iceberg snapshot id; pass it as "
        "`snapshot` to read the same data again)."
    )
    snapshot_time: str | None = Field(default=None, description="When that snapshot was committed (UTC).")
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
    due_at: str | None = Field(
        description="When the answer is due: the end (24:00 city time) of the grant_answer_days-th working "
        "day after the request's day, on the dictionary's holiday calendar; null for requests made before "
        "deadlines were kept."
    )
    overdue: bool = Field(
        description="Still requested past due_at, or approved or refused after it (answered late)."
    )
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


# --- corrections (校核纠错) ------------------------------------------------------------------------


class CorrectionCreate(BaseModel):
    view: str = Field(min_length=1, max_length=100, examples=["hotline_12345"])
    keys: list[str | int | dict[str, str | int]] = Field(
        min_length=1,
        max_length=100,
        description="The rows' primary-key values: a value each for a one-column key, else an object "
        "naming every key column.",
        examples=[["WO202610010001"]],
    )
    field: str = Field(min_length=1, max_length=100, examples=["district_code"])
    problem: str = Field(min_length=1, max_length=2000, examples=["所属区与地址不符：地址在江汉区"])
    evidence: str | None = Field(None, max_length=4000, examples=["现场核实照片编号 JH-1021"])


class CorrectionAccept(BaseModel):
    note: str | None = Field(None, max_length=2000, examples=["属实，已通知业务科室更正"])
    delivery: str | None = Field(
        None, max_length=64, description="The delivery that already corrects it: the request is corrected."
    )


class CorrectionReject(BaseModel):
    reason: str = Field(min_length=1, max_length=2000, examples=["经核实，该工单地址与所属区一致"])


class CorrectionLink(BaseModel):
    delivery: str = Field(
        min_length=1, max_length=64, description="The published delivery that corrected it."
    )


class CorrectionPublic(BaseModel):
    correction_id: int
    view: str
    keys: list[dict[str, Any]]
    field: str
    problem: str
    evidence: str | None
    client_id: str
    client_name: str
    owner_department: str | None = Field(description="The department that answers.")
    source_dataset: str | None = Field(description="The dataset the rows come from, when known.")
    status: Literal["open", "accepted", "rejected", "corrected"]
    requested_at: str
    due_at: str = Field(description="The answer is due by then (working days from the settings).")
    overdue: bool = Field(description="Still open past due_at, or answered after it.")
    answered_at: str | None
    answered_by: str | None
    answer: str | None = Field(description="The reason of a rejection, or a note on acceptance.")
    delivery_id: str | None = Field(description="The delivery that corrected the data.")
    corrected_at: str | None


class CorrectionsPublic(BaseModel):
    data: list[CorrectionPublic]
    count: int

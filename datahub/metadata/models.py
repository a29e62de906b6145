"""Tables of the metadata database: deliveries (one run of a dataset's pipeline over one delivered
file), their quarantine reasons, quality runs with their rule results and GB/T 36344 scores, published
snapshots, registered contract versions, the sharing API's clients, grants and audit log, and the
dashboard's sessions."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship

if TYPE_CHECKING:
    from datahub.lake import PublishedVersion


class Base(DeclarativeBase):
    pass


class DeliveryStatus:
    """Where a delivery stands in the flow; each stage moves it one step on."""

    landed = "landed"
    reading = "reading"  # claimed by the raw stage
    raw = "raw"
    conforming = "conforming"  # claimed by the conformed stage
    conformed = "conformed"
    checking = "checking"  # claimed by the checked stage
    checked = "checked"
    publishing = "publishing"  # claimed by the published stage
    published = "published"
    rejected = "rejected"  # could not be read as the dataset: nothing published, nothing quarantined
    duplicate = "duplicate"  # the same bytes were delivered before: nothing is processed twice
    blocked = "blocked"  # a blocking quality rule failed: its rows are held in quarantine, nothing published
    withheld = "withheld"  # every row was withheld for k-anonymity: all quarantined, nothing published
    failed = "failed"  # the platform failed while processing it: `datahub deliveries retry` restarts it

    FINAL = frozenset({"published", "blocked", "rejected", "duplicate", "withheld"})
    """A delivery in one of these is finished: its rows are published or quarantined, once."""
    CLAIMED = frozenset({"reading", "conforming", "checking", "publishing"})
    """A stage is working on it (or its process died and a later run takes the claim over)."""


class Delivery(Base):
    __tablename__ = "deliveries"
    __table_args__ = (
        Index("ix_delivery_dataset_hash", "dataset", "file_hash"),
        Index("ux_delivery_landed_path", "landed_path", unique=True),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    dataset: Mapped[str] = mapped_column(String(100), index=True)
    source_file: Mapped[str] = mapped_column(Text)
    landed_path: Mapped[str] = mapped_column(Text)
    file_hash: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(Integer)
    contract_version: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(20), index=True)
    error: Mapped[str | None] = mapped_column(Text)
    # What was done to the file that its sender should know (columns ignored as the contract allows).
    notes: Mapped[list[str] | None] = mapped_column(JSON)
    duplicate_of: Mapped[str | None] = mapped_column(String(64))
    delivered_at: Mapped[datetime] = mapped_column(DateTime)
    landed_at: Mapped[datetime] = mapped_column(DateTime)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
    orchestrator_run_id: Mapped[str | None] = mapped_column(String(64))
    rows_in: Mapped[int | None] = mapped_column(Integer)
    rows_published: Mapped[int | None] = mapped_column(Integer)
    rows_quarantined: Mapped[int | None] = mapped_column(Integer)
    reconciled: Mapped[bool | None] = mapped_column(Boolean)
    snapshot_version: Mapped[str | None] = mapped_column(String(64))
    timings: Mapped[dict[str, float] | None] = mapped_column(JSON)
    # Values masked per column (and per entity found in free text) when the delivery was published.
    desensitised: Mapped[dict[str, int] | None] = mapped_column(JSON)
    rows_withheld: Mapped[int | None] = mapped_column(Integer)  # of rows_quarantined: for k-anonymity
    # The claim of the stage working on it: who holds it (host, process, token) and until when; a
    # later run takes it over once the holder is gone (datahub/pipeline/claims.py).
    claimed_by: Mapped[str | None] = mapped_column(String(200))
    lease_until: Mapped[datetime | None] = mapped_column(DateTime)
    attempts: Mapped[int | None] = mapped_column(Integer)  # claims taken, takeovers and retries included
    failed_stage: Mapped[str | None] = mapped_column(String(20))  # where a `failed` delivery stopped
    # A resubmission of quarantined rows: the delivery whose rows it fixes (never itself a fix). Its
    # rows count for that delivery, and it is no delivery of its own (datahub/quality/resubmissions.py).
    corrects: Mapped[str | None] = mapped_column(String(64), index=True)

    reasons: Mapped[list[QuarantineReason]] = relationship(
        back_populates="delivery", cascade="all, delete-orphan", order_by="QuarantineReason.rows.desc()"
    )
    quality: Mapped[QualityRun | None] = relationship(back_populates="delivery", cascade="all, delete-orphan")


class QuarantineReason(Base):
    """How many rows of a delivery were quarantined for one reason on one column."""

    __tablename__ = "quarantine_reasons"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    delivery_id: Mapped[str] = mapped_column(ForeignKey("deliveries.id", ondelete="CASCADE"), index=True)
    reason: Mapped[str] = mapped_column(String(40))
    column: Mapped[str] = mapped_column(String(100))
    rows: Mapped[int] = mapped_column(Integer)

    delivery: Mapped[Delivery] = relationship(back_populates="reasons")


class QualityRun(Base):
    """One run of a delivery's expectation suite: verdict, scores per GB/T 36344 dimension, pass rate."""

    __tablename__ = "quality_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    delivery_id: Mapped[str] = mapped_column(ForeignKey("deliveries.id", ondelete="CASCADE"), unique=True)
    dataset: Mapped[str] = mapped_column(String(100), index=True)
    contract_version: Mapped[str] = mapped_column(String(40))
    validated_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    success: Mapped[bool] = mapped_column(Boolean)
    blocked: Mapped[bool] = mapped_column(Boolean)
    rows_in: Mapped[int] = mapped_column(Integer)
    rows_validated: Mapped[int] = mapped_column(Integer)  # conformed rows the suite looked at
    rows_quarantined: Mapped[int] = mapped_column(Integer)  # by conformity
    rows_flagged: Mapped[int] = mapped_column(Integer)  # distinct rows a failing row-level rule flagged
    rows_passed: Mapped[int] = mapped_column(Integer)
    pass_rate: Mapped[float] = mapped_column(Float)  # percent of rows in that passed every check
    overall_score: Mapped[float] = mapped_column(Float)
    result_path: Mapped[str] = mapped_column(Text)  # GX ExpectationSuiteValidationResult JSON
    flags_path: Mapped[str | None] = mapped_column(Text)

    delivery: Mapped[Delivery] = relationship(back_populates="quality")
    rules: Mapped[list[RuleResult]] = relationship(
        back_populates="run", cascade="all, delete-orphan", order_by="RuleResult.id"
    )
    scores: Mapped[list[QualityScore]] = relationship(
        back_populates="run", cascade="all, delete-orphan", order_by="QualityScore.id"
    )


class RuleResult(Base):
    """One rule's verdict in a quality run (also reported as a Dagster asset check)."""

    __tablename__ = "rule_results"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("quality_runs.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    check: Mapped[str] = mapped_column(String(40))
    dimension: Mapped[str] = mapped_column(String(20))
    blocking: Mapped[bool] = mapped_column(Boolean)
    column: Mapped[str | None] = mapped_column(String(200))
    success: Mapped[bool] = mapped_column(Boolean)
    evaluated: Mapped[int] = mapped_column(Integer)
    failed: Mapped[int] = mapped_column(Integer)
    observed: Mapped[object | None] = mapped_column(JSON)
    sample: Mapped[list[dict[str, object]]] = mapped_column(JSON)
    detail: Mapped[str | None] = mapped_column(Text)  # a whole-file rule: seen against expected

    run: Mapped[QualityRun] = relationship(back_populates="rules")


class QualityScore(Base):
    """A quality run's score in one GB/T 36344 dimension (0–100), kept as history for trends."""

    __tablename__ = "quality_scores"
    __table_args__ = (Index("ix_score_dataset_time", "dataset", "scored_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("quality_runs.id", ondelete="CASCADE"), index=True)
    dataset: Mapped[str] = mapped_column(String(100))
    scored_at: Mapped[datetime] = mapped_column(DateTime)
    dimension: Mapped[str] = mapped_column(String(20))
    score: Mapped[float] = mapped_column(Float)
    checks: Mapped[int] = mapped_column(Integer)

    run: Mapped[QualityRun] = relationship(back_populates="scores")


class Snapshot(Base):
    """A published version of a dataset; exactly one per dataset is current."""

    __tablename__ = "snapshots"

    version: Mapped[str] = mapped_column(String(64), primary_key=True)
    dataset: Mapped[str] = mapped_column(String(100), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    rows: Mapped[int] = mapped_column(Integer)
    manifest_path: Mapped[str] = mapped_column(Text)
    delivery_id: Mapped[str | None] = mapped_column(ForeignKey("deliveries.id"))
    is_current: Mapped[bool] = mapped_column(Boolean, default=False)

    @classmethod
    def record(cls, s: Session, version: PublishedVersion, delivery_id: str | None) -> Snapshot:
        """The lake's version as its row (added once; not current until the caller says so)."""
        found = s.get(cls, version.version)
        if found is None:
            found = cls(
                version=version.version,
                dataset=version.dataset,
                created_at=version.created_at.replace(tzinfo=None),
                rows=version.rows,
                manifest_path=f"{version.table}@{version.snapshot_id}",  # the table and its snapshot
                delivery_id=delivery_id,
                is_current=False,
            )
            s.add(found)
            s.flush()
        return found


class RateWindow(Base):
    """How many requests of a client's per-second allowance the API processes have taken in one second
    (``datahub.access.rate_limits``); windows older than a minute are deleted."""

    __tablename__ = "rate_windows"

    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    window: Mapped[int] = mapped_column(BigInteger, primary_key=True)  # the second, since the epoch
    used: Mapped[int] = mapped_column(Integer, default=0)


class VersionState:
    """Where a registered contract version stands."""

    pending = "pending"  # a breaking version waiting for a steward's approval
    approved = "approved"  # in force from effective_at (at once for a non-breaking version)
    rejected = "rejected"  # a steward refused it: it never takes effect
    superseded = "superseded"  # a newer version was registered before this one took effect


class ContractVersion(Base):
    """One registered version of a data contract, kept verbatim."""

    __tablename__ = "contract_versions"
    __table_args__ = (UniqueConstraint("contract_id", "version", name="uq_contract_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    contract_id: Mapped[str] = mapped_column(String(200), index=True)
    version: Mapped[str] = mapped_column(String(40))
    name: Mapped[str | None] = mapped_column(Text)
    owner_department: Mapped[str | None] = mapped_column(String(20))
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[str] = mapped_column(Text)
    registered_at: Mapped[datetime] = mapped_column(DateTime)
    registered_by: Mapped[str | None] = mapped_column(String(100))
    changes: Mapped[dict[str, object] | None] = mapped_column(JSON)
    # Whether it takes effect (datahub/contracts/registry.py): a non-breaking version is approved by
    # rule and in force from ``effective_at``; a breaking one waits (``pending``) for a steward. A row
    # from before states were kept (NULL) counts as approved from ``registered_at``.
    state: Mapped[str | None] = mapped_column(String(20))
    breaking: Mapped[bool | None] = mapped_column(Boolean)
    effective_at: Mapped[datetime | None] = mapped_column(DateTime)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime)
    decided_by: Mapped[str | None] = mapped_column(String(100))
    decision_note: Mapped[str | None] = mapped_column(Text)


class Client(Base):
    """A caller of the sharing API: a consuming system, a department, a steward, a leader or an admin.

    Only the SHA-256 of its API key is kept (keys are 256-bit random, so a plain hash cannot be
    reversed by guessing); ``key_prefix`` (the key's first characters) finds the row to compare."""

    __tablename__ = "clients"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    department: Mapped[str | None] = mapped_column(String(20))
    key_prefix: Mapped[str] = mapped_column(String(16), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    rate_limit: Mapped[int] = mapped_column(Integer)  # requests per second, with a burst of as many
    created_at: Mapped[datetime] = mapped_column(DateTime)
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime)


class DashboardSession(Base):
    """A signed-in browser of the dashboard (datahub/dashboard/session.py). Its cookie is checked
    against this row on every request, so signing out ends the session for every copy of the cookie.

    ``id`` is the SHA-256 of the cookie's random nonce: the row alone cannot be turned into a cookie.
    Rows past ``expires_at`` are deleted when someone next signs in."""

    __tablename__ = "dashboard_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    expires_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)


class GrantStatus:
    requested = "requested"
    approved = "approved"
    refused = "refused"
    revoked = "revoked"


class Grant(Base):
    """A client's right to read a view for a purpose: columns, an optional row filter, an expiry.

    Requested by the client, approved or refused by a steward, revocable at any time; an approved grant
    past ``expires_at`` no longer counts. Personal columns named in ``columns`` are released unmasked
    only when ``legal_basis`` is stated."""

    __tablename__ = "grants"
    __table_args__ = (Index("ix_grant_client_view", "client_id", "view"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id"), index=True)
    view: Mapped[str] = mapped_column(String(100))
    purpose: Mapped[str] = mapped_column(Text)
    columns: Mapped[list[str] | None] = mapped_column(JSON)  # None: every column of the view
    row_filter: Mapped[str | None] = mapped_column(Text)  # in the API's filter language
    legal_basis: Mapped[str | None] = mapped_column(Text)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime)
    status: Mapped[str] = mapped_column(String(20), index=True)
    requested_at: Mapped[datetime] = mapped_column(DateTime)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime)
    decided_by: Mapped[str | None] = mapped_column(String(100))
    decision_note: Mapped[str | None] = mapped_column(Text)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)
    revoked_by: Mapped[str | None] = mapped_column(String(100))
    # The answer is due by then (working days from settings.grant_answer_days); None for a request made
    # before deadlines were kept.
    due_at: Mapped[datetime | None] = mapped_column(DateTime)


class AuditRecord(Base):
    """One entry of the tamper-evident audit log: every data read (and every grant decision).

    ``hash`` is HMAC-SHA256 (a key derived from the platform secret) over the previous record's hash and this
    record's canonical JSON, so editing or
    deleting any record breaks the chain from there on (``datahub audit verify``)."""

    __tablename__ = "audit_log"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(DateTime, index=True)
    client_id: Mapped[str | None] = mapped_column(String(40), index=True)
    client_name: Mapped[str | None] = mapped_column(String(100))
    role: Mapped[str | None] = mapped_column(String(20))
    action: Mapped[str] = mapped_column(String(40))  # read, export, event, open311, grant.request, …
    view: Mapped[str | None] = mapped_column(String(100), index=True)
    columns: Mapped[list[str] | None] = mapped_column(JSON)
    filter: Mapped[str | None] = mapped_column(Text)
    rows: Mapped[int | None] = mapped_column(Integer)
    purpose: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[dict[str, object] | None] = mapped_column(JSON)  # grant id, snapshot version, status …
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class StandingGrant(Base):
    """回流: a district's (or street's) platform's standing right to its own area's rows.

    Not tied to a view: at every request it acts as an approved grant on each served dataset and view
    that has a column of the area's dictionary element (``district_code``, ``street_code``), with the
    row filter ``<that column> = '<area_code>'`` (datahub/access/return_flow.py). A dataset added later
    is covered without any action. It states no legal basis, so personal columns stay masked."""

    __tablename__ = "standing_grants"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id"), index=True)
    area_level: Mapped[str] = mapped_column(String(10))  # district | street
    area_code: Mapped[str] = mapped_column(String(20))
    purpose: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)
    revoked_by: Mapped[str | None] = mapped_column(String(100))


class CorrectionStatus:
    """Where a correction request (校核纠错) stands (datahub/access/corrections.py)."""

    open = "open"  # waiting for the owner department's answer
    accepted = "accepted"  # the department agrees the data is wrong; its correcting delivery is to come
    rejected = "rejected"  # the department checked and found the data right (``answer`` says why)
    corrected = "corrected"  # accepted, and the delivery that corrected it is linked (``delivery_id``)


class CorrectionRequest(Base):
    """校核纠错 (《政务数据共享条例》): a consumer reports wrong data in rows it read from a view; the
    department owning those rows answers by ``due_at`` (working days from the settings), accepting
    (then correcting through a delivery, linked here) or rejecting with a reason."""

    __tablename__ = "correction_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    view: Mapped[str] = mapped_column(String(100), index=True)
    keys: Mapped[list[dict[str, object]]] = mapped_column(JSON)  # each row's primary-key values
    field: Mapped[str] = mapped_column(String(100))
    problem: Mapped[str] = mapped_column(Text)
    evidence: Mapped[str | None] = mapped_column(Text)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id"), index=True)
    client_name: Mapped[str] = mapped_column(String(100))
    owner_department: Mapped[str | None] = mapped_column(String(20), index=True)
    source_dataset: Mapped[str | None] = mapped_column(String(100))  # the dataset the rows come from
    status: Mapped[str] = mapped_column(String(20), index=True)
    requested_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    due_at: Mapped[datetime] = mapped_column(DateTime)
    answered_at: Mapped[datetime | None] = mapped_column(DateTime)
    answered_by: Mapped[str | None] = mapped_column(String(100))
    answer: Mapped[str | None] = mapped_column(Text)  # the reason of a rejection, a note on acceptance
    delivery_id: Mapped[str | None] = mapped_column(String(64))  # the delivery that corrected it
    corrected_at: Mapped[datetime | None] = mapped_column(DateTime)

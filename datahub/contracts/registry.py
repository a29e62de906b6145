"""The contract registry: every registered version of every contract, in the metadata database. It is
the one source of what runs: the pipeline, the Dagster code location and the sharing API read the
datasets of the versions in force (``in_force``); ``contracts/`` only seeds it (``seed``).

Registration refuses, with every reason: a contract that does not lint; a version number already
registered with other content; a version older than the latest; a breaking change (judged by
``diff_contracts`` from the consumer's side) without a new major version; a department registering a
contract owned by another department; a dataset name another contract declares. Registering the same
content again changes nothing. Text that does not read as plain, bounded YAML (``yaml_io``) is a
``ContractError`` naming the line.

Versions take effect by rule. Each new version is compared with the latest approved one (what consumers
see, or are about to): a non-breaking version is approved by rule and in force at once (or when the
version it follows takes effect); a breaking version is ``pending`` until a steward approves it with an
effective date (``approve``) or rejects it (``reject``). A pending version that a newer one follows
before approval is ``superseded``. The version in force at a time is the highest approved version
effective by then.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from packaging.version import InvalidVersion, Version
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from datahub.citytime import city_time
from datahub.contracts.diff import ContractDiff, diff_contracts, required_bump
from datahub.contracts.lint import lint_document
from datahub.contracts.loader import CONTRACT_GLOB
from datahub.contracts.yaml_io import load_yaml_text
from datahub.dictionary import Dictionary
from datahub.errors import Conflict, Forbidden, InputError, NotFound, RegistrationRefused
from datahub.metadata import ContractVersion, MetadataStore, VersionState

# Roles that decide on breaking versions.
DECIDERS = frozenset({"steward", "admin"})
# Who registered, approved or rejected when nobody is named: the seed from contracts/ and rules.
PLATFORM = "platform"
BY_RULE = "rule: not breaking"


def now_utc() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class Caller:
    """Who is asking: a role and, for departments, the department code."""

    name: str
    role: str
    department: str | None = None


@dataclass(frozen=True)
class Registration:
    contract_id: str
    version: str
    status: str  # registered | unchanged
    previous_version: str | None
    diff: ContractDiff | None
    state: str = VersionState.approved
    effective_at: datetime | None = None
    in_force_version: str | None = None

    @property
    def pending(self) -> bool:
        return self.state == VersionState.pending

    def to_dict(self) -> dict[str, Any]:
        return {
            "contract_id": self.contract_id,
            "version": self.version,
            "status": self.status,
            "state": self.state,
            "effective_at": self.effective_at.isoformat() + "Z" if self.effective_at else None,
            "in_force_version": self.in_force_version,
            "previous_version": self.previous_version,
            "diff": self.diff.to_dict() if self.diff else None,
        }


def _version_key(version: str) -> tuple[int, Version | str]:
    try:
        return (1, Version(version))
    except InvalidVersion:
        return (0, version)


def _owner(doc: dict[str, Any]) -> str | None:
    for item in doc.get("customProperties") or []:
        if isinstance(item, dict) and item.get("property") == "ownerDepartment":
            return str(item.get("value"))
    return None


def _dataset_names(doc: Any) -> set[str]:
    if not isinstance(doc, dict):
        return set()
    return {str(o["name"]) for o in doc.get("schema") or [] if isinstance(o, dict) and o.get("name")}


def state_of(row: ContractVersion) -> str:
    """A row's state; rows from before states were kept are approved from their registration."""
    return row.state or VersionState.approved


def effective_of(row: ContractVersion) -> datetime | None:
    if state_of(row) != VersionState.approved:
        return None
    return row.effective_at or row.registered_at


@dataclass(frozen=True)
class Standing:
    """Where one contract stands at a time: the version in force and those still to come."""

    contract_id: str
    in_force: ContractVersion | None
    upcoming: list[ContractVersion] = field(default_factory=list)  # pending, or approved for later

    @property
    def pending(self) -> ContractVersion | None:
        """The next version to come (the highest one), if any."""
        return self.upcoming[-1] if self.upcoming else None


def standing(contract_id: str, rows: Iterable[ContractVersion], at: datetime | None = None) -> Standing:
    at = at or now_utc()
    ordered = sorted(rows, key=lambda r: _version_key(r.version))
    effective = [r for r in ordered if (e := effective_of(r)) is not None and e <= at]
    current = effective[-1] if effective else None
    later = [
        r
        for r in ordered
        if (current is None or _version_key(r.version) > _version_key(current.version))
        and (
            state_of(r) == VersionState.pending
            or (state_of(r) == VersionState.approved and (effective_of(r) or at) > at)
        )
    ]
    return Standing(contract_id, current, later)


class ContractRegistry:
    def __init__(self, metadata: MetadataStore, dictionary: Dictionary) -> None:
        self.metadata = metadata
        self.dictionary = dictionary

    # ------------------------------------------------------------------------------------- reading
    def versions(self, contract_id: str) -> list[ContractVersion]:
        with self.metadata.session() as s:
            rows = list(s.scalars(select(ContractVersion).where(ContractVersion.contract_id == contract_id)))
        if not rows:
            raise NotFound(f"no contract '{contract_id}' is registered")
        return sorted(rows, key=lambda r: _version_key(r.version))

    def get(self, contract_id: str, version: str | None = None) -> ContractVersion:
        rows = self.versions(contract_id)
        if version is None:
            return rows[-1]
        for row in rows:
            if row.version == version:
                return row
        known = ", ".join(r.version for r in rows)
        raise NotFound(f"contract '{contract_id}' has no version {version} (registered: {known})")

    def latest(self) -> list[ContractVersion]:
        with self.metadata.session() as s:
            ids = sorted(set(s.scalars(select(ContractVersion.contract_id))))
        return [self.versions(i)[-1] for i in ids]

    def standings(self, at: datetime | None = None) -> list[Standing]:
        """Every contract's standing at ``at`` (now), by contract id."""
        with self.metadata.session() as s:
            rows = list(s.scalars(select(ContractVersion).order_by(ContractVersion.contract_id)))
        by_id: dict[str, list[ContractVersion]] = {}
        for row in rows:
            by_id.setdefault(row.contract_id, []).append(row)
        return [standing(cid, versions, at) for cid, versions in by_id.items()]

    def standing(self, contract_id: str, at: datetime | None = None) -> Standing:
        return standing(contract_id, self.versions(contract_id), at)

    def in_force(self, at: datetime | None = None) -> list[ContractVersion]:
        """The version in force of every contract that has one: what runs."""
        return [st.in_force for st in self.standings(at) if st.in_force is not None]

    def in_force_keys(self, at: datetime | None = None) -> tuple[tuple[str, str, int], ...]:
        """(contract id, version, row id) of every version in force, read without the contents: a
        cheap test of whether what runs has changed."""
        columns = (
            ContractVersion.id,
            ContractVersion.contract_id,
            ContractVersion.version,
            ContractVersion.state,
            ContractVersion.effective_at,
            ContractVersion.registered_at,
        )
        with self.metadata.session() as s:
            rows = [ContractVersion(**r._asdict()) for r in s.execute(select(*columns))]
        by_id: dict[str, list[ContractVersion]] = {}
        for row in rows:
            by_id.setdefault(row.contract_id, []).append(row)
        keys = []
        for cid in sorted(by_id):
            current = standing(cid, by_id[cid], at).in_force
            if current is not None:
                keys.append((cid, current.version, current.id))
        return tuple(keys)

    def contents(self, ids: Iterable[int]) -> dict[int, str]:
        with self.metadata.session() as s:
            rows = s.execute(
                select(ContractVersion.id, ContractVersion.content).where(ContractVersion.id.in_(list(ids)))
            )
            return {row.id: row.content for row in rows}

    def diff(self, contract_id: str, old: str, new: str) -> ContractDiff:
        return diff_contracts(
            load_yaml_text(self.get(contract_id, old).content),
            load_yaml_text(self.get(contract_id, new).content),
        )

    # ------------------------------------------------------------------------------------ changing
    def seed(self, contracts_dir: Path) -> list[Registration]:
        """Register every contract of ``contracts_dir`` (not beneath it: views are the platform's own)
        whose exact content is not registered yet, by the same rules as any registration."""
        files = sorted(Path(contracts_dir).glob(CONTRACT_GLOB))
        if not files:
            return []
        with self.metadata.session() as s:
            known = set(s.scalars(select(ContractVersion.sha256)))
        done = []
        for path in files:
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise InputError(f"cannot be read: {exc}", file=str(path)) from None
            if _digest(text) not in known:
                done.append(self.register(text, source=str(path)))
        return done

    def register(self, text: str, *, source: str = "<text>", caller: Caller | None = None) -> Registration:
        doc = load_yaml_text(text, source=source)
        problems = [p for p in lint_document(doc, source, self.dictionary) if p.severity == "error"]
        if problems:
            raise RegistrationRefused(
                f"the contract does not lint ({len(problems)} problems)",
                file=source,
                problems=[str(p) for p in problems],
            )
        contract_id, version = str(doc["id"]), str(doc["version"])
        owner = _owner(doc)
        if caller is not None and caller.role == "department" and owner != caller.department:
            raise Forbidden(
                f"department {caller.department} may only register its own contracts (owner: {owner})",
                file=source,
            )
        digest = _digest(text)
        try:
            existing = self.versions(contract_id)
        except NotFound:
            existing = []
        current = standing(contract_id, existing).in_force
        for row in existing:
            if row.version == version:
                if row.sha256 == digest:
                    return self._registration(row, "unchanged", None, None, current)
                raise RegistrationRefused(
                    f"version {version} of '{contract_id}' is already registered with other content; "
                    "give this one a new version",
                    file=source,
                )
        self._refuse_taken_names(contract_id, doc, source)
        previous = existing[-1] if existing else None
        if previous is not None and _version_key(version) <= _version_key(previous.version):
            raise RegistrationRefused(
                f"version {version} is not newer than the registered {previous.version}", file=source
            )
        # Judged against the latest approved version: what consumers see, or are about to.
        approved = [r for r in existing if effective_of(r) is not None]
        base = approved[-1] if approved else None
        diff = None
        if base is not None:
            diff = diff_contracts(load_yaml_text(base.content), doc)
            reason = required_bump(base.version, version, diff)
            if reason:
                reasons = [f"{c.path}: {c.reason}" for c in diff.changes if c.breaking]
                raise RegistrationRefused(reason, file=source, problems=reasons)
        now = now_utc()
        breaking = bool(diff and diff.breaking)
        base_effective = effective_of(base) if base is not None else None
        row = ContractVersion(
            contract_id=contract_id,
            version=version,
            name=doc.get("name"),
            owner_department=owner,
            sha256=digest,
            content=text,
            registered_at=now,
            registered_by=caller.name if caller else PLATFORM,
            changes=diff.to_dict() if diff else None,
            breaking=breaking,
            state=VersionState.pending if breaking else VersionState.approved,
            effective_at=None if breaking else max(now, base_effective or now),
            decided_at=None if breaking else now,
            decided_by=None if breaking else BY_RULE,
        )
        try:
            with self.metadata.session() as s:
                s.add(row)
                for older in existing:  # a pending version followed before approval never takes effect
                    if state_of(older) == VersionState.pending:
                        s.get_one(ContractVersion, older.id).state = VersionState.superseded
        except IntegrityError:  # another process registered this version at the same moment
            again = self.get(contract_id, version)
            if again.sha256 == digest:
                return self._registration(again, "unchanged", None, None, current)
            raise RegistrationRefused(
                f"version {version} of '{contract_id}' was just registered with other content", file=source
            ) from None
        return self._registration(row, "registered", previous.version if previous else None, diff, current)

    def _registration(
        self,
        row: ContractVersion,
        status: str,
        previous: str | None,
        diff: ContractDiff | None,
        current: ContractVersion | None,
    ) -> Registration:
        state = state_of(row)
        effective = effective_of(row)
        in_force = row.version if effective is not None and effective <= now_utc() else None
        return Registration(
            row.contract_id,
            row.version,
            status,
            previous,
            diff,
            state=state,
            effective_at=effective,
            in_force_version=in_force or (current.version if current else None),
        )

    def _refuse_taken_names(self, contract_id: str, doc: Any, source: str) -> None:
        names = _dataset_names(doc)
        for other in self.latest():
            if other.contract_id == contract_id:
                continue
            taken = names & _dataset_names(load_yaml_text(other.content))
            if taken:
                raise RegistrationRefused(
                    f"dataset {', '.join(sorted(taken))} is declared by contract '{other.contract_id}'; "
                    "a dataset belongs to one contract",
                    file=source,
                )

    def _pending(self, contract_id: str, version: str, caller: Caller | None) -> ContractVersion:
        if caller is not None and caller.role not in DECIDERS:
            raise Forbidden(f"only a steward decides on a breaking version (you are {caller.role})")
        row = self.get(contract_id, version)
        state = state_of(row)
        if state != VersionState.pending:
            effective = effective_of(row)
            raise Conflict(
                f"version {version} of '{contract_id}' is {state}, not waiting for a decision"
                + (f" (in force from {city_time(effective):%Y-%m-%d %H:%M} city time)" if effective else "")
            )
        return row

    def approve(
        self,
        contract_id: str,
        version: str,
        *,
        caller: Caller | None = None,
        effective_at: datetime | None = None,
        note: str | None = None,
    ) -> ContractVersion:
        """Approve a pending (breaking) version, in force from ``effective_at`` (naive UTC; now when
        not given, never in the past)."""
        row = self._pending(contract_id, version, caller)
        now = now_utc()
        when = effective_at or now
        if when < now.replace(second=0, microsecond=0):
            raise InputError(
                f"the effective date {city_time(when):%Y-%m-%d %H:%M} (city time) is in the past",
                path="effective_at",
            )
        with self.metadata.session() as s:
            stored = s.get_one(ContractVersion, row.id)
            stored.state = VersionState.approved
            stored.effective_at = when
            stored.decided_at = now
            stored.decided_by = caller.name if caller else PLATFORM
            stored.decision_note = note
        return self.get(contract_id, version)

    def reject(
        self, contract_id: str, version: str, *, reason: str, caller: Caller | None = None
    ) -> ContractVersion:
        """Refuse a pending version: it never takes effect; the department registers another."""
        if not reason.strip():
            raise InputError("say why the version is rejected", path="reason")
        row = self._pending(contract_id, version, caller)
        with self.metadata.session() as s:
            stored = s.get_one(ContractVersion, row.id)
            stored.state = VersionState.rejected
            stored.decided_at = now_utc()
            stored.decided_by = caller.name if caller else PLATFORM
            stored.decision_note = reason.strip()
        return self.get(contract_id, version)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()

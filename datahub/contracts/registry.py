"""The contract registry: every registered version of every contract, in the metadata database.

Registration refuses, with every reason: a contract that does not lint; a version number already
registered with other content; a version older than the latest; a breaking change (judged by
``diff_contracts`` from the consumer's side) without a new major version; a department registering a
contract owned by another department. Registering the same content again changes nothing. Text that
does not read as plain, bounded YAML (``yaml_io``) is a ``ContractError`` naming the line.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from packaging.version import InvalidVersion, Version
from sqlalchemy import select

from datahub.contracts.diff import ContractDiff, diff_contracts, required_bump
from datahub.contracts.lint import lint_document
from datahub.contracts.yaml_io import load_yaml_text
from datahub.dictionary import Dictionary
from datahub.errors import Forbidden, NotFound, RegistrationRefused
from datahub.metadata import ContractVersion, MetadataStore


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

    def to_dict(self) -> dict[str, Any]:
        return {
            "contract_id": self.contract_id,
            "version": self.version,
            "status": self.status,
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


class ContractRegistry:
    def __init__(self, metadata: MetadataStore, dictionary: Dictionary) -> None:
        self.metadata = metadata
        self.dictionary = dictionary

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

    def diff(self, contract_id: str, old: str, new: str) -> ContractDiff:
        return diff_contracts(
            load_yaml_text(self.get(contract_id, old).content),
            load_yaml_text(self.get(contract_id, new).content),
        )

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
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
        try:
            existing = self.versions(contract_id)
        except NotFound:
            existing = []
        for row in existing:
            if row.version == version:
                if row.sha256 == digest:
                    return Registration(contract_id, version, "unchanged", None, None)
                raise RegistrationRefused(
                    f"version {version} of '{contract_id}' is already registered with other content; "
                    "give this one a new version",
                    file=source,
                )
        previous = existing[-1] if existing else None
        diff = None
        if previous is not None:
            if _version_key(version) <= _version_key(previous.version):
                raise RegistrationRefused(
                    f"version {version} is not newer than the registered {previous.version}", file=source
                )
            diff = diff_contracts(load_yaml_text(previous.content), doc)
            reason = required_bump(previous.version, version, diff)
            if reason:
                breaking = [f"{c.path}: {c.reason}" for c in diff.changes if c.breaking]
                raise RegistrationRefused(reason, file=source, problems=breaking)
        with self.metadata.session() as s:
            s.add(
                ContractVersion(
                    contract_id=contract_id,
                    version=version,
                    name=doc.get("name"),
                    owner_department=owner,
                    sha256=digest,
                    content=text,
                    registered_at=datetime.now(UTC).replace(tzinfo=None),
                    registered_by=caller.name if caller else None,
                    changes=diff.to_dict() if diff else None,
                )
            )
        return Registration(contract_id, version, "registered", previous.version if previous else None, diff)

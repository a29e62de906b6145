"""Notices of contract versions still to come (数据契约变更通知), for the consumers they reach.

A breaking version waits for a steward's approval and then takes effect on its date; until it does,
everyone reading what it changes is told: the datasets its contract declares and the views built from
them (``VIEW_SOURCES``). A consumer or a department sees the notices of what it holds grants on (a
department also those of its own contracts); stewards, admins and leaders see them all. The same
notice rides as a header on every read of an affected view (``X-Datahub-Pending-Version``) and shows on
the dashboard.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from datahub.access import Principal, Role
from datahub.contracts.registry import ContractRegistry, effective_of, state_of
from datahub.contracts.yaml_io import load_yaml_text
from datahub.metadata import VersionState
from datahub.views.schemas import VIEW_SOURCES

PENDING_HEADER = "X-Datahub-Pending-Version"
SEES_ALL = frozenset({Role.steward, Role.admin, Role.leader})


@dataclass(frozen=True)
class Notice:
    contract_id: str
    datasets: tuple[str, ...]
    owner_department: str | None
    in_force_version: str | None
    version: str
    state: str  # awaiting_approval | scheduled
    effective_at: datetime | None  # naive UTC; None while awaiting approval
    breaking: bool
    changes: list[dict[str, Any]]
    affects: tuple[str, ...]  # the served datasets and views it changes

    def header(self) -> str:
        """The header value: ASCII only."""
        when = (
            f"effective {self.effective_at.replace(tzinfo=UTC).isoformat()}"
            if self.effective_at
            else "awaiting approval"
        )
        return (
            f"{self.contract_id} {self.version} ({when}; in force: {self.in_force_version}); "
            "see /api/v1/notices"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "contract_id": self.contract_id,
            "datasets": list(self.datasets),
            "owner_department": self.owner_department,
            "in_force_version": self.in_force_version,
            "version": self.version,
            "state": self.state,
            "effective_at": self.effective_at.replace(tzinfo=UTC).isoformat() if self.effective_at else None,
            "breaking": self.breaking,
            "changes": self.changes,
            "affects": list(self.affects),
        }


def _datasets(content: str) -> tuple[str, ...]:
    doc = load_yaml_text(content)
    return tuple(str(o["name"]) for o in doc.get("schema") or [] if isinstance(o, dict) and o.get("name"))


def upcoming(registry: ContractRegistry, at: datetime | None = None) -> list[Notice]:
    """One notice per contract with a version still to come, newest version first in each."""
    notices = []
    for st in registry.standings(at):
        coming = st.pending
        if coming is None:
            continue
        datasets = _datasets(coming.content)
        if st.in_force is not None:
            datasets = tuple(dict.fromkeys((*_datasets(st.in_force.content), *datasets)))
        views = tuple(v for v, sources in VIEW_SOURCES.items() if set(sources) & set(datasets))
        recorded: dict[str, Any] = dict(coming.changes or {})
        notices.append(
            Notice(
                contract_id=st.contract_id,
                datasets=datasets,
                owner_department=coming.owner_department,
                in_force_version=st.in_force.version if st.in_force else None,
                version=coming.version,
                state="awaiting_approval" if state_of(coming) == VersionState.pending else "scheduled",
                effective_at=effective_of(coming),
                breaking=any(state_of(r) == VersionState.pending or r.breaking for r in st.upcoming),
                changes=[c for c in recorded.get("changes") or [] if c.get("breaking")],
                affects=(*datasets, *views),
            )
        )
    return notices


def for_reader(notices: list[Notice], principal: Principal, granted: set[str]) -> list[Notice]:
    """The notices ``principal`` is told: all for stewards, admins and leaders; otherwise those that
    change what it holds grants on (``granted``), and a department's own contracts."""
    if principal.role in SEES_ALL:
        return notices
    return [
        n
        for n in notices
        if set(n.affects) & granted
        or (principal.role is Role.department and n.owner_department == principal.department)
    ]

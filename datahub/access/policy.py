"""What one caller may read of one view: allowed or not, which columns, in which form, which rows.

Sharing classes (《政务数据共享条例》, State Council Decree No. 809, in force 1 August 2025; they
keep the three classes of the 2016 interim measures), from the view's contract:

unconditional (无条件共享)  any authenticated client
conditional (有条件共享)    stewards, admins, the owner department, and clients with an active grant
not_shared (不予共享)       stewards, admins and the owner department only

Columns come as published: personal columns are desensitised in the snapshot itself (masked,
pseudonymised, generalised or scanned, per the contract). A column is released raw, read from the
restricted store beside the snapshot, only when an active grant names it and states a legal basis. A
grant that lists columns limits the caller to those columns; a grant's row filter is added to every
query the caller makes. With several active grants the caller gets their union (columns, rows).

A standing grant (回流, datahub.access.return_flow) counts on a conditional view as one more grant: every
column, no legal basis, its area's row filter. It adds nothing to an unconditional view (already read
whole) and nothing to a not_shared one (never returned).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from datahub.access.clients import Principal, Role
from datahub.access.return_flow import StandingAccess
from datahub.contracts import Dataset, Desensitise, SharingClass
from datahub.dictionary import PersonalClass
from datahub.metadata import Grant

PRIVILEGED = (Role.steward, Role.admin)


def personal(column_desensitise: Desensitise, personal_class: PersonalClass) -> bool:
    return column_desensitise is not Desensitise.keep or personal_class is not PersonalClass.none


@dataclass(frozen=True)
class Access:
    view: str
    allowed: bool
    reason: str  # why (allowed or not), for the error message and the view listing
    columns: tuple[str, ...] = ()  # readable columns, in the view's order
    raw: frozenset[str] = frozenset()  # personal columns released unmasked
    row_filter: str | None = None  # in the query language; None: every row
    grants: tuple[int, ...] = ()  # the grants this access rests on
    purpose: str | None = None
    masking: dict[str, str] = field(default_factory=dict)  # column -> how it is served to this caller
    standing: tuple[int, ...] = ()  # the standing grants (回流) this access rests on


def _masking(view: Dataset, columns: tuple[str, ...], raw: frozenset[str]) -> dict[str, str]:
    out = {}
    for name in columns:
        column = view.column(name)
        if name in raw:
            out[name] = "raw"
        elif personal(column.desensitise, column.personal_class):
            out[name] = column.desensitise.value
        else:
            out[name] = "none"
    return out


def _raw(view: Dataset, grant: Grant) -> set[str]:
    """The personal columns a grant releases unmasked: those it names, when it states a legal basis."""
    if not grant.legal_basis:
        return set()
    named = grant.columns if grant.columns is not None else [c.name for c in view.columns]
    return {n for n in named if personal(view.column(n).desensitise, view.column(n).personal_class)}


def _full(view: Dataset, reason: str, grants: list[Grant]) -> Access:
    """Every column and row; raw only where one of ``grants`` releases it."""
    columns = tuple(c.name for c in view.columns)
    raw = frozenset(set().union(*(_raw(view, g) for g in grants)))
    ids = tuple(g.id for g in grants if _raw(view, g))
    purpose = "; ".join(dict.fromkeys(g.purpose for g in grants)) or None
    return Access(view.name, True, reason, columns, raw, None, ids, purpose, _masking(view, columns, raw))


def decide(
    caller: Principal, view: Dataset, grants: list[Grant], standing: Sequence[StandingAccess] = ()
) -> Access:
    """``grants``: the caller's active grants on this view; ``standing``: its standing grants that cover
    the view."""
    owner = caller.role is Role.department and caller.department == view.owner_department
    if caller.role in PRIVILEGED:
        return _full(view, f"role {caller.role}", grants)
    if owner:
        return _full(view, f"owner department {caller.department}", grants)
    if view.sharing_class is SharingClass.not_shared:
        return Access(
            view.name, False, "not shared (不予共享): only its owner department and stewards read it"
        )
    if view.sharing_class is SharingClass.unconditional:
        standing = ()
    if not grants and not standing:
        if view.sharing_class is SharingClass.unconditional:
            return _full(view, "unconditional (无条件共享)", [])
        return Access(view.name, False, "conditional (有条件共享): an approved grant is needed")
    names = [c.name for c in view.columns]
    wanted: set[str] = set()
    raw: set[str] = set()
    filters: list[str | None] = []
    for grant in grants:
        granted = set(grant.columns) if grant.columns is not None else set(names)
        wanted |= granted
        raw |= _raw(view, grant)
        filters.append(grant.row_filter)
    for area in standing:
        wanted |= set(names)
        filters.append(area.row_filter)
    if view.sharing_class is SharingClass.unconditional:
        wanted = set(names)  # a grant on an unconditional view only adds raw columns
        filters.append(None)
    columns = tuple(n for n in names if n in wanted)
    row_filter = None if any(f is None for f in filters) else " or ".join(f"({f})" for f in filters)
    ids = tuple(g.id for g in grants)
    standing_ids = tuple(a.id for a in standing)
    purpose = "; ".join(dict.fromkeys([*(g.purpose for g in grants), *(a.purpose for a in standing)]))
    frozen_raw = frozenset(raw & set(columns))
    reasons = [f"grant {', '.join(map(str, ids))}"] if ids else []
    if standing_ids:
        reasons.append(f"standing grant (回流) {', '.join(map(str, standing_ids))}")
    return Access(
        view.name,
        True,
        "; ".join(reasons),
        columns,
        frozen_raw,
        row_filter,
        ids,
        purpose,
        _masking(view, columns, frozen_raw),
        standing_ids,
    )

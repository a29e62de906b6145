"""Everything the sharing API serves, by name: the published datasets and the event-ready views.

Both are described by ODCS contracts: datasets by ``contracts/*.odcs.yaml``, views by
``contracts/views/*.odcs.yaml``. A view's contract is read the same way as a dataset's, so its sharing
class, owner, key and personal columns drive access exactly as a dataset's do.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property

from datahub.contracts import Dataset
from datahub.dictionary import ElementType
from datahub.errors import ContractError, NotFound
from datahub.platform import Platform
from datahub.views import view_contracts


class Kind(StrEnum):
    dataset = "dataset"  # published from department deliveries
    view = "view"  # derived across datasets (events_unified, event_kpis_daily, …)


LOGICAL = {
    ElementType.string: "string",
    ElementType.integer: "integer",
    ElementType.decimal: "decimal",
    ElementType.date: "date",
    ElementType.timestamp: "timestamp",
    ElementType.boolean: "boolean",
}


def logical_types(view: Dataset) -> dict[str, str]:
    """Each column's type in the query language; ODCS ``array`` columns are lists (of strings)."""
    arrays = {
        prop.name
        for obj in view.contract.schema_ or []
        if obj.name == view.name
        for prop in obj.properties or []
        if prop.logicalType == "array"
    }
    return {c.name: "list" if c.name in arrays else LOGICAL.get(c.type, "string") for c in view.columns}


@dataclass(frozen=True)
class Served:
    contract: Dataset
    kind: Kind

    @property
    def name(self) -> str:
        return self.contract.name

    @cached_property
    def types(self) -> dict[str, str]:
        """Each column's type in the query language."""
        return logical_types(self.contract)


def served(platform: Platform) -> dict[str, Served]:
    """Datasets first, then views; a view may not take a dataset's name."""
    out = {d.name: Served(d, Kind.dataset) for d in platform.catalog}
    for name, view in view_contracts(platform).items():
        if name in out:
            raise ContractError(f"'{name}' is declared as a dataset and as a view", file=str(view.path))
        out[name] = Served(view, Kind.view)
    return out


def get_served(catalog: dict[str, Served], name: str) -> Served:
    try:
        return catalog[name]
    except KeyError:
        raise NotFound(f"unknown view '{name}'", path="name") from None

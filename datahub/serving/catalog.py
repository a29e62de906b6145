"""Everything the sharing API serves, by name: the published datasets and the event-ready views.

Both are described by ODCS contracts: datasets by ``contracts/*.odcs.yaml``, views by
``contracts/views/*.odcs.yaml``. A view's contract is read the same way as a dataset's, so its sharing
class, owner, key and personal columns drive access exactly as a dataset's do.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from datahub.contracts import Dataset
from datahub.contracts.loader import CONTRACT_GLOB, load_contract
from datahub.errors import ContractError, NotFound
from datahub.platform import Platform

VIEWS_DIR = "views"


class Kind(StrEnum):
    dataset = "dataset"  # published from department deliveries
    view = "view"  # derived across datasets (events_unified, event_kpis_daily, …)


@dataclass(frozen=True)
class Served:
    contract: Dataset
    kind: Kind

    @property
    def name(self) -> str:
        return self.contract.name


def view_contracts_dir(platform: Platform) -> Path:
    return platform.settings.contracts_path / VIEWS_DIR


def served(platform: Platform) -> dict[str, Served]:
    """Datasets first, then views; a view may not take a dataset's name."""
    out = {d.name: Served(d, Kind.dataset) for d in platform.catalog}
    for path in sorted(view_contracts_dir(platform).glob(CONTRACT_GLOB)):
        for view in load_contract(path, platform.dictionary):
            if view.name in out:
                raise ContractError(f"'{view.name}' is declared twice", file=str(path))
            out[view.name] = Served(view, Kind.view)
    return out


def get_served(catalog: dict[str, Served], name: str) -> Served:
    try:
        return catalog[name]
    except KeyError:
        raise NotFound(f"unknown view '{name}'", path="name") from None

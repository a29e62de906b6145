"""The platform as one object: settings plus what they open (dictionary, contracts, metadata, lake).

Library code, the CLI, Dagster resources and the API all take a Platform, so each of them opens the
same things the same way.
"""

from __future__ import annotations

import threading
import time
from functools import cached_property

from datahub.contracts import Catalog
from datahub.contracts.registry import ContractRegistry
from datahub.dictionary import Dictionary, load_dictionary
from datahub.lake import Lake
from datahub.metadata import MetadataStore
from datahub.settings import Settings

CATALOG_RECHECK_SECONDS = 1.0
"""How stale the catalog may be: a long-running process (the API, a Dagster sensor) sees a version
registered, approved or come into force elsewhere within this time."""


class Platform:
    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings()
        self.settings.ensure_dirs()
        self._catalog: Catalog | None = None
        self._catalog_key: tuple[tuple[str, str, int], ...] | None = None
        self._checked_at = float("-inf")
        self._seeded = False
        self._catalog_lock = threading.Lock()

    @cached_property
    def dictionary(self) -> Dictionary:
        return load_dictionary(self.settings.dictionary_path)

    @property
    def catalog(self) -> Catalog:
        """The datasets of every contract version in force in the registry (the metadata database):
        what runs. ``contracts/`` seeds the registry the first time it is read in a process."""
        with self._catalog_lock:
            if self._catalog is not None and time.monotonic() - self._checked_at < CATALOG_RECHECK_SECONDS:
                return self._catalog
            registry = self.registry
            if not self._seeded:
                registry.seed(self.settings.contracts_path)
                self._seeded = True
            key = registry.in_force_keys()
            if self._catalog is None or key != self._catalog_key:
                texts = registry.contents(row_id for _, _, row_id in key)
                self._catalog = Catalog.registered(
                    [(f"{cid}@{version}", texts[row_id]) for cid, version, row_id in key], self.dictionary
                )
                self._catalog_key = key
                for dataset in self._catalog:  # each dataset's landing zone exists from registration on
                    self.settings.landing_zone(dataset.owner_department, dataset.name).mkdir(
                        parents=True, exist_ok=True
                    )
            self._checked_at = time.monotonic()
            return self._catalog

    def forget_catalog(self) -> None:
        """Read the registry again at the next use (after registering or deciding here)."""
        with self._catalog_lock:
            self._checked_at = float("-inf")

    @property
    def registry(self) -> ContractRegistry:
        return ContractRegistry(self.metadata, self.dictionary)

    @cached_property
    def metadata(self) -> MetadataStore:
        return MetadataStore(self.settings.database_url)

    @cached_property
    def lake(self) -> Lake:
        return Lake.for_settings(self.settings)

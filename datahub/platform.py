"""The platform as one object: settings plus what they open (dictionary, contracts, metadata, lake).

Library code, the CLI, Dagster resources and (later) the API all take a Platform, so each of them
opens the same things the same way.
"""

from __future__ import annotations

from functools import cached_property

from datahub.contracts import Catalog
from datahub.dictionary import Dictionary, load_dictionary
from datahub.lake import Lake
from datahub.metadata import MetadataStore
from datahub.settings import Settings


class Platform:
    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings()
        self.settings.ensure_dirs()

    @cached_property
    def dictionary(self) -> Dictionary:
        return load_dictionary(self.settings.dictionary_path)

    @cached_property
    def catalog(self) -> Catalog:
        return Catalog.load(self.settings.contracts_path, self.dictionary)

    @cached_property
    def metadata(self) -> MetadataStore:
        return MetadataStore(self.settings.database_url)

    @cached_property
    def lake(self) -> Lake:
        return Lake(self.settings.lake_dir)

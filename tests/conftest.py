"""Shared fixtures: the project's dictionary and contracts, and a platform on a temporary home."""

from __future__ import annotations

from pathlib import Path

import pytest

from datahub.contracts import Catalog
from datahub.dictionary import Dictionary, load_dictionary
from datahub.platform import Platform
from datahub.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def dictionary() -> Dictionary:
    return load_dictionary(ROOT / "dictionary")


@pytest.fixture(scope="session")
def catalog(dictionary: Dictionary) -> Catalog:
    return Catalog.load(ROOT / "contracts", dictionary)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "var", demo_mode=True)


@pytest.fixture
def platform(settings: Settings) -> Platform:
    p = Platform(settings)
    yield p
    p.metadata.dispose()

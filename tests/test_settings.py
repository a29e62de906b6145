from __future__ import annotations

from pathlib import Path

import pytest

from datahub.errors import ConfigError
from datahub.settings import Settings


def test_paths_derive_from_home(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "state")
    assert settings.landing_dir == tmp_path / "state" / "landing"
    assert settings.lake_dir == tmp_path / "state" / "lake"
    assert settings.dagster_home == tmp_path / "state" / "dagster"
    assert settings.database_url == f"sqlite:///{tmp_path / 'state' / 'metadata.db'}"
    assert (settings.contracts_path / "hotline_12345.odcs.yaml").is_file()


def test_environment_overrides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATAHUB_HOME", str(tmp_path / "elsewhere"))
    monkeypatch.setenv("DATAHUB_METADATA_URL", "postgresql+psycopg://db/hub")
    settings = Settings()
    assert settings.var == tmp_path / "elsewhere"
    assert settings.database_url == "postgresql+psycopg://db/hub"


def test_placeholder_pseudonym_key_is_refused_outside_demo_mode() -> None:
    with pytest.raises(ConfigError):
        _ = Settings(demo_mode=False).secret_key
    assert Settings(demo_mode=True).secret_key
    assert Settings(pseudonym_key="a-real-secret").secret_key == b"a-real-secret"

from __future__ import annotations

from pathlib import Path

import pytest

from datahub.errors import ConfigError
from datahub.settings import Settings, unknown_variables
from tests.conftest import ROOT


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


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("DATAHUB_API_PORT", "abc", "expected an integer, got 'abc'"),
        ("DATAHUB_API_PORT", "0", "expected 1 to 65535, got '0'"),
        ("DATAHUB_API_WORKERS", "-2", "expected at least 1, got '-2'"),
        ("DATAHUB_DEMO_MODE", "maybe", "expected true or false, got 'maybe'"),
        (
            "DATAHUB_API_PORT",
            "\x1b[2J" + "9" * 500,
            "expected an integer, got '\\x1b[2J" + "9" * 196 + "…(504",
        ),
    ],
)
def test_a_malformed_variable_is_a_config_error_naming_it(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as raised:
        Settings()
    assert raised.value.path == variable
    assert raised.value.message.startswith(message)


def test_a_secret_is_never_repeated_in_a_config_error() -> None:
    with pytest.raises(ConfigError) as raised:
        Settings(pseudonym_key=982451653)
    assert raised.value.path == "DATAHUB_PSEUDONYM_KEY"
    assert "982451653" not in str(raised.value) and "not shown" in str(raised.value)


def test_an_empty_variable_is_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    """`DATAHUB_HOME=` means the default home, not the working directory."""
    for name in ("DATAHUB_HOME", "DATAHUB_API_PORT", "DATAHUB_DEMO_MODE", "DATAHUB_PSEUDONYM_KEY"):
        monkeypatch.setenv(name, "")
    settings = Settings()
    assert settings.var == ROOT / "var"
    assert (settings.api_port, settings.demo_mode) == (8000, False)
    with pytest.raises(ConfigError):  # an empty key is the placeholder: refused outside the demo
        _ = settings.secret_key


def test_unknown_variables_are_named_with_the_nearest_setting() -> None:
    environ = {
        "DATAHUB_HOMEE": "/srv/hub",
        "DATAHUB_PSEUDONYM_KY": "s3cret",
        "DATAHUB_HOME": "/srv/hub",
        "DATAHUB_CRASH_AT": "claimed:checked",  # fault injection, not a setting
        "HOME": "/root",
    }
    assert unknown_variables(environ) == [
        "DATAHUB_HOMEE is not a setting and is ignored; did you mean DATAHUB_HOME?",
        "DATAHUB_PSEUDONYM_KY is not a setting and is ignored; did you mean DATAHUB_PSEUDONYM_KEY?",
    ]
    assert "settings: DATAHUB_API_HOST" in unknown_variables({"DATAHUB_XYZZY": "1"})[0]

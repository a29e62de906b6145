"""The contract registry: versions, refusals with reasons, ownership, and the CLI over it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from datahub.cli import app
from datahub.contracts.registry import Caller, ContractRegistry
from datahub.errors import Forbidden, NotFound, RegistrationRefused
from datahub.platform import Platform
from tests.conftest import ROOT

BASE = (ROOT / "contracts" / "hotline_12345.odcs.yaml").read_text(encoding="utf-8")


def _edited(version: str, edit: str | None = None) -> str:
    doc = yaml.safe_load(BASE)
    doc["version"] = version
    props = doc["schema"][0]["properties"]
    if edit == "describe":
        doc["description"]["usage"] = "更新了用途说明。"
    elif edit == "drop_column":
        del props[-1]
    elif edit == "bad":
        props[1]["customProperties"][0]["value"] = "no_such_element"
    return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)


@pytest.fixture
def registry(platform: Platform) -> ContractRegistry:
    return ContractRegistry(platform.metadata, platform.dictionary)


def test_register_then_same_content_is_unchanged(registry: ContractRegistry) -> None:
    first = registry.register(BASE, source="hotline")
    assert (first.status, first.version, first.previous_version) == ("registered", "1.0.0", None)
    assert registry.register(BASE).status == "unchanged"
    assert [v.version for v in registry.versions("urn:datahub:contract:hotline_12345")] == ["1.0.0"]


def test_same_version_with_other_content_is_refused(registry: ContractRegistry) -> None:
    registry.register(BASE)
    with pytest.raises(RegistrationRefused, match="already registered with other content"):
        registry.register(_edited("1.0.0", "describe"))


def test_non_breaking_minor_version_is_registered_with_its_diff(registry: ContractRegistry) -> None:
    registry.register(BASE)
    result = registry.register(_edited("1.1.0", "describe"))
    assert result.status == "registered" and result.previous_version == "1.0.0"
    assert result.diff is not None and not result.diff.breaking
    assert registry.get("urn:datahub:contract:hotline_12345").version == "1.1.0"
    assert not registry.diff("urn:datahub:contract:hotline_12345", "1.0.0", "1.1.0").breaking


def test_breaking_change_needs_a_new_major_version(registry: ContractRegistry) -> None:
    registry.register(BASE)
    with pytest.raises(RegistrationRefused) as info:
        registry.register(_edited("1.1.0", "drop_column"))
    assert any("is_resolved" in p for p in info.value.problems)
    result = registry.register(_edited("2.0.0", "drop_column"))
    assert result.diff is not None and result.diff.breaking
    assert [v.version for v in registry.versions("urn:datahub:contract:hotline_12345")] == ["1.0.0", "2.0.0"]


def test_contract_that_does_not_lint_is_refused_with_every_problem(registry: ContractRegistry) -> None:
    with pytest.raises(RegistrationRefused) as info:
        registry.register(_edited("1.0.0", "bad"), source="bad.yaml")
    assert any("unknown dictionary element 'no_such_element'" in p for p in info.value.problems)
    with pytest.raises(NotFound):
        registry.versions("urn:datahub:contract:hotline_12345")


def test_older_version_is_refused(registry: ContractRegistry) -> None:
    registry.register(_edited("1.2.0"))
    with pytest.raises(RegistrationRefused, match="not newer"):
        registry.register(_edited("1.1.0", "describe"))


def test_a_department_registers_only_its_own_contracts(registry: ContractRegistry) -> None:
    with pytest.raises(Forbidden):
        registry.register(BASE, caller=Caller("police-system", "department", "PS"))
    result = registry.register(BASE, caller=Caller("ops-centre", "department", "OC"))
    assert result.status == "registered"
    assert registry.get("urn:datahub:contract:hotline_12345").registered_by == "ops-centre"


def test_unknown_version_names_the_registered_ones(registry: ContractRegistry) -> None:
    registry.register(BASE)
    with pytest.raises(NotFound, match=r"registered: 1\.0\.0"):
        registry.get("urn:datahub:contract:hotline_12345", "9.9.9")


def test_cli_register_list_show(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATAHUB_HOME", str(tmp_path / "var"))
    monkeypatch.setenv("COLUMNS", "250")
    runner = CliRunner()
    path = ROOT / "contracts" / "hotline_12345.odcs.yaml"
    first = runner.invoke(app, ["contract", "register", str(path)])
    assert first.exit_code == 0 and "registered" in first.output
    v2 = tmp_path / "v2.odcs.yaml"
    v2.write_text(_edited("1.1.0", "drop_column"), encoding="utf-8")
    refused = runner.invoke(app, ["contract", "register", str(v2), "--json"])
    assert refused.exit_code == 1
    assert json.loads(refused.stdout)["error"]["code"] == "contract_refused"
    listed = runner.invoke(app, ["contract", "list", "--json"])
    assert [r["version"] for r in json.loads(listed.stdout)] == ["1.0.0"]
    shown = runner.invoke(
        app, ["contract", "show", "urn:datahub:contract:hotline_12345", "--version", "1.0.0"]
    )
    assert shown.exit_code == 0 and shown.stdout == BASE
    missing = runner.invoke(app, ["contract", "show", "urn:nope"])
    assert missing.exit_code == 2

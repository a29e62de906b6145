"""`datahub status` shows per dataset the contract version in force and any version to come: awaiting a
steward's approval, or approved for a later date (issue 17)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from datahub.citytime import recorded_time
from datahub.cli import app
from datahub.contracts.registry import Caller
from datahub.platform import Platform
from datahub.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
HOTLINE_ID = "urn:datahub:contract:hotline_12345"
runner = CliRunner()


@pytest.fixture
def cli_home(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATAHUB_HOME", str(settings.var))
    monkeypatch.setenv("DATAHUB_DEMO_MODE", "true")
    monkeypatch.setenv("COLUMNS", "250")


def _status() -> tuple[dict[str, dict[str, object]], str]:
    listed = runner.invoke(app, ["status", "--json"])
    assert listed.exit_code == 0, listed.output
    table = runner.invoke(app, ["status"])
    assert table.exit_code == 0, table.output
    return {s["dataset"]: s for s in json.loads(listed.stdout)}, table.output


def test_status_shows_the_version_in_force_and_the_pending_one(platform: Platform, cli_home: None) -> None:
    assert "hotline_12345" in platform.catalog.names  # contracts/ seeded the registry
    doc = yaml.safe_load((ROOT / "contracts" / "hotline_12345.odcs.yaml").read_text(encoding="utf-8"))
    doc["version"] = "2.0.0"
    del doc["schema"][0]["properties"][-1]
    platform.registry.register(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), source="v2.yaml")

    by_name, text = _status()
    hotline = by_name["hotline_12345"]
    assert (hotline["contract_version"], hotline["pending_version"], hotline["pending_state"]) == (
        "1.0.0",
        "2.0.0",
        "awaiting_approval",
    )
    assert hotline["pending_effective_at"] is None
    assert by_name["population_grid"]["contract_version"] == "1.0.0"
    assert by_name["population_grid"]["pending_version"] is None
    assert "1 contract versions to come" in text
    assert "hotline_12345: 1.0.0 in force; 2.0.0 awaiting a steward's approval (待审批)" in text
    row = next(line for line in text.splitlines() if "hotline_12345" in line and "│" in line)
    assert "1.0.0 → 2.0.0" in row

    when = recorded_time(datetime(2030, 6, 1, 9, 0))
    platform.registry.approve(HOTLINE_ID, "2.0.0", caller=Caller("data-office", "steward"), effective_at=when)
    by_name, text = _status()
    hotline = by_name["hotline_12345"]
    assert (hotline["contract_version"], hotline["pending_state"], hotline["pending_effective_at"]) == (
        "1.0.0",
        "scheduled",
        "2030-06-01T01:00:00",
    )
    assert "hotline_12345: 1.0.0 in force; 2.0.0 approved, in force from 2030-06-01 09:00 city time" in text

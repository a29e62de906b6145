"""`datahub status` and the library under it: a delivery that is not finished (claimed by a stage whose
process died, or failed) is not reconciled, in the library, the JSON and the table."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import update
from typer.testing import CliRunner

from datahub.cli import app
from datahub.metadata import Delivery
from datahub.platform import Platform
from datahub.settings import Settings
from datahub.status import DatasetStatus, dataset_status, is_reconciled
from tests.unfinished import DATASET, ERROR, FINISHED_FILE, UNFINISHED_FILE, build

runner = CliRunner()


def _hotline(platform: Platform) -> DatasetStatus:
    return next(s for s in dataset_status(platform) if s.dataset == DATASET)


@pytest.mark.parametrize("status", ["publishing", "failed", "checked"])
def test_an_unfinished_delivery_is_not_reconciled(platform: Platform, tmp_path: Path, status: str) -> None:
    world = build(platform, tmp_path, status)
    hotline = _hotline(platform)
    assert hotline.all_reconciled is False
    assert hotline.unreconciled_deliveries == [UNFINISHED_FILE]
    assert hotline.unfinished == 1
    assert hotline.unfinished_deliveries == [
        {
            "delivery_id": world.unfinished_id,
            "source_file": UNFINISHED_FILE,
            "status": status,
            "error": ERROR if status == "failed" else None,
        }
    ]
    assert hotline.unfinished_statuses == {status: 1}
    # the last finished delivery is still the one described
    assert (hotline.last_delivery, hotline.last_status, hotline.last_reconciled) == (
        FINISHED_FILE,
        "published",
        True,
    )


def test_finished_deliveries_and_duplicates_reconcile(platform: Platform, tmp_path: Path) -> None:
    world = build(platform, tmp_path, "publishing")
    with platform.metadata.session() as s:
        s.execute(update(Delivery).where(Delivery.id == world.unfinished_id).values(status="published"))
    hotline = _hotline(platform)
    assert (hotline.all_reconciled, hotline.unfinished, hotline.unreconciled_deliveries) == (True, 0, [])
    with platform.metadata.session() as s:  # a finished delivery whose rows did not reconcile
        s.execute(update(Delivery).where(Delivery.id == world.unfinished_id).values(reconciled=False))
    hotline = _hotline(platform)
    assert (hotline.all_reconciled, hotline.unfinished, hotline.unreconciled_deliveries) == (
        False,
        0,
        [UNFINISHED_FILE],
    )
    assert is_reconciled("duplicate", None) and is_reconciled("withheld", True)
    assert not is_reconciled("publishing", True) and not is_reconciled("failed", None)
    assert not is_reconciled("blocked", None)


@pytest.fixture
def cli_home(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATAHUB_HOME", str(settings.var))
    monkeypatch.setenv("DATAHUB_DEMO_MODE", "true")
    monkeypatch.setenv("COLUMNS", "250")


@pytest.mark.parametrize("status", ["publishing", "failed"])
def test_status_json_says_not_reconciled(
    platform: Platform, tmp_path: Path, cli_home: None, status: str
) -> None:
    world = build(platform, tmp_path, status)
    result = runner.invoke(app, ["status", "--json"])
    assert result.exit_code == 0, result.output
    hotline = next(s for s in json.loads(result.stdout) if s["dataset"] == DATASET)
    assert hotline["all_reconciled"] is False
    assert hotline["unfinished"] == 1
    assert [(d["delivery_id"], d["status"]) for d in hotline["unfinished_deliveries"]] == [
        (world.unfinished_id, status)
    ]
    assert hotline["unreconciled_deliveries"] == [UNFINISHED_FILE]
    others = [s for s in json.loads(result.stdout) if s["dataset"] != DATASET]
    assert all(s["all_reconciled"] and s["unfinished"] == 0 for s in others)


def test_status_table_shows_unfinished_deliveries(platform: Platform, tmp_path: Path, cli_home: None) -> None:
    world = build(platform, tmp_path, "failed")
    result = runner.invoke(app, ["status"])
    assert result.exit_code == 0, result.output
    row = next(line for line in result.output.splitlines() if DATASET in line and "│" in line)
    cells = [c.strip() for c in row.strip("│ ").split("│")]
    assert cells[-2] == "1 (failed 1)" and cells[-1] == "✗", cells
    assert "1 unfinished deliveries" in result.output
    assert f"{DATASET} ← {UNFINISHED_FILE}: failed [{world.unfinished_id}]" in result.output
    assert ERROR in result.output

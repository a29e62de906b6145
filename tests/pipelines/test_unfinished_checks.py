"""The Dagster checks on reconciliation with a real (ephemeral) Dagster instance: a delivery that is not
finished fails ``all_deliveries_reconciled`` on the daily status, naming it and its status; one that
the published stage handled but that ended ``failed`` fails that stage's ``rows_reconciled``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from dagster import AssetCheckEvaluation, DagsterInstance, materialize
from sqlalchemy import select, update

from datahub import pipeline
from datahub.metadata import Delivery
from datahub.platform import Platform
from datahub.settings import Settings
from pipelines.assets import dataset_assets, status_asset
from pipelines.resources import PlatformResource
from tests.unfinished import DATASET, ERROR, UNFINISHED_FILE, build


def _checks(assets: list[Any], settings: Settings) -> dict[str, AssetCheckEvaluation]:
    resource = PlatformResource(home=str(settings.var), demo_mode=True)
    result = materialize(assets, resources={"platform": resource}, instance=DagsterInstance.ephemeral())
    assert result.success
    return {c.check_name: c for c in result.get_asset_check_evaluations()}


@pytest.mark.parametrize("status", ["publishing", "failed"])
def test_all_deliveries_reconciled_fails_on_an_unfinished_delivery(
    platform: Platform, settings: Settings, tmp_path: Path, status: str
) -> None:
    world = build(platform, tmp_path, status)
    check = _checks([status_asset([platform.catalog.get(DATASET)])], settings)["all_deliveries_reconciled"]
    assert check.passed is False
    metadata = {k: v.value for k, v in check.metadata.items()}
    assert metadata["unfinished"] == {
        DATASET: [{"delivery_id": world.unfinished_id, "source_file": UNFINISHED_FILE, "status": status}]
    }
    assert metadata["unfinished_count"] == 1
    assert metadata["unfinished_statuses"] == {status: 1}
    assert metadata["unreconciled"] == {DATASET: [UNFINISHED_FILE]}
    assert check.description is not None and f"{status}: 1" in check.description


def test_all_deliveries_reconciled_passes_once_they_finish(
    platform: Platform, settings: Settings, tmp_path: Path
) -> None:
    world = build(platform, tmp_path, "failed")
    with platform.metadata.session() as s:
        s.execute(update(Delivery).where(Delivery.id == world.unfinished_id).values(status="published"))
    check = _checks([status_asset([platform.catalog.get(DATASET)])], settings)["all_deliveries_reconciled"]
    assert check.passed is True
    assert check.metadata["unfinished"].value == {}


def test_rows_reconciled_fails_for_a_handled_delivery_that_ended_failed(
    platform: Platform, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = build(platform, tmp_path, "checked")  # waiting for the published stage
    real = pipeline.run_stage

    def run_stage(p: Platform, dataset: Any, stage: str) -> list[str]:
        if stage != "published":
            return real(p, dataset, stage)
        # The stage takes the waiting delivery and the platform fails on it: it ends `failed`
        # (and is left for `datahub deliveries retry`) instead of the run stopping.
        with p.metadata.session() as s:
            handled = list(
                s.scalars(
                    select(Delivery.id).where(Delivery.dataset == dataset.name, Delivery.status == "checked")
                )
            )
            s.execute(update(Delivery).where(Delivery.id.in_(handled)).values(status="failed", error=ERROR))
        return handled

    monkeypatch.setattr(pipeline, "run_stage", run_stage)
    published = next(a for a in dataset_assets(platform.catalog.get(DATASET)) if "published" in a.op.name)
    check = _checks([published], settings)["rows_reconciled"]
    assert check.passed is False
    assert check.metadata["unreconciled"].value == [UNFINISHED_FILE]
    assert check.metadata["unfinished"].value == {UNFINISHED_FILE: "failed"}
    with platform.metadata.session() as s:
        assert s.get(Delivery, world.unfinished_id).status == "failed"  # type: ignore[union-attr]

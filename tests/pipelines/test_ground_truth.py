"""Every dataset's pipeline through Dagster `materialize` on synthetic deliveries: the pipeline finds
exactly the defects the generator injected, per dataset and per defect kind, and every delivery
reconciles."""

from __future__ import annotations

from collections import Counter
from datetime import date

import pytest
from dagster import DagsterInstance, materialize
from sqlalchemy import select

from datahub.metadata import Delivery
from datahub.platform import Platform
from datahub.settings import Settings
from datahub.synth import SynthConfig, SynthResult, generate
from datahub.synth.model import DATASETS
from pipelines.assets import dataset_assets
from pipelines.resources import PlatformResource
from tests.ground_truth import (
    expected_flags,
    expected_quarantine,
    expected_stale,
    found_flags,
    found_quarantine,
    found_stale,
)
from tests.synth_runs import land_synthetic


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Platform, SynthResult]:
    home = tmp_path_factory.mktemp("ground_truth")
    settings = Settings(home=home / "var", demo_mode=True)
    platform = Platform(settings)
    config = SynthConfig(start=date(2026, 10, 1), days=10, rows_per_day=150, seed=7, defect_rate=0.02)
    result = generate(config, platform.dictionary, platform.catalog, home / "synth")
    land_synthetic(platform, result)
    assets = [a for name in DATASETS for a in dataset_assets(platform.catalog.get(name))]
    resource = PlatformResource(home=str(settings.var), demo_mode=True)
    outcome = materialize(assets, resources={"platform": resource}, instance=DagsterInstance.ephemeral())
    assert outcome.success
    checks = [c for c in outcome.get_asset_check_evaluations() if c.check_name == "rows_reconciled"]
    assert len(checks) == len(DATASETS) and all(c.passed for c in checks)
    return platform, result


@pytest.mark.parametrize("dataset", DATASETS)
def test_quarantine_matches_injected_defects_exactly(run: tuple[Platform, SynthResult], dataset: str) -> None:
    platform, result = run
    expected = expected_quarantine(result.ground_truth, dataset)
    found = found_quarantine(platform, dataset)
    assert expected, "the generator injected row defects into every dataset"
    assert found - expected == set(), "clean rows were flagged"
    assert expected - found == set(), "injected defects were missed"
    by_kind_expected = Counter(reason for _, _, reason, _ in expected)
    by_kind_found = Counter(reason for _, _, reason, _ in found)
    assert by_kind_found == by_kind_expected


@pytest.mark.parametrize("dataset", DATASETS)
def test_rules_flag_exactly_the_injected_rows(run: tuple[Platform, SynthResult], dataset: str) -> None:
    """Stuck sensors (accuracy) and dangling hotline references (consistency), row by row."""
    platform, result = run
    expected = expected_flags(result.ground_truth, dataset)
    found = found_flags(platform, dataset)
    assert found - expected == set(), "clean rows were flagged"
    assert expected - found == set(), "injected defects were missed"


@pytest.mark.parametrize("dataset", DATASETS)
def test_freshness_fails_exactly_on_the_stale_delivery(
    run: tuple[Platform, SynthResult], dataset: str
) -> None:
    platform, result = run
    assert found_stale(platform, dataset) == expected_stale(result.ground_truth, dataset)


def test_stale_stuck_and_dangling_were_injected(run: tuple[Platform, SynthResult]) -> None:
    _, result = run
    assert len(expected_stale(result.ground_truth, "population_grid")) == 1
    stuck = expected_flags(result.ground_truth, "iot_sensor_readings")
    assert len(stuck) >= 96 * 7
    assert expected_flags(result.ground_truth, "gov_app_reports"), "dangling references were injected"


@pytest.mark.parametrize("dataset", DATASETS)
def test_every_delivery_reconciles(run: tuple[Platform, SynthResult], dataset: str) -> None:
    platform, result = run
    files = [f for f in result.files if f.dataset == dataset]
    with platform.metadata.session() as s:
        deliveries = s.scalars(select(Delivery).where(Delivery.dataset == dataset)).all()
        assert len(deliveries) == len(files)
        for d in deliveries:
            assert d.status == "published", d.error
            assert d.rows_in == next(f.rows for f in files if f.path.name == d.source_file)
            assert d.rows_in == (d.rows_published or 0) + (d.rows_quarantined or 0)
            assert d.reconciled is True

"""A Dagster run killed mid-job (its step process SIGKILLed while it holds a delivery) leaves the
delivery unfinished, the status check says so, and the next run takes the delivery over and finishes it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from dagster import DagsterEventType, DagsterInstance, DagsterRunStatus

from datahub.ingest.landing import landing_dir
from datahub.pipeline import DeliveryRow, list_deliveries
from datahub.platform import Platform
from tests.conftest import ROOT
from tests.faults.world import DATASET, assert_converged, cli_env, home_settings, hotline_file


def _execute(home: Path, job: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dagster", "job", "execute", "-m", "pipelines.definitions", "-j", job],
        cwd=ROOT,
        env=cli_env(home, DAGSTER_HOME=str(home / "dagster"), **env),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_a_dagster_run_killed_mid_job_is_taken_over_by_the_next_run(tmp_path: Path) -> None:
    home = tmp_path / "var"
    platform = Platform(home_settings(home))
    platform.settings.ensure_dirs()
    dataset = platform.catalog.get(DATASET)
    hotline_file(platform, landing_dir(platform, dataset) / "day1.csv", 1, 60)

    killed = _execute(home, f"{DATASET}_pipeline", DATAHUB_CRASH_AT="claimed:checked")
    assert killed.returncode != 0, killed.stdout[-2000:]
    (row,) = platform_rows = [r for r in _rows(platform) if r.source_file == "day1.csv"]
    assert row.status == "checking" and row.holder_alive is False, platform_rows
    assert _execute(home, "governance_daily").returncode == 0
    assert _last_check(home, "all_deliveries_reconciled") is False  # the unfinished delivery counts

    again = _execute(home, f"{DATASET}_pipeline")
    assert again.returncode == 0, again.stderr[-3000:]
    assert assert_converged(platform).height == 60
    with DagsterInstance.from_config(str(home / "dagster")) as instance:
        runs = instance.get_runs()
        statuses = {run.status for run in runs if run.job_name == f"{DATASET}_pipeline"}
    assert statuses == {DagsterRunStatus.FAILURE, DagsterRunStatus.SUCCESS}
    assert _execute(home, "governance_daily").returncode == 0
    assert _last_check(home, "all_deliveries_reconciled") is True


def _last_check(home: Path, name: str) -> bool | None:
    """Whether the last evaluation of the asset check ``name`` in the home's Dagster instance passed."""
    with DagsterInstance.from_config(str(home / "dagster")) as instance:
        (run,) = instance.get_runs(limit=1)
        events = instance.all_logs(run.run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION)
    found = [e.dagster_event.event_specific_data for e in events if e.dagster_event is not None]
    passed = [evaluation.passed for evaluation in found if evaluation.check_name == name]  # type: ignore[union-attr]
    return passed[-1] if passed else None


def _rows(platform: Platform) -> list[DeliveryRow]:
    return list_deliveries(platform)

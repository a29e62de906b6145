"""SIGKILL of `datahub ingest` at every stage boundary and in the middle of every write: after each
kill a rerun converges (every row published once or quarantined, the current version lists only
whole files, metadata and lake agree, nothing half-written is left, the audit chain verifies)."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from datahub import pipeline
from datahub.metadata import Delivery
from datahub.platform import Platform
from tests.conftest import SHARED_DATA
from tests.faults.world import (
    DATASET,
    assert_converged,
    cli_env,
    home_settings,
    hotline_file,
    leftovers,
    run_cli,
)
from tests.hotline_rows import valid_row, write_hotline

ROWS = 60

# Where the first delivery is killed. In order of the flow; `write:*` stop a Parquet file half-written.
POINTS = [
    "landed",
    "registered",
    "claimed:raw",
    "write:raw",
    "written:raw",
    "claimed:conformed",
    "write:conformed",
    "write:quarantine",
    "written:conformed",
    "claimed:checked",
    "written:checked",
    "claimed:published",
    "write:published",
    "write:restricted",
    "published:pointer",
]


@pytest.mark.parametrize("point", POINTS)
def test_a_rerun_converges_after_a_kill(tmp_path: Path, point: str) -> None:
    home = tmp_path / "var"
    platform = Platform(home_settings(home))
    first = hotline_file(platform, tmp_path / "in" / "first.csv", 1, ROWS)
    killed = run_cli(home, "ingest", DATASET, str(first), "--json", crash_at=point)
    assert killed.returncode == -signal.SIGKILL, (point, killed.returncode, killed.stderr[-2000:])

    # The same file again: the rerun takes over whatever the killed process held, and finishes it.
    summary = pipeline.ingest_file(platform, DATASET, first)
    assert summary.status == "published", summary
    assert (summary.rows_in, summary.rows_published, summary.rows_quarantined) == (ROWS, ROWS, 0)
    assert summary.reconciled is True
    rows = assert_converged(platform)
    assert rows.height == ROWS

    # The next delivery (half of it the same keys) goes through, and nothing is published twice.
    second = hotline_file(platform, tmp_path / "in" / "second.csv", ROWS // 2 + 1, ROWS)
    after = pipeline.ingest_file(platform, DATASET, second)
    assert (after.status, after.rows_published, after.rows_quarantined) == ("published", ROWS // 2, ROWS // 2)
    assert [r["reason"] for r in after.reasons] == ["duplicate_key"]
    assert assert_converged(platform).height == ROWS + ROWS // 2
    with platform.metadata.session() as s:
        attempts = s.scalar(select(Delivery.attempts).where(Delivery.source_file == "first.csv"))
    assert attempts is not None and attempts >= 4  # one claim per stage, and the takeover


def test_a_kill_leaves_temporary_files_that_the_next_run_removes(tmp_path: Path) -> None:
    home = tmp_path / "var"
    platform = Platform(home_settings(home))
    file = hotline_file(platform, tmp_path / "in" / "half.csv", 1, ROWS)
    killed = run_cli(home, "ingest", DATASET, str(file), crash_at="write:conformed")
    assert killed.returncode == -signal.SIGKILL
    left = leftovers(platform)
    assert left and all(p.name.endswith(".tmp") for p in left)
    pipeline.ingest_file(platform, DATASET, file)
    assert leftovers(platform) == []


def test_the_raw_stage_alone_removes_what_a_kill_left(tmp_path: Path) -> None:
    """What a Dagster run of the raw asset does (pipeline.run_stage), without a CLI ingest."""
    home = tmp_path / "var"
    platform = Platform(home_settings(home))
    file = hotline_file(platform, tmp_path / "in" / "half.csv", 1, ROWS)
    killed = run_cli(home, "ingest", DATASET, str(file), crash_at="write:conformed")
    assert killed.returncode == -signal.SIGKILL and leftovers(platform)
    pipeline.run_stage(platform, platform.catalog.get(DATASET), "raw")
    assert leftovers(platform) == []


def test_a_killed_delivery_is_listed_unfinished_then_retried(tmp_path: Path) -> None:
    home = tmp_path / "var"
    platform = Platform(home_settings(home))
    file = hotline_file(platform, tmp_path / "in" / "stuck.csv", 1, ROWS)
    assert (
        run_cli(home, "ingest", DATASET, str(file), crash_at="claimed:checked").returncode == -signal.SIGKILL
    )

    listed = run_cli(home, "deliveries", "--unfinished")
    assert listed.returncode == 1, listed.stdout + listed.stderr
    assert "checking (holder gone" in listed.stdout and "1 unfinished" in listed.stdout
    status = run_cli(home, "status", "--json")
    assert '"all_reconciled": false' in status.stdout, status.stdout

    (row,) = pipeline.list_deliveries(platform, unfinished=True)
    retried = run_cli(home, "deliveries", "retry", row.delivery_id, "--json")
    assert retried.returncode == 0, retried.stdout + retried.stderr
    assert '"status": "published"' in retried.stdout
    assert run_cli(home, "deliveries").returncode == 0
    assert_converged(platform)


def test_a_resubmission_checks_settings_first_and_runs_once(tmp_path: Path) -> None:
    home = tmp_path / "var"
    platform = Platform(home_settings(home))
    rows = [valid_row(platform.dictionary, i) for i in range(1, 13)]
    for row in rows[:5]:  # five out of range: quarantined (five, so that the fix is 5-anonymous)
        row["满意度"] = "7"
    file = write_hotline(tmp_path / "orig.csv", rows, platform.catalog.get(DATASET))
    first = pipeline.ingest_file(platform, DATASET, file)
    assert (first.rows_published, first.rows_quarantined) == (7, 5)
    export = tmp_path / "fix.csv"
    assert (
        run_cli(home, "quarantine", "export", DATASET, first.delivery_id, "--out", str(export)).returncode
        == 0
    )
    export.write_text(export.read_text(encoding="utf-8").replace(",7,", ",5,"), encoding="utf-8")
    landing = sorted(p.name for p in (home / "landing").rglob("*") if p.is_file())

    # Without demo mode the placeholder key is refused before anything lands.
    refused = subprocess.run(
        [sys.executable, "-m", "datahub.cli", "quarantine", "resubmit", DATASET, str(export)],
        env={k: v for k, v in cli_env(home).items() if k != "DATAHUB_DEMO_MODE"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert refused.returncode == 2 and "[config_error]" in refused.stderr, refused.stderr
    assert sorted(p.name for p in (home / "landing").rglob("*") if p.is_file()) == landing
    assert pipeline.list_deliveries(platform, unfinished=True) == []

    done = run_cli(home, "quarantine", "resubmit", DATASET, str(export), "--json")
    assert done.returncode == 0, done.stderr
    assert '"rows_published": 5' in done.stdout, done.stdout
    again = run_cli(home, "quarantine", "resubmit", DATASET, str(export), "--json")
    assert again.returncode == 0 and '"earlier": true' in again.stdout, again.stdout
    assert assert_converged(platform).height == 12


@pytest.mark.parametrize("point", ["write:conformed", "claimed:published", "published:pointer"])
def test_a_real_311_export_converges_after_a_kill(tmp_path: Path, point: str) -> None:
    """2,000 real NYC 311 requests (a department's own export, written by nobody here)."""
    home = tmp_path / "var"
    platform = Platform(home_settings(home))
    source = SHARED_DATA / "service_requests" / "nyc311" / "nyc311_2011_sample_2000.csv"
    killed = run_cli(home, "ingest", "nyc311_requests", str(source), crash_at=point)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    summary = pipeline.ingest_file(platform, "nyc311_requests", source)
    assert summary.status == "published" and summary.reconciled is True, summary
    assert summary.rows_in == 2000 and (summary.rows_published or 0) > 0
    rows = assert_converged(platform, dataset="nyc311_requests")
    assert rows.height == summary.rows_published

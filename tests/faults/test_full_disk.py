"""A full disk: the ingest fails with a clear message (no traceback), the previous version stays
served, and once there is room again the same command finishes the delivery."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from datahub import pipeline
from datahub.platform import Platform
from tests.conftest import fill, tmpfs
from tests.faults.world import DATASET, assert_converged, home_settings, hotline_file, run_cli

ROWS = 60


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 16 MiB filesystem made for the test, mounted at ``tmp_path/disk``."""
    with tmpfs(tmp_path / "disk", "16m") as mount:
        yield mount


@pytest.mark.parametrize("where", ["lake", "home"])
def test_a_full_disk_fails_cleanly_and_keeps_the_version_served(
    small_disk: Path, tmp_path: Path, where: str
) -> None:
    # "lake": only the lake is on the small disk; "home": the metadata database too.
    home = small_disk if where == "home" else tmp_path / "var"
    if where == "lake":
        (home / "lake").parent.mkdir(parents=True, exist_ok=True)
        (home / "lake").symlink_to(small_disk)
    platform = Platform(home_settings(home))
    first = pipeline.ingest_file(
        platform, DATASET, hotline_file(platform, tmp_path / "in" / "a.csv", 1, ROWS)
    )
    served = platform.lake.current_version(DATASET)
    assert first.status == "published" and served is not None

    second = hotline_file(platform, tmp_path / "in" / "b.csv", ROWS + 1, ROWS)
    filler = fill(small_disk)
    failed = run_cli(home, "ingest", DATASET, str(second))
    assert failed.returncode == 2, failed.stdout + failed.stderr
    assert "Traceback" not in failed.stderr, failed.stderr
    assert "[stage_failed]" in failed.stderr, failed.stderr  # naming what failed, and the way out
    assert "retry" in failed.stderr or "could not be landed" in failed.stderr, failed.stderr
    assert platform.lake.current_version(DATASET) == served  # the previous version is still the one served
    assert platform.lake.scan_current(DATASET) is not None

    filler.unlink()
    again = run_cli(home, "ingest", DATASET, str(second), "--json")
    assert again.returncode == 0, again.stdout + again.stderr
    assert '"status": "published"' in again.stdout
    assert assert_converged(platform).height == 2 * ROWS

"""Hostile names and links in the landing zone (docs/hostile-input.md, "Delivered files"): dot-files are
ignored, a name that is not UTF-8 or holds control characters is refused and blocks nothing, and a
link is never followed out of the zone."""

from __future__ import annotations

import os
from pathlib import Path

import polars as pl
import pytest

from datahub.errors import UnreadableDelivery
from datahub.ingest.landing import LINK_REFUSED, land_file, landing_dir
from datahub.pipeline import discover, ingest_file, list_deliveries, process
from datahub.platform import Platform
from tests.faults.world import DATASET, assert_converged, home_settings, hotline_file, run_cli

ROWS = 12  # enough alike rows for the dataset's k-anonymity: none is withheld


def _zone(platform: Platform) -> Path:
    zone = landing_dir(platform, platform.catalog.get(DATASET))
    zone.mkdir(parents=True, exist_ok=True)
    return zone


def _rejected(platform: Platform) -> dict[str, str]:
    return {
        row.source_file: row.error or ""
        for row in list_deliveries(platform, dataset=DATASET)
        if row.status == "rejected"
    }


def test_a_dot_file_given_to_ingest_is_refused_with_the_reason(platform: Platform, tmp_path: Path) -> None:
    source = hotline_file(platform, tmp_path / ".hidden.csv", 1, ROWS)
    with pytest.raises(UnreadableDelivery, match=r"starts with '\.'") as caught:
        ingest_file(platform, DATASET, source)
    assert caught.value.file == str(source)
    assert not any(_zone(platform).iterdir())


def test_dot_files_in_the_landing_zone_are_left_alone(platform: Platform, tmp_path: Path) -> None:
    hotline_file(platform, _zone(platform) / ".hidden.csv", 1, ROWS)
    summary = ingest_file(platform, DATASET, hotline_file(platform, tmp_path / "good.csv", 100, ROWS))
    assert summary.status == "published"
    assert [row.source_file for row in list_deliveries(platform, dataset=DATASET)] == ["good.csv"]


def test_a_name_that_is_not_utf8_is_refused_and_blocks_no_other_file(
    platform: Platform, tmp_path: Path
) -> None:
    bad = hotline_file(platform, tmp_path / "bad.csv", 1, ROWS).read_bytes()
    with open(os.fsencode(_zone(platform)) + b"/bad\xff.csv", "wb") as out:
        out.write(bad)
    for first in (100, 200):  # every later ingest of the dataset goes on
        source = hotline_file(platform, tmp_path / f"good{first}.csv", first, ROWS)
        assert ingest_file(platform, DATASET, source).status == "published"
    assert _rejected(platform) == {
        "bad\\xff.csv": "the file name is not valid UTF-8 (byte \\xff): rename the file and deliver it again"
    }
    # Delivered again under a good name, the same bytes are a new delivery, not a duplicate.
    renamed = tmp_path / "renamed.csv"
    renamed.write_bytes(bad)
    assert ingest_file(platform, DATASET, renamed).status == "published"
    assert assert_converged(platform).height == 3 * ROWS


@pytest.mark.parametrize("name", ["line\nbreak.csv", "tab\there.csv", "rtl\u202evsc.csv"])
def test_a_name_with_control_characters_is_refused(platform: Platform, tmp_path: Path, name: str) -> None:
    source = hotline_file(platform, tmp_path / name, 1, ROWS)
    with pytest.raises(UnreadableDelivery, match="control or format character"):
        ingest_file(platform, DATASET, source)
    os.replace(source, _zone(platform) / name)  # put there by hand: recorded, refused, never read
    process(platform, platform.catalog.get(DATASET))
    [(recorded, error)] = _rejected(platform).items()
    assert "\n" not in recorded and "\t" not in recorded and "control or format character" in error
    assert_converged(platform)


def test_a_link_in_the_landing_zone_is_never_followed(platform: Platform, tmp_path: Path) -> None:
    outside = hotline_file(platform, tmp_path / "outside" / "secret.csv", 500, ROWS)
    link = _zone(platform) / "secret.csv"
    link.symlink_to(outside)
    (_zone(platform) / "dangling.csv").symlink_to(tmp_path / "nowhere.csv")
    os.mkfifo(_zone(platform) / "pipe.csv")  # read, it would wait for a writer for ever
    summary = ingest_file(platform, DATASET, hotline_file(platform, tmp_path / "good.csv", 1, ROWS))
    assert summary.status == "published"
    assert _rejected(platform) == {
        "secret.csv": "a symbolic link: the landing zone takes files, never links (not followed)",
        "dangling.csv": "a symbolic link: the landing zone takes files, never links (not followed)",
        "pipe.csv": "not a regular file (a pipe, socket or device): never read",
    }
    with pytest.raises(UnreadableDelivery, match="symbolic link"):
        ingest_file(platform, DATASET, link)
    published = assert_converged(platform)
    assert published.height == ROWS
    assert not published.filter(pl.col("work_order_id").str.ends_with("000500")).height


def test_a_file_replaced_by_a_link_after_registration_is_not_followed(
    platform: Platform, tmp_path: Path
) -> None:
    dataset = platform.catalog.get(DATASET)
    landed = hotline_file(platform, _zone(platform) / "late.csv", 1, ROWS)
    assert len(discover(platform, dataset)) == 1
    landed.unlink()
    landed.symlink_to(hotline_file(platform, tmp_path / "outside.csv", 500, ROWS))
    process(platform, dataset)
    assert _rejected(platform) == {"late.csv": f"{landed}: {LINK_REFUSED}"}
    assert_converged(platform)


def test_a_linked_source_is_landed_as_a_copy_of_its_content(platform: Platform, tmp_path: Path) -> None:
    real = hotline_file(platform, tmp_path / "real.csv", 1, ROWS)
    given = tmp_path / "given.csv"
    given.symlink_to(real)
    landed = land_file(platform, platform.catalog.get(DATASET), given)
    assert landed.name == "given.csv" and not landed.is_symlink() and landed.read_bytes() == real.read_bytes()
    # A link planted under the name a copy is written to is replaced, never written through.
    victim = tmp_path / "victim.txt"
    victim.write_text("untouched", encoding="utf-8")
    (_zone(platform) / "other.csv").symlink_to(victim)
    landed = land_file(
        platform, platform.catalog.get(DATASET), hotline_file(platform, tmp_path / "other.csv", 50, 2)
    )
    assert not landed.is_symlink() and victim.read_text(encoding="utf-8") == "untouched"


def test_the_cli_answers_hostile_names_without_a_traceback(tmp_path: Path) -> None:
    home = tmp_path / "home"
    platform = Platform(home_settings(home))
    hidden = hotline_file(platform, tmp_path / ".hidden.csv", 1, ROWS)
    undecodable = os.fsdecode(os.fsencode(tmp_path) + b"/bad\xff.csv")
    os.link(hidden, undecodable)
    for source in (str(hidden), undecodable):
        done = run_cli(home, "ingest", DATASET, source)
        assert done.returncode == 2, done.stdout + done.stderr
        assert "Traceback" not in done.stderr and "[delivery_unreadable]" in done.stderr, done.stderr

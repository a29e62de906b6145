from __future__ import annotations

from pathlib import Path

import polars as pl

from datahub.lake import Lake


def test_append_publishes_a_new_version_without_rewriting_parts(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    first = lake.publish("ds", "d1", pl.DataFrame({"k": [1, 2]}), append=True, contract_version="1.0.0")
    part1 = lake.published_dir("ds") / first.parts[0]
    mtime = part1.stat().st_mtime_ns
    second = lake.publish("ds", "d2", pl.DataFrame({"k": [3]}), append=True, contract_version="1.0.0")
    assert second.parts == [*first.parts, "parts/d2.parquet"]
    assert second.rows == 3
    assert part1.stat().st_mtime_ns == mtime
    assert lake.current_manifest("ds") == second
    current = lake.scan_current("ds")
    assert current is not None
    assert sorted(current.collect().get_column("k").to_list()) == [1, 2, 3]


def test_replace_mode_keeps_only_the_new_part_and_old_versions_stay_readable(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    old = lake.publish("stock", "d1", pl.DataFrame({"k": [1, 2]}), append=False, contract_version="1.0.0")
    new = lake.publish("stock", "d2", pl.DataFrame({"k": [9]}), append=False, contract_version="1.0.0")
    assert new.parts == ["parts/d2.parquet"] and new.rows == 1
    old_rows = pl.read_parquet([lake.published_dir("stock") / p for p in old.parts])
    assert old_rows.get_column("k").to_list() == [1, 2]
    assert (lake.published_dir("stock") / "CURRENT").read_text() == new.version


def test_no_current_version_before_first_publication(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    assert lake.current_manifest("nothing") is None
    assert lake.scan_current("nothing") is None
    assert not list(tmp_path.rglob("*.tmp"))

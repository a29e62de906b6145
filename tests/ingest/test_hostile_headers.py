"""A header that names a column twice, and NUL bytes anywhere in a text delivery, make the file
unreadable with the file, line and names given; nothing of it is published."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from datahub.contracts import Catalog
from datahub.dictionary import Dictionary
from datahub.errors import UnreadableDelivery
from datahub.ingest.readers import SNIFF_BYTES, read_delivery
from tests.hotline_rows import valid_row, write_hotline


def _csv(tmp_path: Path, dictionary: Dictionary, catalog: Catalog, n: int = 3) -> tuple[Path, str]:
    path = write_hotline(
        tmp_path / "h.csv", [valid_row(dictionary, i) for i in range(n)], catalog.get("hotline_12345")
    )
    return path, path.read_bytes().decode("gb18030")


@pytest.mark.parametrize("second", ["工单编号", "工单编号 ", "\u3000工单编号"])
def test_a_header_naming_a_column_twice_is_refused(
    tmp_path: Path, dictionary: Dictionary, catalog: Catalog, second: str
) -> None:
    path, text = _csv(tmp_path, dictionary, catalog)
    lines = text.splitlines()
    lines[0] = lines[0] + "," + second
    lines[1:] = [line + ",GD-OTHER" for line in lines[1:]]
    path.write_bytes("\n".join(lines).encode("gb18030"))
    with pytest.raises(UnreadableDelivery, match="names a column more than once: 工单编号") as caught:
        read_delivery(path, catalog.get("hotline_12345"))
    assert caught.value.line == 1 and caught.value.file == str(path)


def test_a_parquet_delivery_whose_names_collide_once_normalised_is_refused(
    tmp_path: Path, catalog: Catalog
) -> None:
    path = tmp_path / "p.parquet"
    pl.DataFrame({"工单编号": ["a"], "工单编号\u3000": ["b"]}).write_parquet(path)
    dataset = catalog.get("hotline_12345")
    with pytest.raises(UnreadableDelivery, match="more than once"):
        from datahub.ingest.readers import read_parquet

        read_parquet(path, dataset)


def test_headers_without_a_name_are_not_a_repeated_name(
    tmp_path: Path, dictionary: Dictionary, catalog: Catalog
) -> None:
    path, text = _csv(tmp_path, dictionary, catalog)
    lines = text.splitlines()
    lines = [line + ",," for line in lines]  # trailing commas, as spreadsheets export them
    path.write_bytes("\n".join(lines).encode("gb18030"))
    frame = read_delivery(path, catalog.get("hotline_12345")).frame
    assert frame.height == 3 and "工单编号" in frame.columns


@pytest.mark.parametrize("late", [False, True])
def test_a_nul_byte_anywhere_in_a_text_delivery_is_refused(
    tmp_path: Path, dictionary: Dictionary, catalog: Catalog, late: bool
) -> None:
    rows = 2 + (SNIFF_BYTES // 300 + 50 if late else 0)  # past the first 64 KiB when late
    path, text = _csv(tmp_path, dictionary, catalog, n=rows)
    lines = text.splitlines()
    lines[-1] = lines[-1].replace("夜间施工", "夜间\x00施工")
    data = "\n".join(lines).encode("gb18030")
    assert (data.index(b"\x00") > SNIFF_BYTES) is late
    path.write_bytes(data)
    with pytest.raises(UnreadableDelivery, match="NUL") as caught:
        read_delivery(path, catalog.get("hotline_12345"))
    assert caught.value.line == len(lines)  # the NUL's own line, early or late

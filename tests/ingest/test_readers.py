from __future__ import annotations

import json
from pathlib import Path

import pytest

from datahub.contracts import Catalog
from datahub.dictionary import Dictionary
from datahub.errors import UnreadableDelivery
from datahub.ingest.readers import read_delivery
from tests.hotline_rows import hotline_csv, valid_row, write_hotline


def test_gbk_csv_with_chinese_headers(tmp_path: Path, dictionary: Dictionary, catalog: Catalog) -> None:
    dataset = catalog.get("hotline_12345")
    path = write_hotline(tmp_path / "h.csv", [valid_row(dictionary, i) for i in range(3)], dataset, "gbk")
    frame = read_delivery(path, dataset).frame
    assert frame.height == 3
    assert frame.columns == [c.physical_name for c in dataset.columns]
    assert frame.get_column("来电人").to_list() == ["王建国"] * 3


def test_utf8_bom_is_not_part_of_the_first_header(
    tmp_path: Path, dictionary: Dictionary, catalog: Catalog
) -> None:
    dataset = catalog.get("hotline_12345")
    path = write_hotline(tmp_path / "h.csv", [valid_row(dictionary)], dataset, "utf-8-sig")
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    frame = read_delivery(path, dataset).frame
    assert frame.columns[0] == "工单编号"
    assert frame.item(0, "来电人") == "王建国"


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.csv", b"", "empty file"),
        ("blank.csv", b"   \n\n", "empty file"),
        ("junk.csv", bytes(range(256)) * 4, "binary content"),
        (
            "latin1.csv",
            "工单编号\ncaf\u00e9,d\u00e9j\u00e0\n".encode("utf-8")[:0] + b"\xe9,\xe0\n\xff\xfe",
            "cannot decode",
        ),
    ],
)
def test_unreadable_files_are_rejected_with_file_and_reason(
    tmp_path: Path, catalog: Catalog, name: str, content: bytes, message: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(UnreadableDelivery) as info:
        read_delivery(path, catalog.get("hotline_12345"))
    assert message in str(info.value)
    assert info.value.file == str(path)


def test_wrong_delimiter_is_named(tmp_path: Path, dictionary: Dictionary, catalog: Catalog) -> None:
    dataset = catalog.get("hotline_12345")
    text = hotline_csv([valid_row(dictionary)], dataset, "utf-8").decode().replace(",", ";")
    path = tmp_path / "semicolon.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(UnreadableDelivery) as info:
        read_delivery(path, dataset)
    assert "missing required columns" in str(info.value)
    assert "semicolon" in str(info.value)
    assert info.value.line == 1


def test_missing_required_columns_are_listed(
    tmp_path: Path, dictionary: Dictionary, catalog: Catalog
) -> None:
    dataset = catalog.get("hotline_12345")
    row = valid_row(dictionary)
    text = hotline_csv([row], dataset, "utf-8").decode()
    header, body = text.split("\n", 1)
    path = tmp_path / "missing.csv"
    path.write_text(header.replace("联系电话", "电话号码") + "\n" + body, encoding="utf-8")
    with pytest.raises(UnreadableDelivery) as info:
        read_delivery(path, dataset)
    assert "联系电话" in str(info.value)


def test_ragged_record_names_its_line(tmp_path: Path, dictionary: Dictionary, catalog: Catalog) -> None:
    dataset = catalog.get("hotline_12345")
    text = hotline_csv([valid_row(dictionary, i) for i in range(4)], dataset, "utf-8").decode()
    lines = text.splitlines()
    lines[3] = lines[3] + ",extra,fields"
    path = tmp_path / "ragged.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(UnreadableDelivery) as info:
        read_delivery(path, dataset)
    assert info.value.line == 4
    assert "fields" in str(info.value)


def test_jsonl_bad_line_is_named_and_refused_alone(tmp_path: Path, catalog: Catalog) -> None:
    dataset = catalog.get("gov_app_reports")
    good = json.dumps({c.physical_name: "x" for c in dataset.columns}, ensure_ascii=False)
    path = tmp_path / "app.jsonl"
    path.write_text(f"{good}\n{good}\n{{not json\n", encoding="utf-8")
    read = read_delivery(path, dataset)
    assert [(p.row, p.reason, p.text) for p in read.problems] == [(3, "invalid_json", "{not json")]
    assert read.accepted().height == 2


def test_jsonl_nested_objects_are_flattened(tmp_path: Path, catalog: Catalog) -> None:
    dataset = catalog.get("gov_app_reports")
    nested: dict[str, object] = {}
    for column in dataset.columns:
        node = nested
        *parents, leaf = column.physical_name.split(".")
        for part in parents:
            node = node.setdefault(part, {})  # type: ignore[assignment]
        node[leaf] = "v"
    path = tmp_path / "app.jsonl"
    path.write_text(json.dumps(nested, ensure_ascii=False) + "\n", encoding="utf-8")
    frame = read_delivery(path, dataset).frame
    assert set(frame.columns) == {c.physical_name for c in dataset.columns}


def test_not_an_excel_file(tmp_path: Path, catalog: Catalog) -> None:
    path = tmp_path / "police.xlsx"
    path.write_bytes(b"PK\x03\x04 this is not really a workbook")
    with pytest.raises(UnreadableDelivery) as info:
        read_delivery(path, catalog.get("police_110_transfers"))
    assert "Excel" in str(info.value)


def test_not_a_parquet_file(tmp_path: Path, catalog: Catalog) -> None:
    path = tmp_path / "sensors.parquet"
    path.write_text("sensor_id,value\n", encoding="utf-8")
    with pytest.raises(UnreadableDelivery) as info:
        read_delivery(path, catalog.get("iot_sensor_readings"))
    assert "Parquet" in str(info.value)

"""Hostile delivered files (docs/hostile-input.md, "Delivered files"): a record the reader cannot take
is quarantined alone with its line and reason while the others are published; a file nothing can be
read from is refused with a clear message; no file ends in a traceback or a ``failed`` delivery."""

from __future__ import annotations

import datetime as dt
import json
import zipfile
from pathlib import Path

import polars as pl
import pytest
from openpyxl import Workbook

from datahub.contracts import Catalog
from datahub.dictionary import Dictionary
from datahub.errors import UnreadableDelivery
from datahub.ingest.readers import (
    CELL_LIMIT,
    JSON_DEPTH_LIMIT,
    RECORD,
    RECORD_TEXT_LIMIT,
    SNIFF_BYTES,
    read_delivery,
    read_parquet,
)
from datahub.pipeline import ingest_file
from datahub.platform import Platform
from datahub.precheck import check_file
from datahub.quality.history import export_quarantine
from tests.faults.world import assert_converged, home_settings, run_cli
from tests.hotline_rows import VALID_PHONE, valid_row, write_hotline

APP = "gov_app_reports"
GOOD = 13  # enough alike rows for the dataset's k-anonymity: none is withheld


def app_record(dictionary: Dictionary, n: int) -> dict[str, object]:
    """A valid gov_app_reports record (JSON Lines, nested as the app backend exports it)."""
    district = next(iter(dictionary.codes("district").values()))
    return {
        "reportId": f"APP20261001{n:06d}",
        "submitTime": "2026-10-01T08:23:11+08:00",
        "source": "gov_app",
        "user": {"name": "王建国", "phone": VALID_PHONE},
        "content": "路灯不亮",
        "category": sorted(dictionary.crosswalks["app_category"].mapping)[0],
        "location": {"district": district.name_zh},
    }


def app_line(dictionary: Dictionary, n: int, **changes: object) -> str:
    return json.dumps(app_record(dictionary, n) | changes, ensure_ascii=False)


def _quarantine(platform: Platform, dataset: str, delivery_id: str) -> list[tuple[int, list[tuple]]]:
    rows = pl.read_parquet(platform.lake.layer_path("quarantine", dataset, delivery_id))
    return [
        (row["_row_number"], [(r["reason"], r["column"], r["value"]) for r in row["_reasons"]])
        for row in rows.sort("_row_number").iter_rows(named=True)
    ]


DEEP = '{"a": ' * (JSON_DEPTH_LIMIT + 1) + "1" + "}" * (JSON_DEPTH_LIMIT + 1)


def test_bad_json_lines_are_quarantined_one_by_one_and_the_good_ones_published(
    platform: Platform, dictionary: Dictionary, tmp_path: Path
) -> None:
    long_content = "路" * (CELL_LIMIT + 1)
    lines = [app_line(dictionary, n) for n in range(6)]
    lines += [
        '{"reportId": "APP20261001000099", "source": ',  # line 7: cut short
        "",  # line 8: blank lines are skipped, not records
        "[1, 2]",  # line 9
        DEEP,  # line 10
        app_line(dictionary, 6, content=long_content),  # line 11
    ]
    lines += [app_line(dictionary, n) for n in range(7, 7 + GOOD - 6)]
    path = tmp_path / "app.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    summary = ingest_file(platform, APP, path)

    assert (summary.status, summary.rows_in, summary.rows_published, summary.rows_quarantined) == (
        "published",
        GOOD + 4,
        GOOD,
        4,
    )
    assert summary.reconciled is True
    quarantined = _quarantine(platform, APP, summary.delivery_id)
    assert [row for row, _ in quarantined] == [7, 9, 10, 11]  # the lines of the file
    assert quarantined[0][1] == [("invalid_json", RECORD, lines[6])]
    assert quarantined[1][1] == [("not_an_object", RECORD, "[1, 2]")]
    assert quarantined[2][1] == [("nested_too_deep", RECORD, DEEP)]
    [(reason, column, value)] = quarantined[3][1]
    assert (reason, column) == ("value_too_long", "content")
    assert value == "路" * RECORD_TEXT_LIMIT + f"… ({CELL_LIMIT + 1:,} characters)"
    raw = pl.read_parquet(platform.lake.layer_path("quarantine", APP, summary.delivery_id))
    long_row = raw.filter(pl.col("_row_number") == 11).row(0, named=True)
    assert long_row["reportId"] == "APP20261001000006" and long_row["content"] is None
    assert {(r["reason"], r["column"], r["rows"]) for r in summary.reasons} >= {
        ("invalid_json", RECORD, 1),
        ("not_an_object", RECORD, 1),
        ("nested_too_deep", RECORD, 1),
        ("value_too_long", "content", 1),
    }
    published = assert_converged(platform, dataset=APP)
    assert published.height == GOOD


def test_a_json_lines_file_of_which_no_line_can_be_read_is_refused(
    platform: Platform, tmp_path: Path
) -> None:
    path = tmp_path / "app.jsonl"
    path.write_text('{\n  "reportId": "APP20261001000001"\n}\n', encoding="utf-8")  # pretty-printed
    summary = ingest_file(platform, APP, path)
    assert summary.status == "rejected"
    assert "no record could be read" in (summary.error or "")
    assert "line 1: not valid JSON" in (summary.error or "")
    assert_converged(platform, dataset=APP)


def test_a_json_array_of_objects_is_read_element_by_element(
    platform: Platform, dictionary: Dictionary, tmp_path: Path
) -> None:
    elements = [app_line(dictionary, n) for n in range(GOOD)]
    elements.insert(3, '"not an object"')
    path = tmp_path / "app.json"
    path.write_text("  [\n" + ",\n".join(elements) + "\n]\n", encoding="utf-8")
    summary = ingest_file(platform, APP, path)
    assert (summary.status, summary.rows_in, summary.rows_published) == ("published", GOOD + 1, GOOD)
    assert _quarantine(platform, APP, summary.delivery_id) == [
        (4, [("not_an_object", RECORD, '"not an object"')])
    ]
    assert_converged(platform, dataset=APP)


def test_a_malformed_json_array_says_what_it_is_and_where_it_breaks(
    catalog: Catalog, dictionary: Dictionary, tmp_path: Path
) -> None:
    path = tmp_path / "app.json"
    path.write_text(
        "[\n" + app_line(dictionary, 1) + "\n" + app_line(dictionary, 2) + "\n]", encoding="utf-8"
    )
    with pytest.raises(UnreadableDelivery) as caught:
        read_delivery(path, catalog.get(APP))
    assert "a JSON array, not JSON Lines, and it is not valid JSON at line 3 col 1" in str(caught.value)
    assert caught.value.line == 3


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("[" * 100_000 + "]" * 100_000, "nested_too_deep"),  # a RecursionError before
        ('{"a": ' * 2_000 + "1" + "}" * 2_000, "nested_too_deep"),
        ('{"reportId": ' + "9" * 5_000 + "}", None),  # past Python's 4,300 digits: read as text
        ('{"content": "one\u2028two"}', None),  # a line separator inside a string is not a line end
        ('{"content": "x", "content": "y"}', "duplicate_field"),  # json would keep the last silently
        ('{"location.district": "a", "location": {"district": "b"}}', "duplicate_field"),
    ],
)
def test_deep_or_huge_json_values_end_in_a_reason_not_a_traceback(
    catalog: Catalog, dictionary: Dictionary, tmp_path: Path, line: str, reason: str | None
) -> None:
    path = tmp_path / "app.jsonl"
    path.write_text(app_line(dictionary, 1) + "\n" + line + "\n", encoding="utf-8")
    read = read_delivery(path, catalog.get(APP))
    assert read.records == 2
    assert [(p.row, p.reason) for p in read.problems] == ([(2, reason)] if reason else [])
    if reason is None:
        assert read.accepted().height == 2


def test_a_nul_byte_after_the_first_64_kib_of_a_json_lines_file_is_refused(
    catalog: Catalog, dictionary: Dictionary, tmp_path: Path
) -> None:
    lines = [app_line(dictionary, n) for n in range(SNIFF_BYTES // 200 + 50)]
    lines[-1] = lines[-1].replace("路灯", "路\x00灯")  # a NUL inside a string is valid JSON
    data = ("\n".join(lines) + "\n").encode("utf-8")
    assert data.index(b"\x00") > SNIFF_BYTES
    path = tmp_path / "app.jsonl"
    path.write_bytes(data)
    with pytest.raises(UnreadableDelivery, match="NUL") as caught:
        read_delivery(path, catalog.get(APP))
    assert caught.value.line == len(lines)


def test_a_1_mb_value_is_read(catalog: Catalog, dictionary: Dictionary, tmp_path: Path) -> None:
    rows = [valid_row(dictionary, n) for n in range(2)]
    rows[1]["诉求内容"] = "噪" * CELL_LIMIT
    read = read_delivery(
        write_hotline(tmp_path / "h.csv", rows, catalog.get("hotline_12345")), catalog.get("hotline_12345")
    )
    assert read.problems == [] and read.frame.item(1, "诉求内容") == "噪" * CELL_LIMIT


def test_a_value_longer_than_the_limit_quarantines_its_csv_row_alone(
    platform: Platform, tmp_path: Path
) -> None:
    rows = [valid_row(platform.dictionary, n) for n in range(GOOD + 1)]
    rows[5]["诉求内容"] = "噪" * (CELL_LIMIT + 1)
    path = write_hotline(tmp_path / "h.csv", rows, platform.catalog.get("hotline_12345"))
    summary = ingest_file(platform, "hotline_12345", path)
    assert (summary.rows_in, summary.rows_published, summary.rows_quarantined) == (GOOD + 1, GOOD, 1)
    [(row, [(reason, column, value)])] = _quarantine(platform, "hotline_12345", summary.delivery_id)
    assert (row, reason, column) == (6, "value_too_long", "诉求内容")
    # Cut short, its length noted (and masked as any value of a free-text column: a "name" was found).
    assert value.endswith(f"… ({CELL_LIMIT + 1:,} characters)") and len(value) < RECORD_TEXT_LIMIT + 40
    assert assert_converged(platform).height == GOOD


def _workbook(path: Path, sheet: str, rows: list[list[object]], long_value: str = "") -> Path:
    """A workbook of ``rows``; the cell ``LONG`` becomes ``long_value``, longer than Excel (and
    openpyxl, which cuts it) lets anyone type, as a crafted file can hold it."""
    book = Workbook()
    book.active.title = sheet
    for values in rows:
        book.active.append(values)
    book.save(path)
    if long_value:
        crafted = path.with_suffix(".crafted")
        with zipfile.ZipFile(path) as source, zipfile.ZipFile(crafted, "w", zipfile.ZIP_DEFLATED) as out:
            for item in source.infolist():
                out.writestr(item, source.read(item).replace(b">LONG<", f">{long_value}<".encode()))
        crafted.replace(path)
    return path


def test_a_missing_excel_sheet_names_the_sheet_asked_for_and_those_present(
    catalog: Catalog, tmp_path: Path
) -> None:
    path = _workbook(tmp_path / "police.xlsx", "Sheet1", [["a"], ["1"]])
    with pytest.raises(UnreadableDelivery) as caught:
        read_delivery(path, catalog.get("police_110_transfers"))
    assert "no sheet '警情转办' in the workbook; its sheets: 'Sheet1'" in str(caught.value)


def test_a_long_value_in_a_workbook_or_a_parquet_file_is_a_row_problem(
    catalog: Catalog, tmp_path: Path
) -> None:
    sensors = catalog.get("iot_sensor_readings")
    header = [c.physical_name for c in sensors.columns]
    rows = [{name: "1" for name in header} for _ in range(3)]
    rows[1]["device_type"] = "x" * (CELL_LIMIT + 1)
    path = tmp_path / "sensors.parquet"
    pl.DataFrame(rows).write_parquet(path)
    read = read_delivery(path, sensors)
    assert [(p.row, p.reason, p.column, p.length) for p in read.problems] == [
        (2, "value_too_long", "device_type", CELL_LIMIT + 1)
    ]
    assert read.accepted().height == 2
    police = catalog.get("police_110_transfers")
    names = [c.physical_name for c in police.columns]
    cells = [[str(i)] * len(names) for i in range(3)]
    cells[0][1] = "LONG"
    path = _workbook(
        tmp_path / "police.xlsx", police.delivery.sheet or "Sheet", [names, *cells], "x" * (CELL_LIMIT + 1)
    )
    read = read_delivery(path, police)
    assert [(p.row, p.reason, p.column) for p in read.problems] == [(1, "value_too_long", names[1])]


def test_nested_parquet_columns_are_flattened_as_json_lines_are(catalog: Catalog, tmp_path: Path) -> None:
    path = tmp_path / "sensors.parquet"
    pl.DataFrame(
        {
            "device_id": ["d1"],
            "reading": [{"val": 1.5, "at": {"ts": dt.datetime(2026, 10, 1, 8, 0)}}],
            "tags": [["a", "b"]],
            "day": [dt.date(2026, 10, 1)],
            "clock": [dt.time(8, 30)],
            "zoned": [dt.datetime(2026, 10, 1, 0, 0, tzinfo=dt.UTC)],
            "big": [1e20],  # past Int64: its text, never a null
        }
    ).write_parquet(path)
    read = read_parquet(path, catalog.get("iot_sensor_readings"))
    assert read.frame.row(0, named=True) == {
        "device_id": "d1",
        "reading.val": "1.5",
        "reading.at.ts": "2026-10-01 08:00:00",
        "tags": '["a", "b"]',
        "day": "2026-10-01",
        "clock": "08:30:00",
        "zoned": "2026-10-01T00:00:00+0000",
        "big": "1e+20",
    }


def test_a_binary_parquet_column_that_is_not_text_is_refused_by_name(
    catalog: Catalog, tmp_path: Path
) -> None:
    path = tmp_path / "sensors.parquet"
    pl.DataFrame({"device_id": ["d1"], "blob": [b"\xff\xfe\x00"], "name": [b"ok"]}).write_parquet(path)
    with pytest.raises(UnreadableDelivery, match=r"blob \(Binary\)"):
        read_parquet(path, catalog.get("iot_sensor_readings"))


def test_datahub_check_lists_the_records_the_reader_refused(
    catalog: Catalog, dictionary: Dictionary, tmp_path: Path
) -> None:
    path = tmp_path / "app.jsonl"
    path.write_text(app_line(dictionary, 1) + "\n{oops\n", encoding="utf-8")
    result = check_file(path, catalog.get(APP), dictionary)
    assert (result.rows_read, result.rows_valid, result.rows_invalid) == (2, 1, 1)
    assert {"row": 2, "column": RECORD, "reason": "invalid_json", "value": "{oops"} in result.problems


def test_a_fix_saved_as_gbk_by_excel_is_resubmitted(tmp_path: Path) -> None:
    home = tmp_path / "home"
    platform = Platform(home_settings(home))
    dataset = platform.catalog.get("hotline_12345")
    rows = [valid_row(platform.dictionary, n) for n in range(GOOD + 1)]
    for row in rows[:5]:  # five out of range: quarantined (five, so that the fix is 5-anonymous)
        row["满意度"] = "7"
    summary = ingest_file(platform, dataset.name, write_hotline(tmp_path / "h.csv", rows, dataset))
    assert summary.rows_quarantined == 5
    export = tmp_path / "fix.csv"
    export_quarantine(platform, dataset, summary.delivery_id, export)
    fixed = export.read_text(encoding="utf-8").replace(",7,", ",5,")
    export.write_bytes(fixed.encode("gbk"))  # as Excel on Chinese Windows saves it
    done = run_cli(home, "quarantine", "resubmit", dataset.name, str(export), "--json")
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    result = json.loads(done.stdout)
    assert (result["rows_in"], result["rows_published"], result["rows_quarantined"]) == (5, 5, 0)

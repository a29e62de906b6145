"""Hostile values and headers (issue 16): dates and times read by one policy, ``unique: true`` enforced,
columns the contract does not declare refused (or ignored when the contract says so), and whole-file
checks that say what they saw and what they expected."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from datahub import pipeline
from datahub.contracts import Dataset, load_contract
from datahub.dictionary import Dictionary
from datahub.errors import ContractError, UnreadableDelivery
from datahub.ingest.readers import read_delivery
from datahub.platform import Platform
from datahub.quality.conformity import REASONS_COLUMN, conform, conform_file
from datahub.quality.expectations import SuiteContext, build_suite
from datahub.quality.validation import Engine, validate
from datahub.settings import Settings

CONTRACT = """apiVersion: v3.1.0
kind: DataContract
id: urn:datahub:contract:requests
name: hostile requests
version: 1.0.0
status: active
customProperties:
  - property: delivery
    value: {{format: {format}, publishMode: append}}
schema:
  - name: requests
{schema_custom}    properties:
      - {{name: id, physicalName: 工单编号, logicalType: string, required: true, primaryKey: true}}
      - {{name: record_id, physicalName: SRRecordID, logicalType: string, unique: true}}
      - {{name: opened, physicalName: 受理时间, logicalType: timestamp}}
      - {{name: day, physicalName: 日期, logicalType: date}}
      - {{name: closed, physicalName: Closed Date, logicalType: timestamp,
          logicalTypeOptions: {{format: "MM/dd/yyyy hh:mm:ss a"}}}}
      - {{name: street, physicalName: location.street, logicalType: string}}
"""


def _contract(tmp_path: Path, fmt: str = "csv", ignored: list[str] | None = None) -> Path:
    custom = ""
    if ignored is not None:
        custom = (
            "    customProperties:\n      - property: ignoredColumns\n"
            f"        value: {json.dumps(ignored, ensure_ascii=False)}\n"
        )
    path = tmp_path / "contracts" / "requests.odcs.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(CONTRACT.format(format=fmt, schema_custom=custom), encoding="utf-8")
    return path


def _dataset(
    tmp_path: Path, dictionary: Dictionary, fmt: str = "csv", ignored: list[str] | None = None
) -> Dataset:
    (dataset,) = load_contract(_contract(tmp_path, fmt, ignored), dictionary)
    return dataset


def _raw(rows: list[dict[str, Any]]) -> pl.DataFrame:
    names = list(dict.fromkeys(k for row in rows for k in row))
    frame = pl.DataFrame(
        [{n: row.get(n) for n in names} for row in rows], schema=dict.fromkeys(names, pl.String)
    )
    return frame.with_columns(pl.int_range(1, frame.height + 1).alias("_row_number"))


def _reasons(quarantine: pl.DataFrame) -> list[tuple[int, str, str, str | None]]:
    return sorted(
        (row["_row_number"], r["reason"], r["column"], r["value"])
        for row in quarantine.iter_rows(named=True)
        for r in row[REASONS_COLUMN]
    )


# --------------------------------------------------------------------------- dates and times (item 5)

SERIAL = "spreadsheet_serial"
AMBIGUOUS = "ambiguous_date"
INVALID = "invalid_type"

TIMESTAMPS = [
    # unambiguous textual forms, read as city time (Asia/Shanghai)
    ("2024/10/14 05:49", datetime(2024, 10, 14, 5, 49)),
    ("2024-10-14 05:49:00", datetime(2024, 10, 14, 5, 49)),
    ("2024-10-14T05:49:00+08:00", datetime(2024, 10, 14, 5, 49)),  # ISO 8601 in city time
    ("2024-10-14T05:49:00+00:00", datetime(2024, 10, 14, 13, 49)),  # converted to city time
    ("2024-10-14T05:49:00.5+0000", datetime(2024, 10, 14, 13, 49, 0, 500000)),
    ("2024-10-14 05:49:00Z", datetime(2024, 10, 14, 13, 49)),
    ("2024-10-14T05:49Z", datetime(2024, 10, 14, 13, 49)),
    ("2024年10月14日 13时49分", datetime(2024, 10, 14, 13, 49)),
    ("2024年10月14日13时49分05秒", datetime(2024, 10, 14, 13, 49, 5)),
    ("2024年10月14日 13:49", datetime(2024, 10, 14, 13, 49)),
    ("2024年10月14日", datetime(2024, 10, 14)),  # a day alone: its midnight
    ("2024-10-14", datetime(2024, 10, 14)),
    ("2024.10.14 05:49", datetime(2024, 10, 14, 5, 49)),
    ("20241014", datetime(2024, 10, 14)),
    # day and month first: read when the order cannot be mistaken
    ("14/10/2024 05:49", datetime(2024, 10, 14, 5, 49)),  # 14 is no month
    ("10/14/2024 05:49:00 PM", datetime(2024, 10, 14, 17, 49)),  # 14 is no month
    ("05.05.2024", datetime(2024, 5, 5)),  # either order, the same day
    ("10/11/2024 05:49", AMBIGUOUS),  # 10 November or 11 October
    ("01-02-2024", AMBIGUOUS),
    # spreadsheet serial numbers (1900 or 1904 date system) are never guessed
    ("45579", SERIAL),
    ("45579.25", SERIAL),
    ("44117.5", SERIAL),
    # anything else that is not a date is said so, never a silent null
    ("24-10-14", INVALID),  # a two-digit year: 1924, 2024 or 2014?
    ("2024101", INVALID),  # 2024-10-1 or 2024-1-01
    ("2024-02-30 10:00:00", INVALID),
    ("2024-10-14 25:61:00", INVALID),
    ("14/13/2024", INVALID),
    ("待补录", INVALID),
    ("1728856140", INVALID),  # Unix seconds: not a form departments are asked to write
]


def _conform_one(dictionary: Dictionary, dataset: Dataset, column: str, value: str) -> tuple[Any, list[Any]]:
    result = conform(
        _raw([{"工单编号": "R1", dataset.column(column).physical_name: value}]), dataset, dictionary
    )
    typed = result.conformed.get_column(column).to_list() if result.conformed.height else []
    return (typed[0] if typed else None), _reasons(result.quarantine)


@pytest.mark.parametrize(("value", "expected"), TIMESTAMPS)
def test_a_timestamp_is_read_by_one_policy_or_quarantined_with_its_reason(
    tmp_path: Path, dictionary: Dictionary, value: str, expected: datetime | str
) -> None:
    dataset = _dataset(tmp_path, dictionary)
    typed, reasons = _conform_one(dictionary, dataset, "opened", value)
    if isinstance(expected, datetime):
        assert (typed, reasons) == (expected, [])
    else:  # quarantined, naming the column and the value as delivered
        assert (typed, reasons) == (None, [(1, expected, "opened", value)])


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-10-14", date(2024, 10, 14)),
        ("2024年10月14日", date(2024, 10, 14)),
        ("2024-10-14T20:00:00Z", date(2024, 10, 15)),  # 04:00 the next day in city time
        ("2024-10-14 05:49:00", date(2024, 10, 14)),
        ("14/10/2024", date(2024, 10, 14)),
        ("10/11/2024", AMBIGUOUS),
        ("45579", SERIAL),
        ("2024/13/01", INVALID),
        ("0000-00-00", INVALID),
    ],
)
def test_a_date_is_read_by_the_same_policy(
    tmp_path: Path, dictionary: Dictionary, value: str, expected: date | str
) -> None:
    dataset = _dataset(tmp_path, dictionary)
    typed, reasons = _conform_one(dictionary, dataset, "day", value)
    if isinstance(expected, date):
        assert (typed, reasons) == (expected, [])
    else:
        assert (typed, reasons) == (None, [(1, expected, "day", value)])


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("10/11/2024 05:49:00 PM", datetime(2024, 10, 11, 17, 49)),  # the declared order decides
        ("11/10/2024 05:49:00 AM", datetime(2024, 11, 10, 5, 49)),
        ("2024-10-14 05:49:00", datetime(2024, 10, 14, 5, 49)),  # year first cannot be misread
        ("14/10/2024 05:49:00 PM", INVALID),  # not the declared order, and not guessed
        ("45579", SERIAL),
    ],
)
def test_a_declared_format_settles_day_and_month_order(
    tmp_path: Path, dictionary: Dictionary, value: str, expected: datetime | str
) -> None:
    dataset = _dataset(tmp_path, dictionary)
    typed, reasons = _conform_one(dictionary, dataset, "closed", value)
    if isinstance(expected, datetime):
        assert (typed, reasons) == (expected, [])
    else:
        assert (typed, reasons) == (None, [(1, expected, "closed", value)])


def test_a_column_of_day_first_dates_is_read_whole_in_one_pass(
    tmp_path: Path, dictionary: Dictionary
) -> None:
    dataset = _dataset(tmp_path, dictionary)
    days = [f"{d:02d}/10/2024 08:00" for d in range(13, 31)] * 20 + ["03/10/2024 08:00"]
    result = conform(
        _raw([{"工单编号": f"R{i}", "受理时间": v} for i, v in enumerate(days)]), dataset, dictionary
    )
    assert result.conformed.height == len(days) - 1
    assert result.conformed.get_column("opened").min() == datetime(2024, 10, 13, 8)
    assert _reasons(result.quarantine) == [(len(days), AMBIGUOUS, "opened", "03/10/2024 08:00")]


def test_a_serial_number_from_an_excel_cell_is_quarantined(tmp_path: Path, dictionary: Dictionary) -> None:
    from openpyxl import Workbook

    dataset = _dataset(tmp_path, dictionary, fmt="excel")
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["工单编号", "受理时间", "日期"])
    sheet.append(["R1", datetime(2024, 10, 14, 5, 49), date(2024, 10, 14)])  # cells formatted as dates
    sheet.append(["R2", 45579.25, 45579])  # the same, formatted as numbers
    path = tmp_path / "requests.xlsx"
    book.save(path)
    raw = read_delivery(path, dataset).accepted()
    result = conform(raw, dataset, dictionary)
    assert result.conformed.select("opened", "day").row(0) == (
        datetime(2024, 10, 14, 5, 49),
        date(2024, 10, 14),
    )
    assert _reasons(result.quarantine) == [(2, SERIAL, "day", "45579"), (2, SERIAL, "opened", "45579.25")]


# --------------------------------------------------------------------------- unique: true (item 3)


def test_a_unique_column_quarantines_later_rows_repeating_a_value(
    tmp_path: Path, dictionary: Dictionary
) -> None:
    dataset = _dataset(tmp_path, dictionary)
    assert dataset.column("record_id").unique
    ids = ["SR1", "SR2", "SR1", "SR1", None, None, "SR2", "SR3"]
    raw = _raw([{"工单编号": f"R{i}", "SRRecordID": v} for i, v in enumerate(ids)])
    result = conform(raw, dataset, dictionary)
    assert _reasons(result.quarantine) == [
        (3, "duplicate_value", "record_id", "SR1 (first in row 1)"),
        (4, "duplicate_value", "record_id", "SR1 (first in row 1)"),
        (7, "duplicate_value", "record_id", "SR2 (first in row 2)"),
    ]
    assert result.conformed.get_column("record_id").to_list() == ["SR1", "SR2", None, None, "SR3"]
    assert result.reason_counts == [("duplicate_value", "record_id", 3)]


def test_unique_values_repeat_across_batches_and_what_is_published(
    tmp_path: Path, dictionary: Dictionary
) -> None:
    dataset = _dataset(tmp_path, dictionary)
    ids = ["SR1", "SR2", "SR3", "SR1", "SR9", "SR3", None]
    raw = _raw([{"工单编号": f"R{i}", "SRRecordID": v} for i, v in enumerate(ids)])
    published = pl.DataFrame({"id": ["P1"], "record_id": ["SR9"]})
    expected = [
        (4, "duplicate_value", "record_id", "SR1 (first in row 1)"),
        (5, "duplicate_value", "record_id", "SR9 (already published)"),
        (6, "duplicate_value", "record_id", "SR3 (first in row 3)"),
    ]
    assert _reasons(conform(raw, dataset, dictionary, published_keys=published).quarantine) == expected
    source = tmp_path / "raw.parquet"
    raw.write_parquet(source)
    stats = conform_file(
        source,
        dataset,
        dictionary,
        conformed_path=tmp_path / "conformed.parquet",
        quarantine_path=tmp_path / "quarantine.parquet",
        published_keys=published,
        batch_rows=2,
        whole_file_rows=0,
    )
    assert _reasons(pl.read_parquet(tmp_path / "quarantine.parquet")) == expected
    assert (stats.rows_conformed, stats.rows_quarantined) == (4, 3)


def test_a_unique_value_published_before_is_quarantined_in_a_later_delivery(
    tmp_path: Path, dictionary: Dictionary
) -> None:
    _contract(tmp_path)
    platform = Platform(Settings(home=tmp_path / "var", demo_mode=True, contracts_dir=tmp_path / "contracts"))
    first = tmp_path / "in" / "requests_1.csv"
    first.parent.mkdir()
    first.write_text("工单编号,SRRecordID\nR1,SR1\nR2,SR2\n", encoding="utf-8")
    assert pipeline.ingest_file(platform, "requests", first).rows_published == 2
    second = tmp_path / "in" / "requests_2.csv"
    second.write_text("工单编号,SRRecordID\nR3,SR2\nR4,SR4\n", encoding="utf-8")
    summary = pipeline.ingest_file(platform, "requests", second)
    assert (summary.rows_published, summary.rows_quarantined) == (1, 1)
    assert summary.reasons == [{"reason": "duplicate_value", "column": "record_id", "rows": 1}]
    platform.metadata.dispose()


# --------------------------------------------------------------------------- undeclared columns (item 2)


def _write(path: Path, fmt: str, rows: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        pl.DataFrame(rows).write_csv(path)
    elif fmt == "jsonl":
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    elif fmt == "parquet":
        pl.DataFrame(rows).write_parquet(path)
    else:
        from openpyxl import Workbook

        book = Workbook()
        sheet = book.active
        assert sheet is not None
        sheet.append(list(rows[0]))
        for row in rows:
            sheet.append(list(row.values()))
        book.save(path)
    return path


FORMATS = {"csv": "csv", "jsonl": "jsonl", "parquet": "parquet", "excel": "xlsx"}


@pytest.mark.parametrize("fmt", FORMATS)
def test_an_undeclared_column_refuses_the_file_and_names_it(
    tmp_path: Path, dictionary: Dictionary, fmt: str
) -> None:
    dataset = _dataset(tmp_path, dictionary, fmt=fmt)
    rows = [{"工单编号": "R1", "SRRecordID": "SR1", "来电人身份证": "11010519491231002X"}]
    path = _write(tmp_path / f"requests.{FORMATS[fmt]}", fmt, rows)
    with pytest.raises(UnreadableDelivery) as caught:
        read_delivery(path, dataset)
    message = str(caught.value)
    assert "undeclared columns: 来电人身份证" in message
    assert "ignoredColumns" in message  # how to proceed
    assert caught.value.line == 1


def test_an_undeclared_nested_json_field_is_named_by_its_path(tmp_path: Path, dictionary: Dictionary) -> None:
    dataset = _dataset(tmp_path, dictionary, fmt="jsonl")
    rows = [{"工单编号": "R1", "location": {"street": "幸福路", "owner": {"phone": "13812345678"}}}]
    path = _write(tmp_path / "requests.jsonl", "jsonl", rows)
    with pytest.raises(UnreadableDelivery, match=r"undeclared columns: location\.owner\.phone"):
        read_delivery(path, dataset)


def test_missing_and_undeclared_columns_are_told_apart_with_a_likely_rename(
    tmp_path: Path, dictionary: Dictionary
) -> None:
    dataset = _dataset(tmp_path, dictionary)
    path = _write(tmp_path / "requests.csv", "csv", [{"工单号": "R1", "SRRecordId": "SR1", "备注": "x"}])
    with pytest.raises(UnreadableDelivery) as caught:
        read_delivery(path, dataset)
    message = str(caught.value)
    assert "missing required columns: 工单编号" in message
    assert "undeclared columns: 工单号, SRRecordId, 备注" in message
    assert "renamed? 工单号 → 工单编号, SRRecordId → SRRecordID" in message


@pytest.mark.parametrize("fmt", FORMATS)
def test_columns_the_contract_ignores_are_dropped_before_anything_is_kept(
    tmp_path: Path, dictionary: Dictionary, fmt: str
) -> None:
    dataset = _dataset(tmp_path, dictionary, fmt=fmt, ignored=["内部备注", "系统字段"])
    assert dataset.ignored_columns == ("内部备注", "系统字段")
    rows = [{"工单编号": "R1", "内部备注": "内部", "SRRecordID": "SR1", "系统字段": "x"}]
    read = read_delivery(_write(tmp_path / f"requests.{FORMATS[fmt]}", fmt, rows), dataset)
    assert read.frame.columns == ["工单编号", "SRRecordID"]
    assert read.notes == ["columns ignored as the contract allows: 内部备注, 系统字段"]


def test_an_ignored_json_object_drops_every_field_nested_in_it(
    tmp_path: Path, dictionary: Dictionary
) -> None:
    dataset = _dataset(tmp_path, dictionary, fmt="jsonl", ignored=["meta"])
    rows = [{"工单编号": "R1", "meta": {"source": "app", "device": {"id": "d1"}}, "metadata": None}]
    path = _write(tmp_path / "requests.jsonl", "jsonl", rows)
    with pytest.raises(UnreadableDelivery, match=r"undeclared columns: metadata\."):  # a prefix is no parent
        read_delivery(path, dataset)
    rows[0].pop("metadata")
    assert read_delivery(_write(path, "jsonl", rows), dataset).frame.columns == ["工单编号"]


@pytest.mark.parametrize(
    ("ignored", "message"),
    [
        (["SRRecordID"], "SRRecordID is declared by the contract and cannot be ignored"),
        ("内部备注", "ignoredColumns must be a list of column names"),
        ([""], "ignoredColumns must be a list of column names"),
    ],
)
def test_ignored_columns_are_checked_when_the_contract_is_read(
    tmp_path: Path, dictionary: Dictionary, ignored: Any, message: str
) -> None:
    with pytest.raises(ContractError, match=message):
        _dataset(tmp_path, dictionary, ignored=ignored)


def test_ingest_rejects_undeclared_columns_and_notes_the_ignored_ones(
    tmp_path: Path, dictionary: Dictionary
) -> None:
    _contract(tmp_path, ignored=["内部备注"])
    platform = Platform(Settings(home=tmp_path / "var", demo_mode=True, contracts_dir=tmp_path / "contracts"))
    bad = _write(tmp_path / "in" / "requests_1.csv", "csv", [{"工单编号": "R1", "坐席工号": "A7"}])
    rejected = pipeline.ingest_file(platform, "requests", bad)
    assert rejected.status == "rejected"
    assert "undeclared columns: 坐席工号" in (rejected.error or "")
    good = _write(tmp_path / "in" / "requests_2.csv", "csv", [{"工单编号": "R1", "内部备注": "内部"}])
    summary = pipeline.ingest_file(platform, "requests", good)
    assert summary.status == "published"
    assert summary.notes == ["columns ignored as the contract allows: 内部备注"]
    failed = {r["rule"]: r for r in (summary.quality or {}).get("failed_rules", [])}
    assert (
        failed["columns_closed"]["detail"]
        == "missing: SRRecordID, 受理时间, 日期, Closed Date, location.street"
    )
    raw = pl.read_parquet(platform.lake.layer_path("raw", "requests", summary.delivery_id))
    assert "内部备注" not in raw.columns
    platform.metadata.dispose()


# --------------------------------------------------------------------------- whole-file checks (item 9)


def _validate(
    tmp_path: Path, dataset: Dataset, frame: pl.DataFrame, received: list[str], **context: Any
) -> dict:
    ctx = SuiteContext(
        rows=frame.height,
        null_counts={c: frame.get_column(c).null_count() for c in frame.columns},
        received_columns=received,
        delivered_at=context.pop("delivered_at", datetime(2026, 10, 2)),
        **context,
    )
    path = tmp_path / "conformed.parquet"
    frame.write_parquet(path)
    engine = Engine(path)
    try:
        outcome = validate(
            engine, build_suite(dataset, ctx), suite_name="t", received_columns=received, key_columns=("id",)
        )
    finally:
        engine.close()
    return {r.name: r for r in outcome.rules}


def _conformed(dataset: Dataset, n: int) -> pl.DataFrame:
    frame = pl.DataFrame(
        {c.name: [None] * n for c in dataset.columns},
        schema=dict.fromkeys([c.name for c in dataset.columns], pl.String),
    )
    return frame.with_columns(
        pl.Series("id", [f"R{i}" for i in range(n)]),
        pl.lit(datetime(2026, 9, 1)).alias("opened"),
        pl.lit("f.csv").alias("_source_file"),
        pl.int_range(1, n + 1).alias("_row_number"),
    )


def test_columns_closed_says_which_columns_differ_and_how(tmp_path: Path, dictionary: Dictionary) -> None:
    dataset = _dataset(tmp_path, dictionary)
    received = ["SRRecordID", "工单编号", "受理时间", "Closed Date"]  # 日期 and location.street missing
    rules = _validate(tmp_path, dataset, _conformed(dataset, 3), received)
    closed = rules["columns_closed"]
    assert not closed.success
    assert closed.detail == (
        "missing: 日期, location.street; "
        "order: expected 工单编号, SRRecordID, 受理时间, Closed Date, "
        "received SRRecordID, 工单编号, 受理时间, Closed Date"
    )


def test_volume_and_row_count_say_the_rows_seen_and_expected(tmp_path: Path, dictionary: Dictionary) -> None:
    dataset = _dataset(tmp_path, dictionary)
    received = [c.physical_name for c in dataset.columns]
    rules = _validate(tmp_path, dataset, _conformed(dataset, 3), received, previous_rows=100)
    assert rules["columns_closed"].success
    volume = rules["volume"]
    assert not volume.success
    assert volume.detail == "3 rows; expected between 50 and 200"


def test_a_stale_delivery_says_its_newest_value_and_the_oldest_allowed(
    tmp_path: Path, dictionary: Dictionary
) -> None:
    text = _contract(tmp_path).read_text(encoding="utf-8")
    stale = text.replace(
        "schema:\n",
        "slaProperties:\n  - {property: latency, value: 2, unit: d, element: requests.opened}\nschema:\n",
    )
    path = tmp_path / "contracts" / "requests.odcs.yaml"
    path.write_text(stale, encoding="utf-8")
    (dataset,) = load_contract(path, dictionary)
    received = [c.physical_name for c in dataset.columns]
    rules = _validate(tmp_path, dataset, _conformed(dataset, 3), received)
    freshness = rules["freshness"]
    assert not freshness.success
    assert freshness.detail == "newest opened 2026-09-01 00:00:00; expected no older than 2026-09-30 00:00:00"


def test_datahub_check_notes_ignored_columns_and_what_columns_closed_would_warn_of(
    tmp_path: Path, dictionary: Dictionary
) -> None:
    from datahub.precheck import check_file

    dataset = _dataset(tmp_path, dictionary, ignored=["内部备注"])
    rows = [{"SRRecordID": "SR1", "工单编号": "R1", "内部备注": "x"}]
    result = check_file(_write(tmp_path / "requests.csv", "csv", rows), dataset, dictionary)
    assert result.notes == [
        "columns ignored as the contract allows: 内部备注",
        "columns_closed would warn: missing: 受理时间, 日期, Closed Date, location.street; "
        "order: expected 工单编号, SRRecordID, received SRRecordID, 工单编号",
    ]

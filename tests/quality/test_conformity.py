from __future__ import annotations

import os
import random
from datetime import date, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from pandera.errors import SchemaErrors
from polars.testing import assert_frame_equal

from datahub.contracts import Catalog, Dataset
from datahub.dictionary import Dictionary, ElementType
from datahub.dictionary.validators import is_cn_resident_id
from datahub.quality.conformity import (
    REASONS_COLUMN,
    REASONS_DTYPE,
    ConformResult,
    ConformStats,
    checked_frame,
    conform,
    conform_file,
)
from datahub.quality.reasons import Reason
from datahub.quality.schema import (
    CHECKED_REASONS,
    FAILURES_SCHEMA,
    _resident_ids_valid,
    conformity_schema,
    failures,
    typed_dtype,
    typed_name,
)
from tests.hotline_rows import VALID_PHONE, valid_row


def _raw(rows: list[dict[str, str]]) -> pl.DataFrame:
    frame = pl.DataFrame(rows, schema=dict.fromkeys(rows[0], pl.String))
    return frame.with_columns(pl.int_range(1, frame.height + 1).alias("_row_number"))


def test_valid_rows_are_conformed_to_unified_names_types_and_codes(
    dictionary: Dictionary, catalog: Catalog
) -> None:
    dataset = catalog.get("hotline_12345")
    row = valid_row(dictionary)
    result = conform(_raw([row]), dataset, dictionary)
    assert result.quarantine.height == 0
    out = result.conformed.row(0, named=True)
    mapping = dictionary.crosswalks["hotline_category"].mapping
    assert out["event_category"] == mapping[row["诉求分类"]]
    assert out["district_code"] in dictionary.codes("district")
    assert out["report_time"] == datetime(2026, 10, 1, 8, 23, 11)
    assert out["satisfaction"] == 5
    assert out["is_resolved"] is True
    assert out["_row_number"] == 1


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("联系电话", "１３８１２３４５６７８"),  # full-width digits
        ("联系电话", "138-1234-5678"),  # dashes
        ("联系电话", "138 1234 5678"),  # spaces
        ("联系电话", "+86 13812345678"),  # country code
        ("身份证号", "11010519491231002x"),  # lower-case check character
        ("受理时间", "2026-10-01T08:23:11+08:00"),  # ISO with offset
        ("受理时间", "2026年10月01日 08:23"),
        ("满意度", " 5 "),
        ("满意度", "5.0"),
        ("身份证号", ""),  # optional
    ],
)
def test_messy_but_valid_values_are_accepted(
    dictionary: Dictionary, catalog: Catalog, header: str, value: str
) -> None:
    row = valid_row(dictionary) | {header: value}
    result = conform(_raw([row]), catalog.get("hotline_12345"), dictionary)
    assert result.quarantine.height == 0, result.quarantine.get_column(REASONS_COLUMN).to_list()


def test_traditional_district_alias_resolves(dictionary: Dictionary, catalog: Catalog) -> None:
    district = next(c for c in dictionary.codes("district").values() if c.attributes.get("aliases"))
    alias = district.attributes["aliases"].split("|")[0]
    street = next(c for c in dictionary.codes("street").values() if c.parent == district.code)
    row = valid_row(dictionary) | {"所属区": alias, "所属街道": street.code}
    result = conform(_raw([row]), catalog.get("hotline_12345"), dictionary)
    assert result.conformed.item(0, "district_code") == district.code


def test_repeated_values_are_normalised_once_and_the_raw_frame_is_left_as_it_was(
    dictionary: Dictionary, catalog: Catalog
) -> None:
    district = next(iter(dictionary.codes("district").values()))
    rows = [
        valid_row(dictionary, n) | {"所属区": f" {district.name_zh}", "是否解决": "是 "} for n in range(1, 9)
    ]
    rows[3] |= {"所属区": "\u3000" + district.name_zh}  # an ideographic space: NFKC makes it a space
    raw = _raw(rows)
    before = raw.clone()
    result = conform(raw, catalog.get("hotline_12345"), dictionary)
    assert result.quarantine.height == 0
    assert set(result.conformed.get_column("district_code")) == {district.code}
    assert result.conformed.get_column("is_resolved").to_list() == [True] * 8
    assert_frame_equal(raw, before)


@pytest.mark.parametrize(
    ("header", "value", "reason", "column"),
    [
        ("联系电话", "", "missing_required", "caller_phone"),
        ("联系电话", "1381234567", "invalid_format", "caller_phone"),  # ten digits
        ("联系电话", "12812345678", "invalid_format", "caller_phone"),  # no such number plan
        ("身份证号", "110105194912310021", "invalid_format", "caller_id_number"),  # wrong check character
        ("身份证号", "11010519491331002X", "invalid_format", "caller_id_number"),  # month 13
        ("受理时间", "2026-02-30 10:00:00", "invalid_type", "report_time"),
        ("受理时间", "待补录", "invalid_type", "report_time"),
        ("满意度", "9", "out_of_range", "satisfaction"),
        ("满意度", "很好", "invalid_type", "satisfaction"),
        ("诉求分类", "ZZ000", "unmapped_code", "event_category"),
        ("所属区", "火星区", "unknown_code", "district_code"),
        ("是否解决", "也许", "invalid_type", "is_resolved"),
        ("工单编号", "ORDER-1", "invalid_format", "work_order_id"),
    ],
)
def test_each_failure_is_quarantined_with_its_reason(
    dictionary: Dictionary, catalog: Catalog, header: str, value: str, reason: str, column: str
) -> None:
    rows = [valid_row(dictionary, 1), valid_row(dictionary, 2) | {header: value}]
    result = conform(_raw(rows), catalog.get("hotline_12345"), dictionary)
    assert result.conformed.height == 1
    assert result.quarantine.height == 1
    reasons = result.quarantine.item(0, REASONS_COLUMN)
    assert [(r["reason"], r["column"]) for r in reasons] == [(reason, column)]
    assert result.reason_counts == [(reason, column, 1)]
    assert result.quarantine.item(0, "_row_number") == 2


def test_a_row_with_several_failures_lists_them_all(dictionary: Dictionary, catalog: Catalog) -> None:
    row = valid_row(dictionary) | {"联系电话": "123", "满意度": "0", "诉求分类": "nope"}
    result = conform(_raw([row]), catalog.get("hotline_12345"), dictionary)
    reasons = {(r["reason"], r["column"]) for r in result.quarantine.item(0, REASONS_COLUMN)}
    assert reasons == {
        ("invalid_format", "caller_phone"),
        ("out_of_range", "satisfaction"),
        ("unmapped_code", "event_category"),
    }


def test_duplicate_key_quarantines_the_later_row(dictionary: Dictionary, catalog: Catalog) -> None:
    rows = [valid_row(dictionary, 1), valid_row(dictionary, 2), valid_row(dictionary, 1) | {"满意度": "3"}]
    result = conform(_raw(rows), catalog.get("hotline_12345"), dictionary)
    assert result.conformed.get_column("_row_number").to_list() == [1, 2]
    assert result.quarantine.get_column("_row_number").to_list() == [3]
    assert result.reason_counts == [("duplicate_key", "work_order_id", 1)]


def test_keys_already_published_are_duplicates(dictionary: Dictionary, catalog: Catalog) -> None:
    rows = [valid_row(dictionary, 1), valid_row(dictionary, 2)]
    published = pl.DataFrame({"work_order_id": ["GD20261001000002"]})
    result = conform(_raw(rows), catalog.get("hotline_12345"), dictionary, published_keys=published)
    assert result.quarantine.get_column("_row_number").to_list() == [2]


def test_personal_values_in_reasons_are_masked(dictionary: Dictionary, catalog: Catalog) -> None:
    from datahub.privacy.policy import mask_for_quarantine

    bad_phone = "1381234567"
    row = valid_row(dictionary) | {"联系电话": bad_phone}
    result = conform(_raw([row]), catalog.get("hotline_12345"), dictionary, mask_value=mask_for_quarantine)
    value = result.quarantine.item(0, REASONS_COLUMN)[0]["value"]
    assert value != bad_phone
    assert value.endswith(bad_phone[-4:])
    assert VALID_PHONE not in value


def test_rows_are_reconciled(dictionary: Dictionary, catalog: Catalog) -> None:
    rows = [valid_row(dictionary, i) for i in range(10)]
    rows[3] = rows[3] | {"联系电话": "x"}
    rows[7] = rows[7] | {"满意度": "99"}
    result = conform(_raw(rows), catalog.get("hotline_12345"), dictionary)
    assert result.rows_in == 10
    assert (result.conformed.height, result.quarantine.height) == (8, 2)


def test_a_plain_odcs_contract_gets_the_checks_its_standard_fields_imply(
    tmp_path, dictionary: Dictionary
) -> None:  # type: ignore[no-untyped-def]
    from datahub.contracts import load_contract

    path = tmp_path / "plain.odcs.yaml"
    path.write_text(
        """apiVersion: v3.1.0
kind: DataContract
id: plain
version: 1.0.0
status: active
schema:
  - name: requests
    properties:
      - {name: id, logicalType: string, required: true, primaryKey: true,
         logicalTypeOptions: {pattern: "R[0-9]{3}"}}
      - {name: opened, logicalType: timestamp, required: true,
         logicalTypeOptions: {format: "MM/dd/yyyy hh:mm:ss a"}}
      - {name: score, logicalType: number, logicalTypeOptions: {minimum: 0, maximum: 10}}
      - {name: code, logicalType: string, logicalTypeOptions: {minLength: 2, maxLength: 3}}
""",
        encoding="utf-8",
    )
    (dataset,) = load_contract(path, dictionary)
    raw = _raw(
        [
            {"id": "R001", "opened": "03/01/2011 02:27:57 PM", "score": "9.5", "code": "AB"},
            {"id": "X001", "opened": "03/01/2011 02:27:57 PM", "score": "1", "code": "AB"},
            {"id": "R003", "opened": "13/01/2011 02:27:57 PM", "score": "1", "code": "AB"},
            {"id": "R004", "opened": "2011-03-01 14:27:57", "score": "11", "code": "A"},
            {"id": "R001", "opened": "03/01/2011 02:27:57 AM", "score": "1", "code": "ABCD"},
        ]
    )
    result = conform(raw, dataset, dictionary)
    assert result.conformed.get_column("opened").to_list() == [datetime(2011, 3, 1, 14, 27, 57)]
    reasons = {
        (row["_row_number"], r["reason"], r["column"])
        for row in result.quarantine.iter_rows(named=True)
        for r in row[REASONS_COLUMN]
    }
    assert reasons == {
        (2, "invalid_format", "id"),
        (3, "invalid_type", "opened"),
        (4, "out_of_range", "score"),
        (4, "out_of_range", "code"),
        (5, "out_of_range", "code"),
        (5, "duplicate_key", "id"),
    }


# --------------------------------------------------------------------------- the pandera schema


def test_every_contract_gets_a_schema_from_its_contract_and_the_dictionary(
    dictionary: Dictionary, catalog: Catalog
) -> None:
    for dataset in catalog:
        schema = conformity_schema(dataset, dictionary)
        label = "|".join(dataset.key_columns)
        expected = {c.name for c in dataset.columns} | {typed_name(c.name) for c in dataset.columns} | {label}
        assert set(schema.columns) == expected, dataset.name
        for column in dataset.columns:
            checks = [check.name for check in schema.columns[column.name].checks]
            assert set(checks) <= set(CHECKED_REASONS), (dataset.name, column.name)
            assert (Reason.missing_required in checks) == column.required
            if column.crosswalk:
                assert Reason.unmapped_code in checks
            elif column.code_table:
                assert Reason.unknown_code in checks
            elif column.type is not ElementType.string:
                assert Reason.invalid_type in checks
            elif column.patterns or (column.element and column.element.validator):
                assert Reason.invalid_format in checks
            typed = schema.columns[typed_name(column.name)]
            assert typed.dtype.type == typed_dtype(column)
            assert not typed.checks
        assert [c.name for c in schema.columns[label].checks][-1] == Reason.duplicate_key
        # An empty delivery with every column passes its own schema.
        raw = pl.DataFrame(schema=dict.fromkeys((c.physical_name for c in dataset.columns), pl.String))
        assert failures(checked_frame(raw, dataset, dictionary), schema).is_empty()


def test_failure_cases_map_onto_every_reason(dictionary: Dictionary, catalog: Catalog) -> None:
    dataset = catalog.get("hotline_12345")
    rows = [
        valid_row(dictionary, 1),
        valid_row(dictionary, 2) | {"联系电话": ""},
        valid_row(dictionary, 3) | {"受理时间": "待补录"},
        valid_row(dictionary, 4) | {"身份证号": "110105194912310021"},
        valid_row(dictionary, 5) | {"满意度": "9"},
        valid_row(dictionary, 6) | {"所属区": "火星区"},
        valid_row(dictionary, 7) | {"诉求分类": "ZZ000"},
        valid_row(dictionary, 1),
        valid_row(dictionary, 8),
        valid_row(dictionary, 9) | {"受理时间": "45579.25"},
        valid_row(dictionary, 10) | {"受理时间": "10/11/2026 08:00"},
    ]
    published = pl.DataFrame({"work_order_id": ["GD20261001000008"]})
    schema = conformity_schema(dataset, dictionary, published_keys=published)
    cases = failures(checked_frame(_raw(rows), dataset, dictionary), schema)
    assert cases.schema == FAILURES_SCHEMA
    assert cases.select("index", "column", "reason").rows() == [
        (1, "caller_phone", "missing_required"),
        (2, "report_time", "invalid_type"),
        (3, "caller_id_number", "invalid_format"),
        (4, "satisfaction", "out_of_range"),
        (5, "district_code", "unknown_code"),
        (6, "event_category", "unmapped_code"),
        (7, "work_order_id", "duplicate_key"),
        (8, "work_order_id", "duplicate_key"),
        (9, "report_time", "spreadsheet_serial"),
        (10, "report_time", "ambiguous_date"),
    ]
    # The hotline has no unique column but its key (tests/quality/test_hostile_values.py has one).
    assert set(cases.get_column("reason")) == set(CHECKED_REASONS) - {Reason.duplicate_value}


def test_a_frame_the_schema_does_not_describe_is_an_error(dictionary: Dictionary, catalog: Catalog) -> None:
    dataset = catalog.get("hotline_12345")
    frame = checked_frame(_raw([valid_row(dictionary)]), dataset, dictionary)
    broken = frame.with_columns(pl.col(typed_name("satisfaction")).cast(pl.String))
    with pytest.raises(SchemaErrors):
        failures(broken, conformity_schema(dataset, dictionary))


def test_resident_ids_are_checked_as_the_validator_checks_them() -> None:
    rng = random.Random(11)
    values: list[str | None] = [
        None,
        "",
        "11010519491231002X",
        "11010519491231002x",
        "110105194912310021",
        "11010519491331002X",  # month 13
        "110105190002290015",  # 1900 was no leap year
        "110105200002290011",
        "000000194912310021",  # no such region
        "11010500000101001X",  # year 0
        "1101051949123100",
        "ABCDEFGHIJKLMNOPQR",
        "\u0661" * 18,  # Arabic-Indic digits are digits to Python
        " 11010519491231002X",
    ]
    for _ in range(3000):
        region = rng.choice(["110105", "440305", "310101", "999999"])
        year = rng.choice([1900, 1949, 1996, 2000, 2024, 2100])
        born = f"{year:04d}{rng.randint(0, 13):02d}{rng.randint(0, 32):02d}"
        body = f"{region}{born}{rng.randint(0, 999):03d}"
        values.append(body + rng.choice("0123456789X"))
    got = _resident_ids_valid(pl.Series(values, dtype=pl.String)).to_list()
    assert got == [v is not None and is_cn_resident_id(v) for v in values]
    assert any(got) and not all(got)


def test_a_timestamp_takes_the_first_format_that_parses_it(dictionary: Dictionary, catalog: Catalog) -> None:
    from datahub.quality.conformity import _parse_temporal, _parser, _temporal_formats

    column = catalog.get("hotline_12345").column("report_time")
    rng = random.Random(5)
    written = [
        "2026/10/01 08:23:11",
        "2026-10-01 08:23:11",
        "2026-10-01T08:23:11",
        "2026-10-01 08:23:11.250",
        "2026年10月01日 08:23",
        "2026-10-01T08:23:11+08:00",
        "2026-02-30 10:00:00",
        "待补录",
        None,
    ]
    # Mostly one format, as a department writes it, with every other form sprinkled in.
    values = [rng.choice(written) if rng.random() < 0.2 else "2026/10/01 08:23:11" for _ in range(400)]
    text = pl.Series(values, dtype=pl.String)
    first_that_parses = text.to_frame("v").select(
        pl.coalesce(_parser(f, column.type) for f in _temporal_formats(column))
    )
    assert _parse_temporal(text, column).to_list() == first_that_parses.to_series().to_list()


# --------------------------------------------------------------------------- conform_file in batches


def _messy_rows(dictionary: Dictionary) -> list[dict[str, str]]:
    rows = [valid_row(dictionary, n) for n in range(1, 41)]
    rows[3] |= {"联系电话": "123"}
    rows[5] |= {"满意度": "0", "诉求分类": "nope"}
    rows[8] = valid_row(dictionary, 2) | {"满意度": "3"}  # first occurrence in the first batch of 7
    rows[9] |= {"受理时间": "2026-10-01T08:23:11+08:00"}
    rows[15] = valid_row(dictionary, 4)  # the key of a row quarantined for its phone
    rows[22] |= {"工单编号": "GD20261001000005", "所属区": "火星区"}
    rows[30] |= {"身份证号": "110105194912310021", "来电人": ""}
    rows[35] = valid_row(dictionary, 36)
    rows[36] = valid_row(dictionary, 36)
    rows[39] |= {"工单编号": ""}
    return rows


def _conform_both_ways(
    tmp_path: Path, raw: pl.DataFrame, dataset: Dataset, dictionary: Dictionary, **options: Any
) -> tuple[ConformResult, ConformStats, pl.DataFrame, pl.DataFrame]:
    raw_path = tmp_path / "raw.parquet"
    raw.write_parquet(raw_path)
    stats = conform_file(
        raw_path,
        dataset,
        dictionary,
        conformed_path=tmp_path / "out" / "conformed.parquet",
        quarantine_path=tmp_path / "out" / "quarantine.parquet",
        batch_rows=7,
        whole_file_rows=0,  # force batches
        **options,
    )
    whole = conform(raw, dataset, dictionary, **options)
    conformed = pl.read_parquet(tmp_path / "out" / "conformed.parquet")
    quarantine = pl.read_parquet(tmp_path / "out" / "quarantine.parquet")
    return whole, stats, conformed, quarantine


def test_conform_file_in_batches_is_conform_on_the_whole_file(
    tmp_path: Path, dictionary: Dictionary, catalog: Catalog
) -> None:
    from datahub.privacy.policy import mask_for_quarantine

    dataset = catalog.get("hotline_12345")
    raw = _raw(_messy_rows(dictionary))
    published = pl.DataFrame({"work_order_id": ["GD20261001000033"]})
    whole, stats, conformed, quarantine = _conform_both_ways(
        tmp_path, raw, dataset, dictionary, published_keys=published, mask_value=mask_for_quarantine
    )
    assert_frame_equal(conformed, whole.conformed)
    assert_frame_equal(quarantine, whole.quarantine)
    assert stats == ConformStats(
        rows_in=40,
        rows_conformed=whole.conformed.height,
        rows_quarantined=whole.quarantine.height,
        reason_counts=whole.reason_counts,
    )
    duplicates = quarantine.filter(
        pl.col(REASONS_COLUMN).list.eval(pl.element().struct.field("reason") == "duplicate_key").list.any()
    )
    assert duplicates.get_column("_row_number").to_list() == [9, 16, 23, 33, 37]
    assert quarantine.get_column("_row_number").to_list() == [4, 6, 9, 16, 23, 31, 33, 37, 40]
    assert sorted(os.listdir(tmp_path / "out")) == ["conformed.parquet", "quarantine.parquet"]


def test_conform_file_writes_the_same_schema_when_nothing_is_quarantined(
    tmp_path: Path, dictionary: Dictionary, catalog: Catalog
) -> None:
    dataset = catalog.get("hotline_12345")
    raw = _raw([valid_row(dictionary, n) for n in range(1, 10)])
    whole, stats, conformed, quarantine = _conform_both_ways(tmp_path, raw, dataset, dictionary)
    assert (stats.rows_in, stats.rows_conformed, stats.rows_quarantined) == (9, 9, 0)
    assert_frame_equal(conformed, whole.conformed)
    assert quarantine.is_empty()
    assert quarantine.schema == {**raw.schema, REASONS_COLUMN: REASONS_DTYPE}


def test_conform_file_of_an_empty_raw_file(tmp_path: Path, dictionary: Dictionary, catalog: Catalog) -> None:
    dataset = catalog.get("hotline_12345")
    raw = _raw([valid_row(dictionary)]).clear()
    whole, stats, conformed, quarantine = _conform_both_ways(tmp_path, raw, dataset, dictionary)
    assert stats == ConformStats(rows_in=0, rows_conformed=0, rows_quarantined=0, reason_counts=[])
    assert conformed.schema == whole.conformed.schema
    assert quarantine.schema == whole.quarantine.schema


def test_conform_file_leaves_nothing_behind_when_it_fails(
    tmp_path: Path, dictionary: Dictionary, catalog: Catalog
) -> None:
    def failing_mask(column: Any, values: pl.Series) -> pl.Series:
        raise RuntimeError("masking is down")

    raw = _raw(_messy_rows(dictionary))
    with pytest.raises(RuntimeError, match="masking is down"):
        _conform_both_ways(tmp_path, raw, catalog.get("hotline_12345"), dictionary, mask_value=failing_mask)
    assert os.listdir(tmp_path / "out") == []


def test_composite_keys_are_duplicates_across_batches(tmp_path: Path, dictionary: Dictionary) -> None:
    from datahub.contracts import load_contract

    path = tmp_path / "stock.odcs.yaml"
    path.write_text(
        """apiVersion: v3.1.0
kind: DataContract
id: stock
version: 1.0.0
status: active
schema:
  - name: stock
    properties:
      - {name: site, logicalType: string, required: true, primaryKey: true, primaryKeyPosition: 1}
      - {name: day, logicalType: date, required: true, primaryKey: true, primaryKeyPosition: 2}
      - {name: count, logicalType: integer, logicalTypeOptions: {minimum: 0}}
""",
        encoding="utf-8",
    )
    (dataset,) = load_contract(path, dictionary)
    days = ["2026-10-01", "2026/10/02", "2026-10-03"]
    rows = [{"site": f"S{n}", "day": days[n % 3], "count": str(n)} for n in range(20)]
    rows[17] = {"site": "S1", "day": "2026-10-02", "count": "-1"}  # row 2's key, written another way
    rows[18] = {"site": "S1", "day": "", "count": "1"}
    published = pl.DataFrame({"site": ["S0"], "day": [date(2026, 10, 1)]})
    whole, stats, conformed, quarantine = _conform_both_ways(
        tmp_path, _raw(rows), dataset, dictionary, published_keys=published
    )
    assert_frame_equal(conformed, whole.conformed)
    assert_frame_equal(quarantine, whole.quarantine)
    assert stats.reason_counts == whole.reason_counts
    reasons = {
        (row["_row_number"], r["reason"], r["column"], r["value"])
        for row in quarantine.iter_rows(named=True)
        for r in row[REASONS_COLUMN]
    }
    assert (18, "duplicate_key", "site|day", "S1|2026-10-02") in reasons
    assert (18, "out_of_range", "count", "-1") in reasons
    assert (19, "missing_required", "day", "") in reasons
    assert (1, "duplicate_key", "site|day", "S0|2026-10-01") in reasons

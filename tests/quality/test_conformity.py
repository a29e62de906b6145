from __future__ import annotations

from datetime import datetime

import polars as pl
import pytest

from datahub.contracts import Catalog
from datahub.dictionary import Dictionary
from datahub.quality.conformity import REASONS_COLUMN, conform
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

"""The ``partitioning`` custom property of a schema object: the lake table's partition spec."""

from __future__ import annotations

import re
from typing import Any

import pytest

from datahub.contracts.loader import contract_datasets
from datahub.contracts.model import PartitionField
from datahub.contracts.yaml_io import load_yaml
from datahub.dictionary import Dictionary
from datahub.errors import ContractError
from tests.conftest import ROOT

HOTLINE = ROOT / "contracts" / "hotline_12345.odcs.yaml"


def with_partitioning(dictionary: Dictionary, value: Any) -> tuple[PartitionField, ...]:
    raw = load_yaml(HOTLINE)
    raw["schema"][0]["customProperties"] = [{"property": "partitioning", "value": value}]
    [dataset] = contract_datasets(raw, HOTLINE, dictionary)
    return dataset.partitioning


def test_no_partitioning_unless_declared(dictionary: Dictionary) -> None:
    [dataset] = contract_datasets(load_yaml(HOTLINE), HOTLINE, dictionary)
    assert dataset.partitioning == ()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ([{"column": "report_time", "transform": "month"}], (PartitionField("report_time", "month"),)),
        (  # a district and the day of the event
            [
                {"column": "district_code", "transform": "identity"},
                {"column": "report_time", "transform": "day"},
            ],
            (PartitionField("district_code", "identity"), PartitionField("report_time", "day")),
        ),
        (
            [{"column": "work_order_id", "transform": "bucket[16]"}],
            (PartitionField("work_order_id", "bucket[16]"),),
        ),
    ],
)
def test_declared_partitioning_is_read(dictionary: Dictionary, value: Any, expected: tuple) -> None:
    assert with_partitioning(dictionary, value) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("report_time", "partitioning must be a list"),  # not a list
        ([], "partitioning must be a list"),  # empty
        ([{"column": "report_time"}], "each partition field is {column, transform}"),  # no transform
        ([{"column": "report_time", "transform": "month", "x": 1}], "each partition field is"),  # unknown key
        ([{"column": "受理时间", "transform": "month"}], "unknown column '受理时间'"),  # the physical name
        ([{"column": ["report_time"], "transform": "month"}], "unknown column"),  # not a name
        ([{"column": "report_time", "transform": "quarter"}], "unknown transform 'quarter'"),
        ([{"column": "report_time", "transform": "bucket[0]"}], "unknown transform 'bucket[0]'"),
        ([{"column": "district_code", "transform": "month"}], "needs a date or timestamp column"),
        (
            [
                {"column": "report_time", "transform": "month"},
                {"column": "report_time", "transform": "month"},
            ],
            "given twice",
        ),
    ],
)
def test_a_partitioning_the_lake_cannot_use_is_refused(
    dictionary: Dictionary, value: Any, message: str
) -> None:
    with pytest.raises(ContractError, match=re.escape(message)) as caught:
        with_partitioning(dictionary, value)
    assert caught.value.path is not None and caught.value.path.startswith(
        "schema[0].customProperties.partitioning"
    )


def test_partitioning_is_read_on_a_schema_object_only(dictionary: Dictionary) -> None:
    raw = load_yaml(HOTLINE)
    raw["customProperties"].append({"property": "partitioning", "value": []})
    with pytest.raises(ContractError, match="it is read on a schema object"):
        contract_datasets(raw, HOTLINE, dictionary)

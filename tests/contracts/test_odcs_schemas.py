"""Each contract is validated against the ODCS JSON Schema of its own ``apiVersion`` (issue 16, item 17),
shipped inside the package and corrected where upstream is buggy (datahub/contracts/schemas/README.md)."""

from __future__ import annotations

import json
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from datahub.contracts.lint import ODCS_SCHEMAS, lint_document
from datahub.contracts.yaml_io import load_yaml
from datahub.dictionary import Dictionary
from tests.conftest import ROOT, SHARED_DATA

EXAMPLES = sorted((SHARED_DATA / "odcs" / "examples").rglob("*.odcs.yaml"))
# Upstream examples that declare v3.0.2 but use what v3.1.0 added: they fail the v3.0.2 schema.
NOT_THEIR_VERSION = {
    "all-data-types.odcs.yaml": "'timestamp' is not one of",  # logicalType timestamp came in v3.1.0
    "column-completeness.odcs.yaml": "'rule' is a required property",  # v3.0.x library rules need `rule`
    "basic-four-dpo.odcs.yaml": "is not of type 'array'",  # `team` as an object came in v3.1.0
}
SHIPPED = resources.files("datahub.contracts") / "schemas"


def schema_problems(doc: dict[str, Any], dictionary: Dictionary) -> list[str]:
    """What the lint says of ``doc`` from the JSON Schema (and of its apiVersion), as ``path: reason``."""
    problems = lint_document(doc, "c.odcs.yaml", dictionary)
    return [f"{p.entry}: {p.reason}" for p in problems if p.reason.startswith("ODCS")]


def contract(api_version: Any = "v3.2.0", **fields: Any) -> dict[str, Any]:
    doc = {
        "apiVersion": api_version,
        "kind": "DataContract",
        "id": "c",
        "version": "1.0.0",
        "status": "active",
    }
    return {k: v for k, v in {**doc, **fields}.items() if v is not None}


def test_there_are_examples_of_every_kind() -> None:
    assert len(EXAMPLES) >= 15
    assert {load_yaml(p)["apiVersion"] for p in EXAMPLES} >= {"v3.0.0", "v3.0.2", "v3.1.0"}


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_upstream_examples_validate_against_the_schema_of_their_own_version(
    path: Path, dictionary: Dictionary
) -> None:
    doc = load_yaml(path)
    problems = schema_problems(doc, dictionary)
    if path.name in NOT_THEIR_VERSION:
        assert any(NOT_THEIR_VERSION[path.name] in p for p in problems), problems
        assert schema_problems({**doc, "apiVersion": "v3.1.0"}, dictionary) == []
    else:
        assert problems == []


PROPERTY_WITHOUT_LOGICAL_TYPE = [{"name": "t", "properties": [{"name": "a", "physicalType": "varchar"}]}]


@pytest.mark.parametrize("api_version", list(ODCS_SCHEMAS))
def test_a_property_without_logical_type_is_valid(api_version: str, dictionary: Dictionary) -> None:
    """Upstream's v3.2.0 schema says `'map' is a required property` here (corrected)."""
    doc = contract(api_version, schema=PROPERTY_WITHOUT_LOGICAL_TYPE)
    assert schema_problems(doc, dictionary) == []


def test_a_map_property_still_needs_its_map(dictionary: Dictionary) -> None:
    doc = contract(schema=[{"name": "t", "properties": [{"name": "a", "logicalType": "map"}]}])
    assert schema_problems(doc, dictionary) == [
        "schema[0].properties[0]: ODCS schema v3.2.0: 'map' is a required property"
    ]


def test_status_is_required_up_to_v310_and_optional_from_v320(dictionary: Dictionary) -> None:
    assert schema_problems(contract("v3.1.0", status=None), dictionary) == [
        "-: ODCS schema v3.1.0: 'status' is a required property"
    ]
    assert schema_problems(contract("v3.2.0", status=None), dictionary) == []


# v3.0.x schemas let a server carry keys its type does not list; from v3.1.0 those are refused.
SERVER_30 = [
    {"server": "events", "type": "kafka", "host": "k:9092", "topic": "t", "format": "json"},
    {
        "server": "db",
        "type": "postgres",
        "host": "h",
        "port": 5432,
        "database": "d",
        "schema": "s",
        "format": "csv",
        "delimiter": "new_line",
    },
]


@pytest.mark.parametrize("api_version", ["v3.0.0", "v3.0.1", "v3.0.2"])
def test_v30_server_fields_are_valid_in_v30_contracts(api_version: str, dictionary: Dictionary) -> None:
    assert schema_problems(contract(api_version, servers=SERVER_30), dictionary) == []


def test_v30_server_fields_are_refused_from_v310(dictionary: Dictionary) -> None:
    problems = schema_problems(contract("v3.1.0", servers=SERVER_30), dictionary)
    assert any("'topic'" in p for p in problems), problems
    assert any("'format'" in p and "'delimiter'" in p for p in problems), problems


@pytest.mark.parametrize("api_version", ["v2.2.2", "v3.3.0", "3.1.0", 3.1, None])
def test_an_unknown_api_version_lists_the_supported_ones(api_version: Any, dictionary: Dictionary) -> None:
    (problem,) = schema_problems(contract(api_version), dictionary)
    assert problem.startswith("apiVersion: ODCS version ")
    assert problem.endswith("supported: v3.0.0, v3.0.1, v3.0.2, v3.1.0, v3.2.0")


def test_every_supported_version_has_a_shipped_schema_in_the_package_data() -> None:
    for name in set(ODCS_SCHEMAS.values()):
        assert json.loads((SHIPPED / name).read_text(encoding="utf-8"))["$schema"]
    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"][
        "package-data"
    ]
    assert "schemas/*.json" in package_data["datahub.contracts"]


def test_each_shipped_schema_accepts_its_own_version(dictionary: Dictionary) -> None:
    for api_version, name in ODCS_SCHEMAS.items():
        enum = json.loads((SHIPPED / name).read_text(encoding="utf-8"))["properties"]["apiVersion"]["enum"]
        assert api_version in enum, name


def test_the_shipped_v320_schema_differs_from_upstream_only_by_the_documented_correction() -> None:
    upstream = json.loads((resources.files("open_data_contract_standard") / "schema.json").read_text("utf-8"))
    shipped = json.loads((SHIPPED / "odcs-json-schema-v3.2.0.json").read_text(encoding="utf-8"))
    for rule in upstream["$defs"]["SchemaBaseProperty"]["allOf"]:
        if rule.get("if") == {"properties": {"logicalType": {"const": "map"}}}:
            rule["if"]["required"] = ["logicalType"]
    assert shipped == upstream


def test_the_shipped_v302_and_v310_schemas_are_the_standards_own() -> None:
    """As the standard's repository has them (its v3.1.0 file has since marked `dataProduct` deprecated)."""
    official = SHARED_DATA / "odcs" / "schema"
    v302 = json.loads((official / "odcs-json-schema-v3.0.2.json").read_text(encoding="utf-8"))
    assert json.loads((SHIPPED / "odcs-json-schema-v3.0.2.json").read_text(encoding="utf-8")) == v302
    v310 = json.loads((official / "odcs-json-schema-v3.1.0.json").read_text(encoding="utf-8"))
    data_product = v310["properties"]["dataProduct"]
    del data_product["deprecated"]
    data_product["description"] = data_product["description"].removesuffix(" DEPRECATED since v3.1.0.")
    assert json.loads((SHIPPED / "odcs-json-schema-v3.1.0.json").read_text(encoding="utf-8")) == v310

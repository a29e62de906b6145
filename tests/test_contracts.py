"""Contracts: every contract validates against the official ODCS JSON Schema and loads with the dictionary."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import jsonschema
import pytest

from datahub.contracts import Catalog, Desensitise, SharingClass, load_contract
from datahub.contracts.yaml_io import load_yaml
from datahub.dictionary import Dictionary
from datahub.errors import ContractError, NotFound
from datahub.synth.model import DATASETS
from tests.conftest import ROOT, SHARED_DATA

CONTRACTS = sorted((ROOT / "contracts").glob("*.odcs.yaml"))
SCHEMAS = {
    "v3.1.0": SHARED_DATA / "odcs" / "schema" / "odcs-json-schema-v3.1.0.json",
    "v3.2.0 (package)": Path(str(resources.files("open_data_contract_standard") / "schema.json")),
}


@pytest.mark.parametrize("schema_name", SCHEMAS)
@pytest.mark.parametrize("path", CONTRACTS, ids=lambda p: p.name)
def test_contract_validates_against_official_schema(path: Path, schema_name: str) -> None:
    schema = json.loads(SCHEMAS[schema_name].read_text(encoding="utf-8"))
    validator = jsonschema.validators.validator_for(schema)(schema)
    errors = [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(load_yaml(path))]
    assert errors == []


def test_catalog_has_the_seven_department_datasets(catalog: Catalog) -> None:
    assert set(catalog.names) >= set(DATASETS)
    for dataset in catalog:
        assert dataset.key_columns, dataset.name
        assert dataset.owner_department is not None
    for name in DATASETS:  # the city's own departments describe every column by the dictionary
        assert all(c.element is not None for c in catalog.get(name).columns), name


def test_plain_odcs_contract_gets_safe_defaults(tmp_path: Path, dictionary: Dictionary) -> None:
    path = tmp_path / "plain.odcs.yaml"
    path.write_text(
        "apiVersion: v3.1.0\nkind: DataContract\nid: plain\nversion: 1.0.0\nstatus: active\n"
        "schema:\n  - name: plain_table\n    properties:\n"
        "      - {name: id, logicalType: integer, primaryKey: true, required: true}\n"
        "      - {name: note, logicalType: string}\n",
        encoding="utf-8",
    )
    (dataset,) = load_contract(path, dictionary)
    assert dataset.sharing_class is SharingClass.conditional
    assert dataset.column("note").desensitise is Desensitise.scan
    assert dataset.column("id").desensitise is Desensitise.keep
    assert dataset.key_columns == ("id",)


@pytest.mark.parametrize(
    ("snippet", "message"),
    [
        (
            "customProperties: [{property: dictionaryElement, value: no_such_element}]",
            "unknown dictionary element",
        ),
        ("customProperties: [{property: crosswalk, value: no_such_crosswalk}]", "unknown crosswalk"),
        ("customProperties: [{property: desensitise, value: shred}]", "unknown desensitise method"),
    ],
)
def test_broken_references_name_file_and_path(
    tmp_path: Path, dictionary: Dictionary, snippet: str, message: str
) -> None:
    path = tmp_path / "broken.odcs.yaml"
    path.write_text(
        "apiVersion: v3.1.0\nkind: DataContract\nid: broken\nversion: 1.0.0\nstatus: active\n"
        "schema:\n  - name: t\n    properties:\n      - name: c\n        logicalType: string\n"
        f"        {snippet}\n",
        encoding="utf-8",
    )
    with pytest.raises(ContractError) as info:
        load_contract(path, dictionary)
    assert message in str(info.value)
    assert info.value.file == str(path)
    assert info.value.path == "schema[0].properties[0] c"


def test_unknown_dataset_names_the_known_ones(catalog: Catalog) -> None:
    with pytest.raises(NotFound) as info:
        catalog.get("nope")
    assert "hotline_12345" in str(info.value)


def test_personal_class_can_be_declared_without_a_dictionary_element(catalog: Catalog) -> None:
    from datahub.dictionary import PersonalClass

    address = catalog.get("nyc311_requests").column("incident_address")
    assert address.element is None
    assert address.personal_class is PersonalClass.quasi_identifier
    assert address.desensitise is Desensitise.mask
    phone = catalog.get("hotline_12345").column("caller_phone")
    assert phone.personal_class is PersonalClass.direct_identifier  # from the dictionary element

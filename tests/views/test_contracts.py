"""The view contracts: they lint, load with the dictionary, declare exactly the columns the views
publish, and stay out of the dataset catalog."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from datahub.cli import app
from datahub.contracts import Catalog, Desensitise, SharingClass, load_contract
from datahub.contracts.lint import lint_file
from datahub.dictionary import Dictionary, ElementType, PersonalClass
from datahub.platform import Platform
from datahub.views import VIEW_SCHEMAS, view_contracts
from tests.conftest import ROOT

VIEW_CONTRACTS = sorted((ROOT / "contracts" / "views").glob("*.odcs.yaml"))
TYPES = {
    ElementType.string: {pl.String, pl.List(pl.String)},
    ElementType.integer: {pl.Int64},
    ElementType.decimal: {pl.Float64},
    ElementType.timestamp: {pl.Datetime("us")},
    ElementType.date: {pl.Date},
    ElementType.boolean: {pl.Boolean},
}


def test_one_contract_per_view() -> None:
    assert sorted(p.name.removesuffix(".odcs.yaml") for p in VIEW_CONTRACTS) == sorted(VIEW_SCHEMAS)


def test_the_view_contracts_lint(
    dictionary: Dictionary, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATAHUB_HOME", str(tmp_path / "var"))
    result = CliRunner().invoke(app, ["contract", "lint", *map(str, VIEW_CONTRACTS)])
    assert result.exit_code == 0, result.output
    assert result.output.count("✓") == len(VIEW_CONTRACTS)
    for path in VIEW_CONTRACTS:
        assert lint_file(path, dictionary) == [], path


@pytest.mark.parametrize("path", VIEW_CONTRACTS, ids=lambda p: p.name)
def test_contract_declares_the_published_columns(path: Path, dictionary: Dictionary) -> None:
    (view,) = load_contract(path, dictionary)
    schema = VIEW_SCHEMAS[view.name]
    assert [c.name for c in view.columns] == list(schema)
    for column in view.columns:
        assert schema[column.name] in TYPES[column.type], column.name
    assert view.owner_department == "OC"


def test_sharing_classes_and_personal_columns(dictionary: Dictionary) -> None:
    views = {d.name: d for p in VIEW_CONTRACTS for d in load_contract(p, dictionary)}
    assert views["events_unified"].sharing_class is SharingClass.conditional
    for name in ("event_kpis_daily", "resources_available", "sensor_alerts"):
        assert views[name].sharing_class is SharingClass.unconditional, name
        assert all(c.personal_class is PersonalClass.none for c in views[name].columns), name
    events = views["events_unified"]
    token = events.column("reporter_token")
    assert (token.personal_class, token.desensitise) == (
        PersonalClass.direct_identifier,
        Desensitise.pseudonym,
    )
    address = events.column("address")
    assert (address.personal_class, address.desensitise) == (
        PersonalClass.quasi_identifier,
        Desensitise.generalise,
    )
    assert events.column("description").desensitise is Desensitise.scan
    assert events.key_columns == ("event_id",)


def test_views_are_not_datasets(platform: Platform, catalog: Catalog) -> None:
    assert set(view_contracts(platform)) == set(VIEW_SCHEMAS)
    assert not set(VIEW_SCHEMAS) & set(catalog.names)


def test_every_category_declares_a_response_level(dictionary: Dictionary) -> None:
    levels = set(dictionary.codes("response_level"))
    categories = dictionary.codes("event_category").values()
    assert {c.attributes.get("response_level") for c in categories} <= levels
    assert {c.attributes["response_level"] for c in categories} == levels  # every level is used
    assert dictionary.codes("event_category")["0401"].attributes["response_level"] == "red"  # 火灾

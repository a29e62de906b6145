"""`generalise` on addresses that are not Chinese (real Boston and New York 311 exports): the street without
its house number, then the locality with the postcode cut; never the value as delivered, never nothing
when something safe is left. And the contract lint warns when an address's examples are not Chinese."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
import yaml
from typer.testing import CliRunner

from datahub.cli import app as cli
from datahub.contracts import load_contract
from datahub.contracts.lint import lint_file
from datahub.contracts.registry import ContractRegistry
from datahub.dictionary import Dictionary
from datahub.platform import Platform
from datahub.privacy.kanonymity import SUPPRESSED, address_generaliser
from datahub.privacy.policy import desensitise
from tests.conftest import ROOT, SHARED_DATA

BOSTON = SHARED_DATA / "service_requests" / "boston311" / "boston311-100.csv"
NYC = SHARED_DATA / "service_requests" / "nyc311" / "nyc311_2011_sample_2000.csv"


def _boston() -> pl.Series:
    return pl.read_csv(BOSTON, infer_schema=False).get_column("location").str.strip_chars().replace("", None)


@pytest.mark.parametrize(
    ("address", "street", "locality"),
    [
        # Boston 311 `location`: street, neighbourhood, state and ZIP separated by two spaces.
        ("42 Cross St  Boston  MA  02113", "Cross St, Boston, MA, 02113", "Boston, MA, 021**"),
        (
            "2000A Washington St  Roxbury  MA  02118",
            "Washington St, Roxbury, MA, 02118",
            "Roxbury, MA, 021**",
        ),
        (
            "202-204 Bremen St  East Boston  MA  02128",
            "Bremen St, East Boston, MA, 02128",
            "East Boston, MA, 021**",
        ),
        (
            "202 W Broadway   South Boston  MA  02127",
            "W Broadway, South Boston, MA, 02127",
            "South Boston, MA, 021**",
        ),
        # No house number: the street line may name a place, so only the locality stays.
        ("INTERSECTION of High St & Congress St  Boston  MA", "Boston, MA", "Boston, MA"),
        # New York 311 `Incident Address`: a street line alone (a numbered street keeps its number).
        ("186 25 STREET", "25 STREET", None),
        ("10 SHERIDAN SQUARE", "SHERIDAN SQUARE", None),
        ("NEW YORK", None, None),
        # Comma-separated, with a unit; a house number after the street; a part that is no locality.
        ("123 Main St Apt 4B, Boston, MA 02118", "Main St, Boston, MA 02118", "Boston, MA 021**"),
        ("Hauptstraße 5, 10115 Berlin", "Hauptstraße, 10115 Berlin", "101** Berlin"),
        ("Flat 3, 12 High Street, London", "London", "London"),
        # Chinese addresses keep their own ladder.
        ("北京市朝阳区建国路88号", "北京市朝阳区建国路", "北京市朝阳区"),
        ("88号", None, None),
    ],
)
def test_a_foreign_address_keeps_its_street_then_its_locality(
    address: str, street: str | None, locality: str | None
) -> None:
    values = pl.Series("address", [address])
    generaliser = address_generaliser()
    assert generaliser.apply(values, 1).to_list() == [street]
    assert generaliser.apply(values, 2).to_list() == [locality]
    assert generaliser.apply(values, 3).to_list() == [SUPPRESSED]


@pytest.mark.parametrize(
    "values",
    [
        _boston().drop_nulls(),
        pl.read_csv(NYC, infer_schema=False).get_column("Incident Address").drop_nulls(),
    ],
    ids=["boston311", "nyc311"],
)
def test_real_foreign_addresses_are_never_kept_nor_starred_and_nest(values: pl.Series) -> None:
    generaliser = address_generaliser()
    street, locality = generaliser.apply(values, 1), generaliser.apply(values, 2)
    delivered = values.str.strip_chars()
    assert not (street == delivered).any() and not (locality == delivered).any()
    assert SUPPRESSED not in set(street) | set(locality)
    assert street.null_count() < len(values) // 10  # only street lines without a house number go
    levels = pl.DataFrame({"street": street, "locality": locality})
    assert levels.unique().group_by("street").len().get_column("len").max() == 1  # a hierarchy


def _foreign_contract(tmp_path: Path, examples: list[str] | None, k: int = 5) -> Path:
    doc = yaml.safe_load((ROOT / "contracts" / "boston311_requests.odcs.yaml").read_text(encoding="utf-8"))
    doc["customProperties"].append({"property": "kAnonymity", "value": k})
    (location,) = (p for p in doc["schema"][0]["properties"] if p["name"] == "location")
    location["customProperties"] = [
        {"property": "dictionaryElement", "value": "address"},
        {"property": "desensitise", "value": "generalise"},
    ]
    if examples is not None:
        location["examples"] = examples
    path = tmp_path / "boston311_requests.odcs.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def test_a_published_foreign_address_is_generalised_not_erased(
    tmp_path: Path, dictionary: Dictionary
) -> None:
    # k = 1: what `generalise` itself shares. (With k = 5 these 100 cases spread over 21 neighbourhoods
    # and k-anonymity rightly suppresses them all; a month of cases fills the classes.)
    (dataset,) = load_contract(_foreign_contract(tmp_path, None, k=1), dictionary)
    frame = pl.DataFrame({"case_enquiry_id": [str(i) for i in range(100)], "location": _boston()})
    shared = desensitise(frame, dataset, b"test-secret-key").frame.get_column("location")
    assert shared.null_count() == frame.get_column("location").null_count()
    assert not (shared == frame.get_column("location").str.strip_chars()).any()
    assert SUPPRESSED not in set(shared)
    assert "Cross St, Boston, MA, 02113" in set(shared)


def test_lint_warns_when_an_address_to_generalise_has_examples_that_are_not_chinese(
    tmp_path: Path, dictionary: Dictionary, platform: Platform
) -> None:
    contract = _foreign_contract(tmp_path, ["42 Cross St  Boston  MA  02113"])
    foreign = lint_file(contract, dictionary)
    assert [(p.entry, p.severity) for p in foreign] == [("schema[0].properties[12].examples", "warning")]
    assert "not a Chinese address" in foreign[0].reason and "docs/privacy.md" in foreign[0].reason
    linted = CliRunner().invoke(cli, ["contract", "lint", str(contract)])
    assert linted.exit_code == 0, linted.output  # a warning fails nothing: neither lint nor registration
    assert "warning: '42 Cross St" in linted.output
    registry = ContractRegistry(platform.metadata, platform.dictionary)
    assert registry.register(contract.read_text(encoding="utf-8")).status == "registered"
    assert lint_file(_foreign_contract(tmp_path, ["北京市朝阳区建国路88号"]), dictionary) == []
    assert lint_file(_foreign_contract(tmp_path, None), dictionary) == []

"""Placeholders in SQL quality rules (issue 16, item 20): an unknown one (``${model}`` as datacontract
specifications write it) is a lint error naming it and the allowed ones, and never reaches DuckDB."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from datahub.contracts.lint import lint_file
from datahub.dictionary import Dictionary
from datahub.quality.expectations import odcs_query
from datahub.quality.rules import SQL_PLACEHOLDERS, RuleError, compile_rule
from tests.conftest import ROOT

ALLOWED = "allowed: ${object}, ${property}"


def sql_rule(query: str) -> dict[str, object]:
    return {"type": "sql", "query": query, "mustBe": 0}


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("SELECT count(*) FROM ${model}", "${model}"),
        ("SELECT count(*) FROM ${object} WHERE ${field} IS NULL", "${field}"),
        ("SELECT count(*) FROM {model} WHERE {field} IS NULL", "${field}, ${model}"),
        # Inside a string literal it parses, and would have been compared with the text '${model}'.
        ("SELECT count(*) FROM ${object} WHERE ${property} = '${model}'", "${model}"),
        ("SELECT count(*) FROM ${ object }", "${ object }"),
    ],
)
def test_an_unknown_placeholder_is_named_with_the_allowed_ones(query: str, named: str) -> None:
    with pytest.raises(RuleError) as caught:
        compile_rule(sql_rule(query), "address")
    assert str(caught.value) == f"unknown placeholder {named} ({ALLOWED})"


def test_property_placeholder_in_a_schema_level_rule_is_refused() -> None:
    with pytest.raises(RuleError, match=r"\$\{property\} names the column of a property's rule"):
        compile_rule(sql_rule("SELECT count(*) FROM ${object} WHERE ${property} IS NULL"), None)


@pytest.mark.parametrize(
    "query",
    [
        "SELECT count(*) FROM ${object} WHERE ${property} IS NULL",
        "SELECT count(*) FROM {object} WHERE {property} IS NULL",
        # A regular-expression quantifier is no placeholder.
        "SELECT count(*) FROM ${object} WHERE NOT regexp_matches(${property}, '^[0-9]{11}$')",
    ],
)
def test_allowed_placeholders_compile_and_bind(query: str) -> None:
    rule = compile_rule(sql_rule(query), "phone")
    bound = odcs_query(rule.query or "", "phone")
    assert "{object}" not in bound and "{property}" not in bound
    assert '"phone"' in bound


def test_the_allowed_placeholders_are_declared_once() -> None:
    assert SQL_PLACEHOLDERS == ("object", "property")


def test_lint_names_the_unknown_placeholder_at_the_rule(tmp_path: Path, dictionary: Dictionary) -> None:
    doc = yaml.safe_load((ROOT / "contracts" / "hotline_12345.odcs.yaml").read_text(encoding="utf-8"))
    doc["schema"][0]["properties"][0]["quality"] = [sql_rule("SELECT count(*) FROM ${model}")]
    path = tmp_path / "c.odcs.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    problems = [(p.entry, p.reason) for p in lint_file(path, dictionary)]
    assert problems == [("schema[0].properties[0].quality[0]", f"unknown placeholder ${{model}} ({ALLOWED})")]

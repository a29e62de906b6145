"""`datahub contract lint`: the project's contracts and the standard's v3.1.0 examples lint clean;
broken contracts are reported with file, path and reason."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from datahub.cli import app
from datahub.contracts.lint import lint_file
from datahub.dictionary import Dictionary
from tests.conftest import ROOT, SHARED_DATA

EXAMPLES = sorted((SHARED_DATA / "odcs" / "examples").rglob("*.odcs.yaml"))
V310_EXAMPLES = [p for p in EXAMPLES if "apiVersion: v3.1.0" in p.read_text(encoding="utf-8")]


@pytest.mark.parametrize("path", sorted((ROOT / "contracts").glob("*.odcs.yaml")), ids=lambda p: p.name)
def test_project_contracts_lint_clean(path: Path, dictionary: Dictionary) -> None:
    assert lint_file(path, dictionary) == []


def test_there_are_v310_examples() -> None:
    assert len(V310_EXAMPLES) >= 5


# The full example carries custom properties for other tools. The platform reads none of them, and an
# unknown custom property is an error (a misspelt one would leave a default in force without a word).
FOREIGN_CUSTOM_PROPERTIES = {
    "full-example.odcs.yaml": {
        "customProperties.refRulesetName",
        "customProperties.somePropertyName",
        "customProperties.dataprocClusterName",
        "schema[0].customProperties.business-key",
        "schema[0].properties[0].customProperties.anonymizationStrategy",
    }
}


@pytest.mark.parametrize("path", V310_EXAMPLES, ids=lambda p: p.name)
def test_standard_examples_declaring_v310_lint_clean(path: Path, dictionary: Dictionary) -> None:
    problems = lint_file(path, dictionary)
    foreign = {p.entry for p in problems if p.reason.startswith("unknown custom property")}
    assert foreign == FOREIGN_CUSTOM_PROPERTIES.get(path.name, set())
    assert [str(p) for p in problems if p.entry not in foreign] == []


def _broken(tmp_path: Path, edit: str) -> Path:
    doc = yaml.safe_load((ROOT / "contracts" / "hotline_12345.odcs.yaml").read_text(encoding="utf-8"))
    props = doc["schema"][0]["properties"]
    if edit == "unknown_element":
        props[1]["customProperties"][0]["value"] = "no_such_element"
    elif edit == "unknown_crosswalk":
        props[6]["customProperties"][1]["value"] = "no_such_crosswalk"
    elif edit == "wrong_crosswalk_target":
        props[6]["customProperties"][1]["value"] = "police_severity"
    elif edit == "type_mismatch":
        props[1]["logicalType"] = "integer"
    elif edit == "bad_sharing_class":
        doc["customProperties"][1]["value"] = "everyone"
    elif edit == "unknown_department":
        doc["customProperties"][0]["value"] = "ZZ"
    elif edit == "bad_delivery_format":
        doc["customProperties"][3]["value"]["format"] = "xml"
    elif edit == "schema_violation":
        props[0]["required"] = "yes"
    elif edit == "bad_rule_metric":
        props[0]["quality"] = [{"type": "library", "metric": "prettyValues", "mustBe": 0}]
    elif edit == "bad_rule_sql":
        props[0]["quality"] = [{"type": "sql", "query": "selec count(*) frm t", "mustBe": 0}]
    elif edit == "bad_rule_operator":
        props[0]["quality"] = [{"type": "library", "metric": "nullValues"}]
    elif edit == "bad_datahub_rule":
        props[0]["quality"] = [
            {"type": "custom", "engine": "datahub", "implementation": {"rule": "stuckValue"}}
        ]
    elif edit == "bad_desensitise":
        props[2]["customProperties"].append({"property": "desensitise", "value": "shred"})
    path = tmp_path / "broken.odcs.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("edit", "where", "reason"),
    [
        (
            "unknown_element",
            "schema[0].properties[1].customProperties.dictionaryElement",
            "unknown dictionary element",
        ),
        ("unknown_crosswalk", "schema[0].properties[6].customProperties.crosswalk", "unknown crosswalk"),
        ("wrong_crosswalk_target", "schema[0].properties[6].customProperties.crosswalk", "maps onto"),
        ("type_mismatch", "schema[0].properties[1].logicalType", "does not match element"),
        ("bad_sharing_class", "customProperties.sharingClass", "must be one of"),
        ("unknown_department", "customProperties.ownerDepartment", "not a department code"),
        ("bad_delivery_format", "customProperties.delivery.format", "must be one of"),
        ("schema_violation", "schema[0].properties[0].required", "ODCS schema"),
        ("bad_rule_metric", "schema[0].properties[0].quality[0]", "unknown metric"),
        ("bad_rule_sql", "schema[0].properties[0].quality[0]", "SQL does not parse"),
        ("bad_rule_operator", "schema[0].properties[0].quality[0]", "exactly one comparison"),
        ("bad_datahub_rule", "schema[0].properties[0].quality[0]", "needs groupBy, orderBy"),
        ("bad_desensitise", "schema[0].properties[2].customProperties.desensitise", "must be one of"),
    ],
)
def test_broken_contracts_name_file_path_and_reason(
    tmp_path: Path, dictionary: Dictionary, edit: str, where: str, reason: str
) -> None:
    path = _broken(tmp_path, edit)
    problems = lint_file(path, dictionary)
    assert problems, edit
    assert all(p.file == str(path) for p in problems)
    assert any(p.entry == where and reason in p.reason for p in problems), [str(p) for p in problems]


def test_unreadable_yaml(tmp_path: Path, dictionary: Dictionary) -> None:
    path = tmp_path / "bad.odcs.yaml"
    path.write_text("apiVersion: v3.1.0\nschema: [unclosed\n", encoding="utf-8")
    (problem,) = lint_file(path, dictionary)
    assert problem.entry.startswith("line") and "not valid YAML" in problem.reason


def test_cli_exit_codes(tmp_path: Path) -> None:
    runner = CliRunner()
    good = runner.invoke(app, ["contract", "lint", str(ROOT / "contracts" / "hotline_12345.odcs.yaml")])
    assert good.exit_code == 0, good.output
    broken = _broken(tmp_path, "unknown_crosswalk")
    bad = runner.invoke(
        app, ["contract", "lint", str(ROOT / "contracts" / "hotline_12345.odcs.yaml"), str(broken)]
    )
    assert bad.exit_code == 1
    assert "unknown crosswalk" in bad.output and str(broken.name) in bad.output

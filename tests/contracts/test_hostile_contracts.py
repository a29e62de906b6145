"""Contracts that are wrong in ways that used to pass: a misspelt custom property, a code written in
Chinese, an SLA unit one part of the platform did not know, a directory given to `contract lint`."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from datahub.cli import app
from datahub.contracts import Desensitise, PublishMode, SharingClass, load_contract
from datahub.contracts.diff import diff_contracts
from datahub.contracts.lint import lint_file
from datahub.contracts.sla import sla_duration
from datahub.dashboard import labels
from datahub.dictionary import Dictionary, PersonalClass
from datahub.errors import ContractError
from datahub.quality.expectations import SuiteContext, build_suite, latency_rule
from tests.conftest import ROOT

Doc = dict[str, Any]


def _doc(name: str = "hotline_12345") -> Doc:
    return dict(yaml.safe_load((ROOT / "contracts" / f"{name}.odcs.yaml").read_text(encoding="utf-8")))


def _write(tmp_path: Path, doc: Doc, name: str = "edited.odcs.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def _custom(holder: Doc, name: str) -> Doc:
    return next(c for c in holder["customProperties"] if c["property"] == name)


def _reasons(path: Path, dictionary: Dictionary) -> dict[str, str]:
    return {p.entry: p.reason for p in lint_file(path, dictionary)}


# --- 18. custom properties: unknown names, Chinese names of codes ---------------------------------------


def _rename_sharing(doc: Doc) -> None:
    _custom(doc, "sharingClass")["property"] = "sharingclass"


def _schema_level(doc: Doc) -> None:
    doc["schema"][0]["customProperties"] = [{"property": "business-key", "value": ["work_order_id"]}]


def _rename_desensitise(doc: Doc) -> None:
    prop = doc["schema"][0]["properties"][2]
    prop["customProperties"].append({"property": "desensitize", "value": "redact"})


def _nested(doc: Doc) -> None:
    doc["schema"][0]["properties"][0]["properties"] = [
        {
            "name": "part",
            "logicalType": "string",
            "customProperties": [{"property": "Crosswalk", "value": "x"}],
        }
    ]


@pytest.mark.parametrize(
    ("edit", "where", "hint"),
    [
        (_rename_sharing, "customProperties.sharingclass", "did you mean 'sharingClass'"),
        (
            _schema_level,
            "schema[0].customProperties.business-key",
            "known on a schema object: ignoredColumns",
        ),
        (
            _rename_desensitise,
            "schema[0].properties[2].customProperties.desensitize",
            "did you mean 'desensitise'",
        ),
        (
            _nested,
            "schema[0].properties[0].properties[0].customProperties.Crosswalk",
            "did you mean 'crosswalk'",
        ),
    ],
    ids=["contract", "schema", "property", "nested_property"],
)
def test_an_unknown_custom_property_is_a_lint_error_naming_it_and_the_nearest_known(
    tmp_path: Path, dictionary: Dictionary, edit: Callable[[Doc], None], where: str, hint: str
) -> None:
    doc = _doc()
    edit(doc)
    reasons = _reasons(_write(tmp_path, doc), dictionary)
    assert where in reasons, reasons
    assert "unknown custom property" in reasons[where] and hint in reasons[where]


def test_a_misspelt_custom_property_does_not_load_as_the_default(
    tmp_path: Path, dictionary: Dictionary
) -> None:
    doc = _doc()
    _custom(doc, "sharingClass").update(property="sharingclass", value="not_shared")
    with pytest.raises(ContractError, match=r"sharingclass.*did you mean 'sharingClass'"):
        load_contract(_write(tmp_path, doc), dictionary)


def test_a_custom_property_given_twice_is_an_error(tmp_path: Path, dictionary: Dictionary) -> None:
    doc = _doc()
    doc["customProperties"].append({"property": "sharingClass", "value": "unconditional"})
    path = _write(tmp_path, doc)
    assert "given twice" in _reasons(path, dictionary)["customProperties.sharingClass"]
    with pytest.raises(ContractError, match="given twice"):
        load_contract(path, dictionary)


def _chinese_codes(doc: Doc) -> None:
    _custom(doc, "sharingClass")["value"] = "不予共享"
    _custom(doc, "delivery")["value"]["publishMode"] = "全量替换"
    prop = doc["schema"][0]["properties"][2]
    prop["customProperties"] += [
        {"property": "personalClass", "value": "准标识符"},
        {"property": "desensitise", "value": "假名化"},
    ]


def test_codes_may_be_written_as_their_chinese_names(tmp_path: Path, dictionary: Dictionary) -> None:
    doc = _doc()
    _chinese_codes(doc)
    path = _write(tmp_path, doc)
    assert lint_file(path, dictionary) == []
    (dataset,) = load_contract(path, dictionary)
    assert dataset.sharing_class is SharingClass.not_shared
    assert dataset.delivery.publish_mode is PublishMode.replacement
    column = dataset.columns[2]
    assert (column.personal_class, column.desensitise) == (
        PersonalClass.quasi_identifier,
        Desensitise.pseudonym,
    )


def test_a_code_and_its_chinese_name_are_the_same_to_the_diff() -> None:
    old, new = _doc(), _doc()
    _custom(new, "sharingClass")["value"] = "有条件共享"
    _custom(new, "delivery")["value"]["publishMode"] = "追加"
    assert diff_contracts(old, new).changes == []


def test_the_names_shown_by_the_reports_are_the_names_accepted() -> None:
    assert labels.SHARING_CLASS_NAMES[SharingClass.conditional] == "有条件共享"


@pytest.mark.parametrize(
    ("name", "value", "where", "listed"),
    [
        ("sharingClass", "everyone", "customProperties.sharingClass", "unconditional (无条件共享)"),
        ("desensitise", "shred", "schema[0].properties[2].customProperties.desensitise", "mask (屏蔽)"),
        ("personalClass", "秘密", "schema[0].properties[2].customProperties.personalClass", "准标识符"),
    ],
)
def test_an_unknown_code_lists_the_codes_and_their_names(
    tmp_path: Path, dictionary: Dictionary, name: str, value: str, where: str, listed: str
) -> None:
    doc = _doc()
    if name == "sharingClass":
        _custom(doc, name)["value"] = value
    else:
        doc["schema"][0]["properties"][2]["customProperties"].append({"property": name, "value": value})
    path = _write(tmp_path, doc)
    reason = _reasons(path, dictionary)[where]
    assert f"'{value}'" in reason and listed in reason
    with pytest.raises(ContractError, match=re.escape(listed)):
        load_contract(path, dictionary)


# --- 19. SLA units: one table for lint, loader, checks, diff and dashboard ------------------------------


def _latency(doc: Doc) -> Doc:
    return next(s for s in doc["slaProperties"] if s["property"] == "latency")


@pytest.mark.parametrize(
    ("value", "unit"), [(43200, "min"), (1, "month"), (720, "h"), (30, "days"), (30, "天"), (1, "Month")]
)
def test_a_freshness_sla_in_any_unit_keeps_its_rule(
    tmp_path: Path, dictionary: Dictionary, value: int, unit: str
) -> None:
    doc = _doc("population_grid")
    _latency(doc).update(value=value, unit=unit)
    path = _write(tmp_path, doc)
    assert lint_file(path, dictionary) == []
    (dataset,) = load_contract(path, dictionary)
    assert latency_rule(dataset) == (timedelta(days=30), "update_time")
    ctx = SuiteContext(rows=1, null_counts={}, received_columns=[], delivered_at=datetime(2026, 1, 1))
    assert "freshness" in {rule.name for rule in build_suite(dataset, ctx)}
    assert diff_contracts(_doc("population_grid"), doc).changes == []  # 30 d before


@pytest.mark.parametrize(
    ("old", "new", "kind"),
    [
        ((30, "d"), (1, "month"), None),
        ((1, "month"), (43200, "min"), None),
        ((1, "d"), (1, "month"), "sla_degraded"),
        ((1, "month"), (1, "w"), "sla_improved"),
        ((1, "y"), (12, "months"), "sla_improved"),  # a month is 30 days: 360 d < 365 d
    ],
)
def test_sla_durations_diff_in_one_unit_table(
    old: tuple[int, str], new: tuple[int, str], kind: str | None
) -> None:
    was, now = _doc("population_grid"), _doc("population_grid")
    _latency(was).update(value=old[0], unit=old[1])
    _latency(now).update(value=new[0], unit=new[1])
    assert [c.kind for c in diff_contracts(was, now).changes] == ([kind] if kind else [])


@pytest.mark.parametrize(
    ("value", "unit", "where", "reason"),
    [
        (1, "m", "unit", "ambiguous"),
        (2, "fortnights", "unit", "unknown SLA unit 'fortnights'"),
        (1, None, "unit", "needs a unit"),
        (0, "d", "value", "positive number"),
        (-3, "h", "value", "positive number"),
        ("soon", "d", "value", "positive number"),
        (True, "d", "value", "positive number"),
    ],
)
def test_a_duration_sla_with_a_bad_unit_or_value_is_refused(
    tmp_path: Path, dictionary: Dictionary, value: Any, unit: str | None, where: str, reason: str
) -> None:
    doc = _doc("population_grid")
    latency = _latency(doc)
    latency["value"] = value
    if unit is None:
        del latency["unit"]
    else:
        latency["unit"] = unit
    index = doc["slaProperties"].index(latency)
    path = _write(tmp_path, doc)
    reasons = _reasons(path, dictionary)
    assert reason in reasons.get(f"slaProperties[{index}].{where}", ""), reasons
    with pytest.raises(ContractError, match=reason):
        load_contract(path, dictionary)


def test_the_unit_table_names_every_unit_in_chinese() -> None:
    for unit in ("min", "minute", "minutes", "h", "d", "w", "month", "months", "y", "years", "天"):
        assert sla_duration(1, unit) is not None
        assert labels.label(labels.SLA_UNIT_NAMES, unit) != unit or unit == "天"


# --- 16. `datahub contract lint DIRECTORY` ---------------------------------------------------------------


def test_lint_a_directory_lints_every_contract_beneath_it(tmp_path: Path) -> None:
    nested = tmp_path / "contracts" / "more" / "deeper"
    nested.mkdir(parents=True)
    good = _write(tmp_path / "contracts", _doc(), "hotline_12345.odcs.yaml")
    bad_doc = _doc("population_grid")
    _custom(bad_doc, "sharingClass")["property"] = "sharingclass"
    bad = _write(nested, bad_doc, "population_grid.odcs.yaml")
    (nested / "notes.yaml").write_text("not: a contract\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["contract", "lint", str(tmp_path / "contracts")])
    assert result.exit_code == 1, result.output
    assert str(good) in result.output and str(bad) in result.output
    assert "sharingclass" in result.output and "notes.yaml" not in result.output
    assert "1 of 2 contract(s) have problems" in result.output


def test_lint_the_project_contracts_directory() -> None:
    result = CliRunner().invoke(app, ["contract", "lint", str(ROOT / "contracts")])
    assert result.exit_code == 0, result.output
    assert "events_unified.odcs.yaml" in result.output  # contracts/views/, beneath it


@pytest.mark.parametrize("what", ["missing", "empty_dir"])
def test_lint_a_path_that_holds_no_contract_is_not_found(tmp_path: Path, what: str) -> None:
    target = tmp_path / "nothing.odcs.yaml"
    if what == "empty_dir":
        target = tmp_path / "empty"
        target.mkdir()
    result = CliRunner().invoke(app, ["contract", "lint", str(target)])
    assert result.exit_code == 2, result.output
    assert "error [not_found]" in result.output and str(target) in result.output

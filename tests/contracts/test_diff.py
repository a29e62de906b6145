"""Breaking-change detection: one edit of the hotline contract at a time, judged from the consumer's side."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from datahub.contracts.diff import RULES, ContractDiff, diff_contracts, required_bump
from datahub.contracts.yaml_io import load_yaml

CONTRACTS = Path(__file__).resolve().parents[2] / "contracts"
BASE: dict[str, Any] = load_yaml(CONTRACTS / "hotline_12345.odcs.yaml")
TABLE = "schema[hotline_12345]"

Doc = dict[str, Any]
Step = Callable[[Doc], object]
Edit = Callable[[Doc, Doc], None]

# (breaking, tightening)
BREAKING = (True, False)
TIGHTENING = (False, True)
NEUTRAL = (False, False)


def column(doc: Doc, name: str) -> Doc:
    return next(p for p in doc["schema"][0]["properties"] if p["name"] == name)


def set_custom(element: Doc, prop: str, value: Any) -> None:
    """Set one customProperty of a contract or property; None removes it."""
    items = [c for c in element.get("customProperties", []) if c["property"] != prop]
    if value is not None:
        items.append({"property": prop, "value": value})
    element["customProperties"] = items


def sla(doc: Doc, prop: str) -> Doc:
    return next(s for s in doc["slaProperties"] if s["property"] == prop)


# Steps: one edit of a contract document, in place.


def top(**fields: Any) -> Step:
    return lambda doc: doc.update(copy.deepcopy(fields))


def table(**fields: Any) -> Step:
    return lambda doc: doc["schema"][0].update(copy.deepcopy(fields))


def col(name: str, /, **fields: Any) -> Step:
    return lambda doc: column(doc, name).update(copy.deepcopy(fields))


def drop(name: str, field: str) -> Step:
    return lambda doc: column(doc, name).pop(field)


def opts(name: str, /, **values: Any) -> Step:
    return col(name, logicalTypeOptions=values)


def custom(prop: str, value: Any, on: str | None = None) -> Step:
    """Set a customProperty of the contract, or of column ``on``."""
    return lambda doc: set_custom(column(doc, on) if on else doc, prop, value)


def sla_set(prop: str, **fields: Any) -> Step:
    return lambda doc: sla(doc, prop).update(fields)


def add_column(**prop: Any) -> Step:
    return lambda doc: doc["schema"][0]["properties"].append(copy.deepcopy(prop))


def remove_column(name: str) -> Step:
    return lambda doc: doc["schema"][0]["properties"].remove(column(doc, name))


def given(setup: Step, change: Step) -> Edit:
    """``setup`` applies to both versions, ``change`` to the new one only."""

    def edit(old: Doc, new: Doc) -> None:
        setup(old)
        setup(new)
        change(new)

    return edit


def only(change: Step) -> Edit:
    return given(lambda doc: None, change)


SERVER = {"server": "hub", "type": "postgres", "host": "db.city.local", "port": 5432}
STUCK = {"name": "stuck_value", "type": "custom", "engine": "datahub", "severity": "warning"}
REFERENCE = {"id": "dept_ref", "type": "foreignKey", "to": "department.code"}
DELIVERY = {"format": "csv", "encoding": "gbk", "publishMode": "append"}

CASES: list[tuple[str, Edit, str, tuple[bool, bool]]] = [
    # contract level
    ("api major", only(top(apiVersion="v4.0.0")), "api_version_major_changed", BREAKING),
    ("api minor", only(top(apiVersion="v3.0.2")), "api_version_changed", NEUTRAL),
    ("contract id", only(top(id="urn:datahub:contract:other")), "unclassified_change", BREAKING),
    ("title", only(top(name="12345热线")), "metadata_changed", NEUTRAL),
    ("status", only(top(status="deprecated")), "metadata_changed", NEUTRAL),
    ("domain", only(top(domain="public_service")), "metadata_changed", NEUTRAL),
    ("tags", only(top(tags=["hotline"])), "metadata_changed", NEUTRAL),
    ("team", only(top(team={"name": "OC data"})), "metadata_changed", NEUTRAL),
    ("price", only(top(price={"priceAmount": 0})), "metadata_changed", NEUTRAL),
    ("purpose", only(top(description={"purpose": "工单"})), "metadata_changed", NEUTRAL),
    ("owner", only(custom("ownerDepartment", "PS")), "metadata_changed", NEUTRAL),
    ("less shared", only(custom("sharingClass", "not_shared")), "sharing_restricted", BREAKING),
    ("more shared", only(custom("sharingClass", "unconditional")), "sharing_widened", TIGHTENING),
    ("channel", only(custom("channel", "gov_app")), "channel_changed", BREAKING),
    ("encoding", only(custom("delivery", {**DELIVERY, "encoding": "utf-8"})), "delivery_changed", BREAKING),
    (
        "publish mode",
        only(custom("delivery", {**DELIVERY, "publishMode": "replace"})),
        "delivery_changed",
        BREAKING,
    ),
    ("server added", only(top(servers=[SERVER])), "server_added", NEUTRAL),
    ("server removed", given(top(servers=[SERVER]), top(servers=[])), "server_removed", BREAKING),
    (
        "server moved",
        given(top(servers=[SERVER]), top(servers=[{**SERVER, "host": "db2"}])),
        "server_changed",
        BREAKING,
    ),
    ("latency staler", only(sla_set("latency", value=48)), "sla_degraded", BREAKING),
    ("retention shorter", only(sla_set("retention", value=3)), "sla_degraded", BREAKING),
    ("latency fresher", only(sla_set("latency", value=12)), "sla_improved", TIGHTENING),
    ("frequency hourly", only(sla_set("frequency", value=1, unit="h")), "sla_improved", TIGHTENING),
    ("latency element", only(sla_set("latency", element="report_time")), "sla_changed", BREAKING),
    ("latency unknown unit", only(sla_set("latency", unit="m")), "sla_changed", BREAKING),
    ("sla removed", only(lambda d: d["slaProperties"].pop(1)), "sla_removed", BREAKING),
    (
        "sla added",
        only(lambda d: d["slaProperties"].append({"property": "availability", "value": "99%"})),
        "sla_added",
        TIGHTENING,
    ),
    # schema objects
    ("table removed", only(top(schema=[])), "object_removed", BREAKING),
    (
        "table added",
        only(lambda d: d["schema"].append({"name": "hotline_visits", "properties": [{"name": "id"}]})),
        "object_added",
        NEUTRAL,
    ),
    ("table renamed", given(table(id="orders"), table(name="hotline")), "object_renamed", BREAKING),
    ("table physical name", only(table(physicalName="工单表")), "physical_name_changed", BREAKING),
    ("table physical type", only(table(physicalType="view")), "physical_type_changed", BREAKING),
    ("table purpose", only(table(description="工单")), "metadata_changed", NEUTRAL),
    (
        "key extended",
        only(col("report_time", primaryKey=True, primaryKeyPosition=2)),
        "primary_key_changed",
        BREAKING,
    ),
    # columns
    ("column removed", only(remove_column("address")), "column_removed", BREAKING),
    (
        "column renamed",
        given(col("address", id="addr"), col("address", name="incident_address")),
        "column_renamed",
        BREAKING,
    ),
    ("optional column added", only(add_column(name="note")), "column_added", NEUTRAL),
    (
        "required column added",
        only(add_column(name="source", required=True)),
        "required_column_added",
        TIGHTENING,
    ),
    ("logical type", only(col("satisfaction", logicalType="number")), "type_changed", BREAKING),
    ("physical name", only(col("caller_phone", physicalName="手机号码")), "physical_name_changed", BREAKING),
    ("physical type", only(col("satisfaction", physicalType="TINYINT")), "physical_type_changed", BREAKING),
    ("made optional", only(col("caller_phone", required=False)), "required_relaxed", BREAKING),
    ("made required", only(col("caller_name", required=True)), "required_added", TIGHTENING),
    ("made unique", only(col("work_order_id", unique=True)), "unique_added", TIGHTENING),
    (
        "made non-unique",
        given(col("work_order_id", unique=True), drop("work_order_id", "unique")),
        "unique_relaxed",
        BREAKING,
    ),
    ("column description", only(col("address", description="门牌地址")), "metadata_changed", NEUTRAL),
    ("business name", only(col("address", businessName="地址")), "metadata_changed", NEUTRAL),
    ("examples", only(col("address", examples=["湖滨路1号"])), "metadata_changed", NEUTRAL),
    # value ranges, lengths, patterns, formats, enumerations
    (
        "maximum raised",
        given(opts("satisfaction", maximum=5), opts("satisfaction", maximum=10)),
        "range_widened",
        BREAKING,
    ),
    (
        "minimum lowered",
        given(opts("satisfaction", minimum=1), opts("satisfaction", minimum=0)),
        "range_widened",
        BREAKING,
    ),
    (
        "maximum removed",
        given(opts("satisfaction", maximum=5), opts("satisfaction")),
        "range_widened",
        BREAKING,
    ),
    (
        "minimum raised",
        given(opts("satisfaction", minimum=1), opts("satisfaction", minimum=2)),
        "range_narrowed",
        TIGHTENING,
    ),
    (
        "maximum lowered",
        given(opts("satisfaction", maximum=5), opts("satisfaction", maximum=4)),
        "range_narrowed",
        TIGHTENING,
    ),
    (
        "minimum made exclusive",
        given(opts("satisfaction", minimum=1), opts("satisfaction", exclusiveMinimum=1)),
        "range_narrowed",
        TIGHTENING,
    ),
    ("maximum added", only(opts("satisfaction", maximum=5)), "range_narrowed", TIGHTENING),
    (
        "earlier date bound",
        given(opts("report_time", minimum="2024-01-01"), opts("report_time", minimum="2020-01-01")),
        "range_widened",
        BREAKING,
    ),
    (
        "coarser step",
        given(opts("satisfaction", multipleOf=0.5), opts("satisfaction", multipleOf=1.5)),
        "range_narrowed",
        TIGHTENING,
    ),
    (
        "maxLength raised",
        given(opts("complaint_text", maxLength=200), opts("complaint_text", maxLength=400)),
        "length_widened",
        BREAKING,
    ),
    (
        "minLength lowered",
        given(opts("complaint_text", minLength=5), opts("complaint_text", minLength=1)),
        "length_widened",
        BREAKING,
    ),
    (
        "maxLength lowered",
        given(opts("complaint_text", maxLength=200), opts("complaint_text", maxLength=100)),
        "length_narrowed",
        TIGHTENING,
    ),
    ("minLength raised", only(opts("complaint_text", minLength=1)), "length_narrowed", TIGHTENING),
    (
        "pattern changed",
        given(opts("work_order_id", pattern=r"^\d{12}$"), opts("work_order_id", pattern=r"^\d{12,16}$")),
        "pattern_changed",
        BREAKING,
    ),
    (
        "pattern removed",
        given(opts("work_order_id", pattern=r"^\d{12}$"), drop("work_order_id", "logicalTypeOptions")),
        "pattern_changed",
        BREAKING,
    ),
    ("pattern added", only(opts("work_order_id", pattern=r"^\d{12}$")), "pattern_added", TIGHTENING),
    (
        "format changed",
        given(
            opts("report_time", format="yyyy-MM-dd HH:mm:ss"), opts("report_time", format="yyyy/MM/dd HH:mm")
        ),
        "format_changed",
        BREAKING,
    ),
    (
        "enum value added",
        given(col("satisfaction", enum=[1, 2, 3]), col("satisfaction", enum=[1, 2, 3, 4])),
        "enum_widened",
        BREAKING,
    ),
    (
        "enum removed",
        given(col("satisfaction", enum=[1, 2, 3]), drop("satisfaction", "enum")),
        "enum_widened",
        BREAKING,
    ),
    (
        "enum value removed",
        given(
            col("satisfaction", enum=[{"value": 1}, {"value": 2}]), col("satisfaction", enum=[{"value": 1}])
        ),
        "enum_narrowed",
        TIGHTENING,
    ),
    ("enum added", only(col("satisfaction", enum=[1, 2, 3])), "enum_narrowed", TIGHTENING),
    # meaning: units, time zones, dictionary elements, crosswalks
    ("unit added", only(custom("unit", "分", on="satisfaction")), "unit_changed", BREAKING),
    (
        "time zone",
        given(
            opts("report_time", defaultTimezone="Asia/Shanghai"),
            opts("report_time", defaultTimezone="Etc/UTC"),
        ),
        "timezone_changed",
        BREAKING,
    ),
    (
        "dictionary element",
        only(custom("dictionaryElement", "phone_number", on="caller_phone")),
        "dictionary_element_changed",
        BREAKING,
    ),
    (
        "crosswalk dropped",
        only(custom("crosswalk", None, on="event_category")),
        "crosswalk_changed",
        BREAKING,
    ),
    (
        "unknown custom property",
        only(custom("geocoder", "amap", on="address")),
        "unclassified_change",
        BREAKING,
    ),
    # access: classification and desensitisation
    (
        "classification raised",
        only(col("caller_phone", classification="confidential")),
        "classification_raised",
        BREAKING,
    ),
    (
        "classification set",
        only(col("district_code", classification="internal")),
        "classification_raised",
        BREAKING,
    ),
    (
        "classification lowered",
        only(col("caller_phone", classification="internal")),
        "classification_lowered",
        TIGHTENING,
    ),
    (
        "classification unknown",
        only(col("caller_phone", classification="PII-3")),
        "classification_changed",
        BREAKING,
    ),
    (
        "default to redact",
        only(custom("desensitise", "redact", on="caller_phone")),
        "desensitise_strengthened",
        BREAKING,
    ),
    (
        "keep to mask",
        given(
            custom("desensitise", "keep", on="complaint_text"),
            custom("desensitise", "mask", on="complaint_text"),
        ),
        "desensitise_strengthened",
        BREAKING,
    ),
    (
        "mask to keep",
        given(
            custom("desensitise", "mask", on="caller_phone"), custom("desensitise", "keep", on="caller_phone")
        ),
        "desensitise_weakened",
        NEUTRAL,
    ),
    (
        "default to keep",
        only(custom("desensitise", "keep", on="caller_phone")),
        "desensitise_weakened",
        NEUTRAL,
    ),
    # quality rules and relationships
    ("rule added", only(col("is_resolved", quality=[STUCK])), "quality_rule_added", TIGHTENING),
    (
        "rule removed",
        given(col("is_resolved", quality=[STUCK]), drop("is_resolved", "quality")),
        "quality_rule_removed",
        NEUTRAL,
    ),
    (
        "rule severity raised",
        given(
            col("is_resolved", quality=[STUCK]),
            col("is_resolved", quality=[{**STUCK, "severity": "error"}]),
        ),
        "quality_rule_stricter",
        TIGHTENING,
    ),
    (
        "rule severity lowered",
        given(
            col("is_resolved", quality=[STUCK]), col("is_resolved", quality=[{**STUCK, "severity": "info"}])
        ),
        "quality_rule_changed",
        NEUTRAL,
    ),
    (
        "relationship added",
        only(col("handling_department", relationships=[REFERENCE])),
        "relationship_added",
        TIGHTENING,
    ),
    (
        "relationship retargeted",
        given(
            col("handling_department", relationships=[REFERENCE]),
            col("handling_department", relationships=[{**REFERENCE, "to": "org.code"}]),
        ),
        "relationship_changed",
        NEUTRAL,
    ),
    (
        "relationship removed",
        given(
            col("handling_department", relationships=[REFERENCE]),
            drop("handling_department", "relationships"),
        ),
        "relationship_removed",
        NEUTRAL,
    ),
]


def diff_of(edit: Edit) -> ContractDiff:
    old, new = copy.deepcopy(BASE), copy.deepcopy(BASE)
    edit(old, new)
    return diff_contracts(old, new)


@pytest.mark.parametrize(("edit", "kind", "verdict"), [pytest.param(*c[1:], id=c[0]) for c in CASES])
def test_one_edit_gives_one_change_with_its_verdict(
    edit: Edit, kind: str, verdict: tuple[bool, bool]
) -> None:
    changes = [c for c in diff_of(edit).changes if c.kind != "version_changed"]
    assert [(c.kind, c.breaking, c.tightening) for c in changes] == [(kind, *verdict)]


def test_the_table_covers_every_rule() -> None:
    assert {c[2] for c in CASES} | {"version_changed"} == set(RULES)


def test_rules_are_consistent() -> None:
    for kind, rule in RULES.items():
        assert not (rule.breaking and rule.tightening), kind
        assert rule.reason.endswith(".") and rule.reason.count(". ") == 0, kind


@pytest.mark.parametrize("path", sorted(CONTRACTS.glob("*.odcs.yaml")), ids=lambda p: p.name)
def test_identical_contracts_have_no_changes_and_stay_untouched(path: Path) -> None:
    old, new = load_yaml(path), load_yaml(path)
    before = copy.deepcopy(old)
    diff = diff_contracts(old, new)
    assert diff.changes == []
    assert not diff.breaking
    assert old == before


def test_paths_name_table_column_and_field() -> None:
    (change,) = diff_of(only(col("caller_phone", logicalType="integer"))).changes
    assert change.path == f"{TABLE}.properties[caller_phone].logicalType"
    assert (change.old, change.new) == ("string", "integer")


def test_nested_properties_are_compared_with_dotted_paths() -> None:
    def nest(doc: Doc) -> None:
        column(doc, "address").update(
            logicalType="object",
            properties=[
                {"name": "city", "logicalType": "string", "required": True},
                {
                    "name": "geo",
                    "logicalType": "object",
                    "properties": [{"name": "lat", "logicalType": "number"}],
                },
            ],
        )

    def edit(doc: Doc) -> None:
        city, geo = column(doc, "address")["properties"]
        city["required"] = False
        geo["properties"][0]["logicalType"] = "string"

    changes = diff_of(given(nest, edit)).changes
    assert [(c.path, c.kind) for c in changes] == [
        (f"{TABLE}.properties[address.city].required", "required_relaxed"),
        (f"{TABLE}.properties[address.geo.lat].logicalType", "type_changed"),
    ]


def test_renaming_a_key_column_is_one_change_not_also_a_key_change() -> None:
    edit = given(
        col("work_order_id", id="order_id"),
        col("work_order_id", name="order_id"),
    )
    assert [c.kind for c in diff_of(edit).changes] == ["column_renamed"]


def test_a_rename_without_ids_is_a_removal_and_an_addition() -> None:
    edit = only(col("address", name="incident_address"))
    assert [c.kind for c in diff_of(edit).changes] == ["column_removed", "column_added"]


def test_key_order_counts() -> None:
    def two_keys(first: int, second: int) -> Step:
        return lambda d: (
            column(d, "work_order_id").update(primaryKeyPosition=first),
            column(d, "report_time").update(primaryKey=True, primaryKeyPosition=second),
        )

    (change,) = diff_of(given(two_keys(1, 2), two_keys(2, 1))).changes
    assert (change.kind, change.old, change.new) == (
        "primary_key_changed",
        ["work_order_id", "report_time"],
        ["report_time", "work_order_id"],
    )


def test_same_sla_in_other_units_is_no_change() -> None:
    assert diff_of(only(sla_set("latency", value=1, unit="d"))).changes == []


def test_default_values_spelled_out_are_no_change() -> None:
    def spell_out(doc: Doc) -> None:
        set_custom(doc, "sharingClass", "conditional")
        set_custom(doc, "delivery", {"format": "csv", "encoding": "auto", "publishMode": "append"})

    def drop(doc: Doc) -> None:
        set_custom(doc, "sharingClass", None)
        set_custom(doc, "delivery", None)

    assert diff_of(given(drop, spell_out)).changes == []


def test_version_change_is_reported_and_not_breaking() -> None:
    (change,) = diff_of(only(top(version="1.1.0"))).changes
    assert (change.kind, change.path, change.breaking, change.tightening) == (
        "version_changed",
        "version",
        False,
        False,
    )


def mixed() -> ContractDiff:
    def edit(doc: Doc) -> None:
        doc["version"] = "1.1.0"
        doc["description"]["usage"] = "城运中心调用。"
        column(doc, "caller_name")["required"] = True
        column(doc, "satisfaction")["logicalType"] = "string"
        doc["schema"][0]["properties"] = [
            p for p in doc["schema"][0]["properties"] if p["name"] != "street_code"
        ]
        doc["schema"][0]["properties"].append({"name": "source", "logicalType": "string"})
        sla(doc, "latency")["value"] = 12
        set_custom(doc, "sharingClass", "not_shared")

    return diff_of(only(edit))


def test_a_mixed_revision_lists_every_change_in_document_order() -> None:
    diff = mixed()
    assert diff.breaking
    assert [(c.path, c.kind, c.breaking, c.tightening) for c in diff.changes] == [
        ("version", "version_changed", False, False),
        ("customProperties.sharingClass", "sharing_restricted", True, False),
        ("slaProperties[latency].value", "sla_improved", False, True),
        (f"{TABLE}.properties[caller_name].required", "required_added", False, True),
        (f"{TABLE}.properties[street_code]", "column_removed", True, False),
        (f"{TABLE}.properties[satisfaction].logicalType", "type_changed", True, False),
        (f"{TABLE}.properties[source]", "column_added", False, False),
        ("description", "metadata_changed", False, False),
    ]


def test_to_dict_is_json() -> None:
    diff = mixed()
    data = json.loads(json.dumps(diff.to_dict(), ensure_ascii=False))
    assert data["breaking"] is True
    assert data["changes"][1] == {
        "path": "customProperties.sharingClass",
        "kind": "sharing_restricted",
        "old": "conditional",
        "new": "not_shared",
        "breaking": True,
        "tightening": False,
        "reason": RULES["sharing_restricted"].reason,
    }


def test_a_breaking_change_needs_a_major_bump() -> None:
    breaking = mixed()
    reason = required_bump("1.0.0", "1.1.0", breaking)
    assert reason is not None and "major" in reason and "column_removed" in reason
    assert required_bump("1.0.0", "2.0.0", breaking) is None
    assert required_bump("1.4.2", "1.4.3", breaking) is not None


def test_a_non_breaking_change_needs_no_major_bump() -> None:
    tightening = diff_of(only(col("caller_name", required=True)))
    assert not tightening.breaking
    assert required_bump("1.0.0", "1.1.0", tightening) is None
    assert required_bump("1.0.0", "1.0.1", ContractDiff([])) is None


@pytest.mark.parametrize(("old", "new"), [("1.0", "2.0.0"), ("1.0.0", "v2"), ("1.0.0", "next")])
def test_versions_that_are_not_semantic_are_a_reason(old: str, new: str) -> None:
    reason = required_bump(old, new, ContractDiff([]))
    assert reason is not None and "not semantic" in reason

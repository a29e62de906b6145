"""`datahub contract lint`: everything that can be wrong with a contract, each with file, path and reason.

Checks, in order: the file reads as plain, bounded YAML (``yaml_io``); it validates against the ODCS
JSON Schema of its own ``apiVersion``, shipped in ``schemas/`` (corrected where upstream is buggy, see
the README there); our custom properties have
valid values and every reference into the dictionary exists; every quality rule compiles; SLA
elements and primary-key positions make sense. A contract without our custom properties is linted
as plain ODCS.
"""

from __future__ import annotations

import json
from enum import StrEnum
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema

from datahub.contracts.loader import LOGICAL_TO_ELEMENT
from datahub.contracts.model import (
    DELIVERY_KEYS,
    DeliveryFormat,
    Desensitise,
    PublishMode,
    SharingClass,
    custom_property_problems,
    parse_code,
)
from datahub.contracts.sla import DURATION_PROPERTIES, unit_problem, value_problem
from datahub.contracts.yaml_io import load_yaml
from datahub.dictionary import Dictionary, PersonalClass, Problem
from datahub.errors import ContractError
from datahub.privacy.kanonymity import foreign_address_warnings
from datahub.quality.rules import RuleError, compile_rule

# Each apiVersion and the shipped JSON Schema that validates it (see schemas/README.md: where each comes
# from, and what is corrected). No v3.0.0 schema was published apart from v3.0.1's, which accepts it.
ODCS_SCHEMAS = {
    "v3.0.0": "odcs-json-schema-v3.0.1.json",
    "v3.0.1": "odcs-json-schema-v3.0.1.json",
    "v3.0.2": "odcs-json-schema-v3.0.2.json",
    "v3.1.0": "odcs-json-schema-v3.1.0.json",
    "v3.2.0": "odcs-json-schema-v3.2.0.json",
}


@cache
def odcs_validator(api_version: str) -> Any:
    """The JSON Schema validator for contracts of ``api_version`` (a key of ``ODCS_SCHEMAS``)."""
    schema_file = resources.files("datahub.contracts") / "schemas" / ODCS_SCHEMAS[api_version]
    schema = json.loads(schema_file.read_text(encoding="utf-8"))
    return jsonschema.validators.validator_for(schema)(schema)


def _path(parts: Any) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "-"


def _custom(items: Any) -> dict[str, Any]:
    if not isinstance(items, list):
        return {}
    return {c["property"]: c.get("value") for c in items if isinstance(c, dict) and "property" in c}


class _Linter:
    def __init__(self, file: str, dictionary: Dictionary) -> None:
        self.file = file
        self.dictionary = dictionary
        self.problems: list[Problem] = []

    def add(self, path: str, reason: str) -> None:
        self.problems.append(Problem(self.file, path, reason))

    def custom(self, items: Any, level: str, where: str) -> dict[str, Any]:
        """The custom properties at ``where``, reporting those the platform does not read at ``level``."""
        if not isinstance(items, list):
            return {}
        names = [c["property"] for c in items if isinstance(c, dict) and isinstance(c.get("property"), str)]
        prefix = f"{where}.customProperties" if where else "customProperties"
        for name, reason in custom_property_problems(names, level):
            self.add(f"{prefix}.{name}", reason)
        return _custom(items)

    def code(self, path: str, kind: type[StrEnum], value: Any) -> None:
        try:
            parse_code(kind, value)
        except ValueError as exc:
            self.add(path, f"{exc}")

    def contract_level(self, doc: dict[str, Any]) -> None:
        custom = self.custom(doc.get("customProperties"), "contract", "")
        where = "customProperties"
        if "ownerDepartment" in custom and custom["ownerDepartment"] not in self.dictionary.codes(
            "department"
        ):
            self.add(f"{where}.ownerDepartment", f"'{custom['ownerDepartment']}' is not a department code")
        if "sharingClass" in custom:
            self.code(f"{where}.sharingClass", SharingClass, custom["sharingClass"])
        k = custom.get("kAnonymity")
        if k is not None and not (isinstance(k, int) and not isinstance(k, bool) and k >= 1):
            self.add(f"{where}.kAnonymity", "must be a whole number of at least 1")
        if "channel" in custom and custom["channel"] not in self.dictionary.codes("channel"):
            self.add(f"{where}.channel", f"'{custom['channel']}' is not a channel code")
        delivery = custom.get("delivery")
        if delivery is not None:
            if not isinstance(delivery, dict):
                self.add(f"{where}.delivery", "must be a mapping")
                return
            for key in delivery:
                if key not in DELIVERY_KEYS:
                    self.add(f"{where}.delivery.{key}", f"unknown key (known: {', '.join(DELIVERY_KEYS)})")
            self.code(f"{where}.delivery.format", DeliveryFormat, delivery.get("format", "csv"))
            self.code(f"{where}.delivery.publishMode", PublishMode, delivery.get("publishMode", "append"))
            encoding = delivery.get("encoding", "auto")
            if encoding != "auto":
                try:
                    "".encode(encoding)
                except LookupError:
                    self.add(f"{where}.delivery.encoding", f"unknown encoding '{encoding}'")

    def prop(self, prop: dict[str, Any], where: str) -> None:
        custom = self.custom(prop.get("customProperties"), "property", where)
        element = None
        if "dictionaryElement" in custom:
            element = self.dictionary.elements.get(custom["dictionaryElement"])
            if element is None:
                self.add(
                    f"{where}.customProperties.dictionaryElement",
                    f"unknown dictionary element '{custom['dictionaryElement']}'",
                )
            elif prop.get("logicalType") and LOGICAL_TO_ELEMENT.get(prop["logicalType"]) is not element.type:
                self.add(
                    f"{where}.logicalType",
                    f"'{prop['logicalType']}' does not match element '{element.id}' of type {element.type}",
                )
        if "crosswalk" in custom:
            walk = self.dictionary.crosswalks.get(custom["crosswalk"])
            if walk is None:
                self.add(f"{where}.customProperties.crosswalk", f"unknown crosswalk '{custom['crosswalk']}'")
            elif element is not None and element.code_table != walk.spec.target:
                self.add(
                    f"{where}.customProperties.crosswalk",
                    f"maps onto '{walk.spec.target}' but element '{element.id}' uses '{element.code_table}'",
                )
        if "personalClass" in custom:
            self.code(f"{where}.customProperties.personalClass", PersonalClass, custom["personalClass"])
        if "desensitise" in custom:
            self.code(f"{where}.customProperties.desensitise", Desensitise, custom["desensitise"])
        self.problems += foreign_address_warnings(self.file, where, prop, custom)
        self.rules(prop.get("quality"), where, prop.get("name"))
        for j, child in enumerate(prop.get("properties") or []):
            if isinstance(child, dict):
                self.prop(child, f"{where}.properties[{j}]")

    def rules(self, rules: Any, where: str, column: str | None) -> None:
        for k, rule in enumerate(rules or []):
            if not isinstance(rule, dict):
                continue
            try:
                compile_rule(rule, column)
            except RuleError as exc:
                self.add(f"{where}.quality[{k}]", str(exc))

    def schema_objects(self, doc: dict[str, Any]) -> None:
        for i, obj in enumerate(doc.get("schema") or []):
            if not isinstance(obj, dict):
                continue
            where = f"schema[{i}]"
            self.custom(obj.get("customProperties"), "schema object", where)
            self.rules(obj.get("quality"), where, None)
            props = [p for p in obj.get("properties") or [] if isinstance(p, dict)]
            for j, prop in enumerate(props):
                self.prop(prop, f"{where}.properties[{j}]")
            positions = [p.get("primaryKeyPosition") for p in props if p.get("primaryKey")]
            given = [p for p in positions if p is not None and p != -1]
            if len(given) != len(set(given)):
                self.add(where, "primaryKeyPosition values repeat")

    def sla(self, doc: dict[str, Any]) -> None:
        """A duration (latency, frequency, retention) is a positive number of a known unit. An SLA element
        naming one of this contract's tables must name one of its properties (an element may also point
        at another contract's table, which is not checked here)."""
        objects = {obj.get("name"): obj for obj in doc.get("schema") or [] if isinstance(obj, dict)}
        for i, sla in enumerate(doc.get("slaProperties") or []):
            if isinstance(sla, dict) and sla.get("property") in DURATION_PROPERTIES:
                problems = {"value": value_problem(sla.get("value")), "unit": unit_problem(sla.get("unit"))}
                for key, problem in problems.items():
                    if problem:
                        self.add(f"slaProperties[{i}].{key}", problem)
            element = sla.get("element") if isinstance(sla, dict) else None
            for ref in (element or "").split(","):
                table, _, column = ref.strip().partition(".")
                if table in objects and column:
                    names = {
                        p.get("name") for p in objects[table].get("properties") or [] if isinstance(p, dict)
                    }
                    if column not in names:
                        self.add(f"slaProperties[{i}].element", f"'{table}' has no property '{column}'")


def lint_document(doc: Any, file: str, dictionary: Dictionary) -> list[Problem]:
    linter = _Linter(file, dictionary)
    if not isinstance(doc, dict):
        linter.add("-", "a contract must be a YAML mapping")
        return linter.problems
    api_version = doc.get("apiVersion")
    if isinstance(api_version, str) and api_version in ODCS_SCHEMAS:
        errors = odcs_validator(api_version).iter_errors(doc)
        for error in sorted(errors, key=lambda e: list(e.path)):
            linter.add(_path(error.path), f"ODCS schema {api_version}: {error.message}")
    else:
        given = "is missing" if api_version is None else f"{api_version!r} is not supported"
        linter.add("apiVersion", f"ODCS version {given}; supported: {', '.join(ODCS_SCHEMAS)}")
    linter.contract_level(doc)
    linter.schema_objects(doc)
    linter.sla(doc)
    return linter.problems


def lint_file(path: Path, dictionary: Dictionary) -> list[Problem]:
    file = str(path)
    try:
        doc = load_yaml(path)
    except FileNotFoundError:
        return [Problem(file, "-", "no such file")]
    except ContractError as exc:
        return [Problem(file, exc.path or "-", exc.message)]
    return lint_document(doc, file, dictionary)

"""`datahub contract lint`: everything that can be wrong with a contract, each with file, path and reason.

Checks, in order: the file reads as YAML; it validates against the ODCS JSON Schema shipped with
`open-data-contract-standard` (v3.2.0, which accepts every v3.x contract); our custom properties have
valid values and every reference into the dictionary exists; every quality rule compiles; SLA
elements and primary-key positions make sense. A contract without our custom properties is linted
as plain ODCS.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from datahub.contracts.loader import LOGICAL_TO_ELEMENT
from datahub.contracts.model import DeliveryFormat, Desensitise, PublishMode, SharingClass
from datahub.contracts.yaml_io import load_yaml
from datahub.dictionary import Dictionary, PersonalClass, Problem
from datahub.quality.rules import RuleError, compile_rule

DELIVERY_KEYS = ("format", "encoding", "publishMode", "sheet")


@cache
def odcs_schema() -> dict[str, Any]:
    text = (resources.files("open_data_contract_standard") / "schema.json").read_text(encoding="utf-8")
    return dict(json.loads(text))


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

    def contract_level(self, doc: dict[str, Any]) -> None:
        custom = _custom(doc.get("customProperties"))
        where = "customProperties"
        if "ownerDepartment" in custom and custom["ownerDepartment"] not in self.dictionary.codes(
            "department"
        ):
            self.add(f"{where}.ownerDepartment", f"'{custom['ownerDepartment']}' is not a department code")
        if "sharingClass" in custom and custom["sharingClass"] not in SharingClass.__members__.values():
            self.add(f"{where}.sharingClass", f"must be one of {', '.join(SharingClass)}")
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
            if delivery.get("format", "csv") not in DeliveryFormat.__members__.values():
                self.add(f"{where}.delivery.format", f"must be one of {', '.join(DeliveryFormat)}")
            if delivery.get("publishMode", "append") not in PublishMode.__members__.values():
                self.add(f"{where}.delivery.publishMode", f"must be one of {', '.join(PublishMode)}")
            encoding = delivery.get("encoding", "auto")
            if encoding != "auto":
                try:
                    "".encode(encoding)
                except LookupError:
                    self.add(f"{where}.delivery.encoding", f"unknown encoding '{encoding}'")

    def prop(self, prop: dict[str, Any], where: str) -> None:
        custom = _custom(prop.get("customProperties"))
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
        if "personalClass" in custom and custom["personalClass"] not in PersonalClass.__members__.values():
            self.add(f"{where}.customProperties.personalClass", f"must be one of {', '.join(PersonalClass)}")
        if "desensitise" in custom and custom["desensitise"] not in Desensitise.__members__.values():
            self.add(f"{where}.customProperties.desensitise", f"must be one of {', '.join(Desensitise)}")
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
            self.rules(obj.get("quality"), where, None)
            props = [p for p in obj.get("properties") or [] if isinstance(p, dict)]
            for j, prop in enumerate(props):
                self.prop(prop, f"{where}.properties[{j}]")
            positions = [p.get("primaryKeyPosition") for p in props if p.get("primaryKey")]
            given = [p for p in positions if p is not None and p != -1]
            if len(given) != len(set(given)):
                self.add(where, "primaryKeyPosition values repeat")

    def sla(self, doc: dict[str, Any]) -> None:
        """An SLA element naming one of this contract's tables must name one of its properties
        (an element may also point at another contract's table, which is not checked here)."""
        objects = {obj.get("name"): obj for obj in doc.get("schema") or [] if isinstance(obj, dict)}
        for i, sla in enumerate(doc.get("slaProperties") or []):
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
    validator = jsonschema.validators.validator_for(odcs_schema())(odcs_schema())
    for error in sorted(validator.iter_errors(doc), key=lambda e: list(e.path)):
        linter.add(_path(error.path), f"ODCS schema: {error.message}")
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
    except UnicodeDecodeError as exc:
        return [Problem(file, "-", f"not UTF-8 (byte offset {exc.start})")]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "-"
        return [Problem(file, where, f"not valid YAML: {getattr(exc, 'problem', exc)}")]
    return lint_document(doc, file, dictionary)

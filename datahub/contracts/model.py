"""A dataset as the platform sees it: an ODCS v3 contract read together with the dictionary.

ODCS carries what it has fields for (names, types, required, primary keys, SLAs); what it has not
goes into ``customProperties`` (documented in docs/contracts.md):

contract level   ownerDepartment, sharingClass, channel, delivery {format, encoding, publishMode, sheet},
                 kAnonymity (the k its quasi-identifiers must reach when shared; default 5)
schema object    ignoredColumns (delivered columns dropped unread: not refused as undeclared),
                 partitioning (the lake table's partition spec: [{column, transform}])
property level   dictionaryElement, crosswalk, personalClass, desensitise

These are declared once here (``CUSTOM_PROPERTIES``) for the loader and lint: any other custom property is
an error, since a misspelt one would leave the default in force without a word. A code (``sharingClass``,
``publishMode``, ``personalClass``, ``desensitise``) may be written as its Chinese name (``CODE_NAMES``).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

from open_data_contract_standard.model import OpenDataContractStandard

from datahub.dictionary import PERSONAL_CLASS_NAMES, DataElement, ElementType, PersonalClass


class SharingClass(StrEnum):
    unconditional = "unconditional"  # 无条件共享
    conditional = "conditional"  # 有条件共享
    not_shared = "not_shared"  # 不予共享


class DeliveryFormat(StrEnum):
    csv = "csv"
    jsonl = "jsonl"
    parquet = "parquet"
    excel = "excel"


class PublishMode(StrEnum):
    append = "append"  # each delivery adds rows; keys must be new
    replacement = "replace"  # each delivery is the whole dataset (a stock or a census)


class Desensitise(StrEnum):
    keep = "keep"
    mask = "mask"  # keep the shape, hide the middle (phones and cards keep their last four digits)
    redact = "redact"  # drop the value
    scan = "scan"  # free text: detect personal data inside and mask it in place
    pseudonym = "pseudonym"  # a keyed token (HMAC-SHA256): the same value gives the same token everywhere
    generalise = "generalise"  # coarser: an address to its street, a birth date to its year, an age to a band


SHARING_CLASS_NAMES = {
    SharingClass.unconditional: "无条件共享",
    SharingClass.conditional: "有条件共享",
    SharingClass.not_shared: "不予共享",
}
PUBLISH_MODE_NAMES = {PublishMode.append: "追加", PublishMode.replacement: "全量替换"}
# GB/T 37964 terms where the standard has one (屏蔽, 假名化, 泛化).
DESENSITISE_NAMES = {
    Desensitise.keep: "保留",
    Desensitise.mask: "屏蔽",
    Desensitise.redact: "删除",
    Desensitise.scan: "扫描屏蔽",
    Desensitise.pseudonym: "假名化",
    Desensitise.generalise: "泛化",
}
CODE_NAMES: dict[type[StrEnum], Mapping[Any, str]] = {
    SharingClass: SHARING_CLASS_NAMES,
    PublishMode: PUBLISH_MODE_NAMES,
    Desensitise: DESENSITISE_NAMES,
    PersonalClass: PERSONAL_CLASS_NAMES,
}
"""The Chinese name of each code a contract may write; the name is accepted wherever the code is."""

Code = TypeVar("Code", bound=StrEnum)


def parse_code(kind: type[Code], value: Any) -> Code:
    """The member of ``kind`` written as its code or its Chinese name; ValueError listing both otherwise."""
    names = CODE_NAMES.get(kind, {})
    for member in kind:
        if value == member.value or value == names.get(member):
            return member
    allowed = ", ".join(f"{m.value} ({names[m]})" if m in names else m.value for m in kind)
    raise ValueError(f"'{value}' must be one of {allowed}")


DELIVERY_KEYS = ("format", "encoding", "publishMode", "sheet")
CUSTOM_PROPERTIES: dict[str, tuple[str, ...]] = {
    "contract": ("ownerDepartment", "sharingClass", "channel", "delivery", "kAnonymity"),
    "schema object": ("ignoredColumns", "partitioning"),
    "property": ("dictionaryElement", "crosswalk", "personalClass", "desensitise"),
}
"""The custom properties the platform reads, by where they are written."""

CODED_PROPERTIES: dict[str, type[StrEnum]] = {
    "sharingClass": SharingClass,
    "personalClass": PersonalClass,
    "desensitise": Desensitise,
}
CODED_DELIVERY_KEYS: dict[str, type[StrEnum]] = {"format": DeliveryFormat, "publishMode": PublishMode}


def custom_property_problems(names: list[str], level: str) -> list[tuple[str, str]]:
    """``(name, reason)`` for each custom property the platform does not read at ``level`` (a key of
    ``CUSTOM_PROPERTIES``), with the nearest known name, and for each given twice."""
    known = CUSTOM_PROPERTIES[level]
    problems = []
    for i, name in enumerate(names):
        if name in names[:i]:
            problems.append((name, f"custom property '{name}' given twice"))
        elif name not in known:
            by_lower = {k.lower(): k for k in known}
            near = difflib.get_close_matches(name.lower(), list(by_lower), n=1)
            reason = f"unknown custom property '{name}'"
            if near:
                reason += f" (did you mean '{by_lower[near[0]]}'?)"
            elsewhere = [where for where, names_there in CUSTOM_PROPERTIES.items() if name in names_there]
            if elsewhere:
                reason += f"; it is read on a {elsewhere[0]}, not on a {level}"
            elif known:
                reason += f"; known on a {level}: {', '.join(known)}"
            else:
                reason += f"; none is read on a {level}"
            problems.append((name, reason))
    return problems


def canonical_custom(name: str, value: Any) -> Any:
    """A custom property's value with codes written as Chinese names replaced by the codes (other values,
    unknown codes included, as they are), so that ``有条件共享`` and ``conditional`` compare equal."""

    def code(kind: type[StrEnum], v: Any) -> Any:
        try:
            return parse_code(kind, v).value
        except ValueError:
            return v

    if name in CODED_PROPERTIES:
        return code(CODED_PROPERTIES[name], value)
    if name == "delivery" and isinstance(value, dict):
        return {
            k: code(CODED_DELIVERY_KEYS[k], v) if k in CODED_DELIVERY_KEYS else v for k, v in value.items()
        }
    return value


DEFAULT_K = 5
"""The k a dataset's quasi-identifiers must reach when shared, unless its contract says otherwise."""


LOGICAL_TO_ELEMENT = {
    "string": ElementType.string,
    "integer": ElementType.integer,
    "number": ElementType.decimal,
    "date": ElementType.date,
    "timestamp": ElementType.timestamp,
    "boolean": ElementType.boolean,
}


@dataclass(frozen=True)
class Delivery:
    format: DeliveryFormat = DeliveryFormat.csv
    encoding: str = "auto"
    publish_mode: PublishMode = PublishMode.append
    sheet: str | None = None


@dataclass(frozen=True)
class Column:
    name: str
    physical_name: str
    type: ElementType
    required: bool = False
    primary_key: bool = False
    unique: bool = False
    element: DataElement | None = None
    crosswalk: str | None = None
    code_table: str | None = None
    desensitise: Desensitise = Desensitise.keep
    personal_class: PersonalClass = PersonalClass.none
    # What the values must satisfy: the dictionary element's rules and the contract's
    # logicalTypeOptions together (both patterns apply; the tighter bound wins).
    patterns: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    min_length: int | None = None
    max_length: int | None = None
    formats: tuple[str, ...] = ()  # strptime formats declared for dates and timestamps

    @property
    def free_text(self) -> bool:
        return self.element.free_text if self.element else False


@dataclass(frozen=True)
class PartitionField:
    """One field of the lake table's partition spec: a column and an Iceberg transform (``identity``,
    ``year``, ``month``, ``day``, ``hour``, ``bucket[N]``, ``truncate[W]``)."""

    column: str
    transform: str


@dataclass(frozen=True)
class Dataset:
    name: str
    title: str
    version: str
    owner_department: str | None
    sharing_class: SharingClass
    channel: str | None
    delivery: Delivery
    columns: tuple[Column, ...]
    path: Path
    contract: OpenDataContractStandard = field(repr=False, compare=False)
    raw: dict[str, Any] = field(repr=False, compare=False, default_factory=dict)
    k_anonymity: int = DEFAULT_K
    # Delivered columns (or JSON objects, with every field nested in them) dropped before anything is kept.
    ignored_columns: tuple[str, ...] = ()
    partitioning: tuple[PartitionField, ...] = ()

    @property
    def key_columns(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.primary_key)

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

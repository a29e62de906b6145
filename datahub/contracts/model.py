"""A dataset as the platform sees it: an ODCS v3 contract read together with the dictionary.

ODCS carries what it has fields for (names, types, required, primary keys, SLAs); what it has not
goes into ``customProperties`` (documented in docs/contracts.md):

contract level   ownerDepartment, sharingClass, channel, delivery {format, encoding, publishMode, sheet},
                 kAnonymity (the k its quasi-identifiers must reach when shared; default 5)
property level   dictionaryElement, crosswalk, desensitise
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from open_data_contract_standard.model import OpenDataContractStandard

from datahub.dictionary import DataElement, ElementType, PersonalClass


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

    @property
    def key_columns(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.primary_key)

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

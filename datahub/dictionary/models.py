"""Typed models of the unified data dictionary: data elements, code tables and crosswalks."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator

from datahub.dictionary.calendar import WorkCalendar


class PersonalClass(StrEnum):
    """Personal-data class of a data element (GB/T 37964 terms)."""

    direct_identifier = "direct_identifier"  # 直接标识符
    quasi_identifier = "quasi_identifier"  # 准标识符
    sensitive = "sensitive"  # 敏感信息
    none = "none"


PERSONAL_CLASS_NAMES = {
    PersonalClass.direct_identifier: "直接标识符",
    PersonalClass.quasi_identifier: "准标识符",
    PersonalClass.sensitive: "敏感信息",
    PersonalClass.none: "非个人信息",
}


class ElementType(StrEnum):
    string = "string"
    integer = "integer"
    decimal = "decimal"
    date = "date"
    timestamp = "timestamp"
    boolean = "boolean"


class Validator(StrEnum):
    """Check-character validators for identifiers whose pattern alone is not enough."""

    cn_resident_id = "cn_resident_id"  # GB 11643, ISO 7064 MOD 11-2
    cn_uscc = "cn_uscc"  # GB 32100, mod 31
    cn_mobile = "cn_mobile"  # mainland mobile number plan


class DataElement(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name_zh: str
    name_en: str
    type: ElementType
    pattern: str | None = None
    validator: Validator | None = None
    code_table: str | None = None
    min: float | None = None
    max: float | None = None
    max_length: int | None = None
    unit: str | None = None
    personal_class: PersonalClass = PersonalClass.none
    free_text: bool = False
    description: str

    @field_validator("pattern")
    @classmethod
    def _pattern_compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"pattern does not compile: {exc}") from exc
        return value


class CodeTableSpec(BaseModel):
    """An entry of code_tables.yaml: where a code table lives and what it is."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name_zh: str
    name_en: str
    file: str
    parent: str | None = None
    description: str = ""


class CrosswalkSpec(BaseModel):
    """An entry of crosswalks.yaml: a department's local codes mapped onto a unified code table."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name_zh: str
    department: str
    target: str
    file: str
    description: str = ""


@dataclass(frozen=True)
class Code:
    code: str
    name_zh: str
    name_en: str
    parent: str | None = None
    attributes: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class CodeTable:
    spec: CodeTableSpec
    codes: dict[str, Code]

    @property
    def id(self) -> str:
        return self.spec.id

    def lookup(self) -> dict[str, str]:
        """Every accepted spelling (code, Chinese name, traditional-form aliases) mapped to its code."""
        out: dict[str, str] = {}
        for c in self.codes.values():
            for alias in filter(None, c.attributes.get("aliases", "").split("|")):
                out[alias.strip()] = c.code
            out[c.name_zh] = c.code
        out.update({c: c for c in self.codes})
        return out


@dataclass(frozen=True)
class Crosswalk:
    spec: CrosswalkSpec
    mapping: dict[str, str]

    @property
    def id(self) -> str:
        return self.spec.id


@dataclass(frozen=True)
class Dictionary:
    elements: dict[str, DataElement]
    code_tables: dict[str, CodeTable]
    crosswalks: dict[str, Crosswalk]
    calendar: WorkCalendar = field(default_factory=WorkCalendar)  # calendar.yaml: working days

    def element(self, element_id: str) -> DataElement:
        return self.elements[element_id]

    def codes(self, table_id: str) -> dict[str, Code]:
        return self.code_tables[table_id].codes

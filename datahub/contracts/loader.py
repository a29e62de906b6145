"""Read ODCS v3 contracts into Datasets, resolving every reference into the dictionary."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from open_data_contract_standard.model import OpenDataContractStandard, SchemaProperty
from pydantic import ValidationError

from datahub.contracts.model import (
    DEFAULT_K,
    LOGICAL_TO_ELEMENT,
    Column,
    Dataset,
    Delivery,
    DeliveryFormat,
    Desensitise,
    PartitionField,
    PublishMode,
    SharingClass,
    custom_property_problems,
    parse_code,
)
from datahub.contracts.sla import DURATION_PROPERTIES, sla_duration
from datahub.contracts.yaml_io import load_yaml, load_yaml_text
from datahub.dictionary import Dictionary, ElementType, PersonalClass
from datahub.errors import ContractError, NotFound

CONTRACT_GLOB = "*.odcs.yaml"


def _custom(items: list[Any] | None, level: str, file: str, where: str) -> dict[str, Any]:
    """The custom properties of a contract, schema object or property; an unknown one is an error."""
    names = [c.property for c in items or [] if c.property]
    problems = custom_property_problems(names, level)
    if problems:
        name, reason = problems[0]
        raise ContractError(reason, file=file, path=".".join(filter(None, (where, "customProperties", name))))
    return {c.property: c.value for c in items or [] if c.property}


def contract_files(path: Path) -> list[Path]:
    """The contract at ``path``, or every contract (``*.odcs.yaml``) beneath a directory, recursively."""
    path = Path(path)
    if path.is_dir():
        found = sorted(path.rglob(CONTRACT_GLOB))
        if not found:
            raise NotFound(f"no contract ({CONTRACT_GLOB}) beneath this directory", file=str(path))
        return found
    if path.is_file():
        return [path]
    raise NotFound("no such file or directory", file=str(path))


_TEMPORAL = (ElementType.date, ElementType.timestamp)
# ODCS examples write formats the Java way (yyyy-MM-dd HH:mm:ss); strptime formats pass through.
_JAVA_TOKENS = (
    ("yyyy", "%Y"),
    ("MM", "%m"),
    ("dd", "%d"),
    ("HH", "%H"),
    ("hh", "%I"),
    ("mm", "%M"),
    ("ss", "%S"),
    ("SSS", "%.f"),
    ("a", "%p"),
    ("Z", "%z"),
    ("XXX", "%:z"),
)


def strptime_format(declared: str) -> str:
    """A date or time format of a contract as a strptime format."""
    if "%" in declared:
        return declared
    out = declared
    for token, directive in _JAVA_TOKENS:
        out = out.replace(token, directive)
    return out


def _tighter(pick: Any, *bounds: float | None) -> float | None:
    present = [b for b in bounds if b is not None]
    return pick(present) if present else None


def _int(value: float | None) -> int | None:
    return None if value is None else int(value)


def _default_desensitise(column_type: ElementType, personal: PersonalClass, free_text: bool) -> Desensitise:
    if free_text:
        return Desensitise.scan
    if personal is PersonalClass.direct_identifier:
        return Desensitise.mask
    if personal is PersonalClass.quasi_identifier:
        return Desensitise.generalise
    return Desensitise.keep


def _column(prop: SchemaProperty, dictionary: Dictionary, file: str, where: str) -> Column:
    custom = _custom(prop.customProperties, "property", file, where)
    element = None
    element_id = custom.get("dictionaryElement")
    if element_id is not None:
        element = dictionary.elements.get(element_id)
        if element is None:
            raise ContractError(f"unknown dictionary element '{element_id}'", file=file, path=where)
    if element is not None:
        column_type = element.type
    else:
        logical = prop.logicalType or "string"
        column_type = LOGICAL_TO_ELEMENT.get(logical, ElementType.string)
    crosswalk = custom.get("crosswalk")
    if crosswalk is not None and crosswalk not in dictionary.crosswalks:
        raise ContractError(f"unknown crosswalk '{crosswalk}'", file=file, path=where)
    # A plain ODCS contract without our properties: every string column is scanned for personal data.
    free_text = element.free_text if element else column_type is ElementType.string
    try:
        personal = parse_code(
            PersonalClass,
            custom.get("personalClass") or (element.personal_class if element else PersonalClass.none),
        )
    except ValueError as exc:
        raise ContractError(f"unknown personal-data class: {exc}", file=file, path=where) from exc
    try:
        desensitise = parse_code(
            Desensitise, custom.get("desensitise") or _default_desensitise(column_type, personal, free_text)
        )
    except ValueError as exc:
        raise ContractError(f"unknown desensitise method: {exc}", file=file, path=where) from exc
    options = prop.logicalTypeOptions or {}
    return Column(
        name=prop.name or "",
        physical_name=prop.physicalName or prop.name or "",
        type=column_type,
        required=bool(prop.required),
        primary_key=bool(prop.primaryKey),
        unique=bool(prop.unique),
        element=element,
        crosswalk=crosswalk,
        code_table=element.code_table if element else None,
        desensitise=desensitise,
        personal_class=personal,
        patterns=tuple(p for p in (element.pattern if element else None, options.get("pattern")) if p),
        minimum=_tighter(max, element.min if element else None, options.get("minimum")),
        maximum=_tighter(min, element.max if element else None, options.get("maximum")),
        min_length=options.get("minLength"),
        max_length=_int(_tighter(min, element.max_length if element else None, options.get("maxLength"))),
        formats=(strptime_format(options["format"]),)
        if column_type in _TEMPORAL and "format" in options
        else (),
    )


def _ignored_columns(value: Any, columns: tuple[Column, ...], file: str, where: str) -> tuple[str, ...]:
    """The ``ignoredColumns`` of a schema object: delivered names, none of them a declared column."""
    path = f"{where}.customProperties.ignoredColumns"
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ContractError("ignoredColumns must be a list of column names", file=file, path=path)
    declared = {c.physical_name for c in columns}
    for name in value:
        if name in declared:
            raise ContractError(
                f"{name} is declared by the contract and cannot be ignored", file=file, path=path
            )
    return tuple(dict.fromkeys(value))


_TRANSFORM = re.compile(r"identity|year|month|day|hour|(?:bucket|truncate)\[[1-9]\d*\]")
_TIME_TRANSFORMS = {"year": _TEMPORAL, "month": _TEMPORAL, "day": _TEMPORAL, "hour": (ElementType.timestamp,)}


def _partitioning(
    value: Any, columns: tuple[Column, ...], file: str, where: str
) -> tuple[PartitionField, ...]:
    """The ``partitioning`` of a schema object: ``[{column, transform}]``, each a declared column and an
    Iceberg transform its type allows."""
    path = f"{where}.customProperties.partitioning"
    if value is None:
        return ()
    if not isinstance(value, list) or not value:
        raise ContractError("partitioning must be a list of {column, transform}", file=file, path=path)
    by_name = {c.name: c for c in columns}
    fields = []
    for i, item in enumerate(value):
        if not isinstance(item, dict) or set(item) != {"column", "transform"}:
            raise ContractError("each partition field is {column, transform}", file=file, path=f"{path}[{i}]")
        name, transform = item["column"], str(item["transform"])
        column = by_name.get(name) if isinstance(name, str) else None
        if column is None:
            raise ContractError(f"unknown column '{name}'", file=file, path=f"{path}[{i}]")
        if not _TRANSFORM.fullmatch(transform):
            allowed = "identity, year, month, day, hour, bucket[N], truncate[W]"
            raise ContractError(
                f"unknown transform '{transform}' ({allowed})", file=file, path=f"{path}[{i}]"
            )
        if column.type not in _TIME_TRANSFORMS.get(transform, (column.type,)):
            raise ContractError(
                f"transform '{transform}' needs a date or timestamp column, {column.name} is {column.type}",
                file=file,
                path=f"{path}[{i}]",
            )
        fields.append(PartitionField(column.name, transform))
    if len(set(fields)) < len(fields):
        raise ContractError("a partition field is given twice", file=file, path=path)
    return tuple(fields)


def load_contract(path: Path, dictionary: Dictionary) -> list[Dataset]:
    """One Dataset per schema object of the contract at ``path``."""
    try:
        raw = load_yaml(path)
    except ContractError:
        raise
    except Exception as exc:
        raise ContractError(f"cannot be read: {exc}", file=str(path)) from exc
    return contract_datasets(raw, Path(path), dictionary)


def load_contract_text(text: str, source: str, dictionary: Dictionary) -> list[Dataset]:
    """One Dataset per schema object of a contract's YAML ``text`` (as registered); ``source`` names it."""
    return contract_datasets(load_yaml_text(text, source=source), Path(source), dictionary)


def contract_datasets(raw: Any, path: Path, dictionary: Dictionary) -> list[Dataset]:
    """One Dataset per schema object of a contract read as plain data (``path`` names it)."""
    file = str(path)
    try:
        contract = OpenDataContractStandard.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise ContractError(err["msg"], file=file, path=".".join(map(str, err["loc"]))) from exc
    except ContractError:
        raise
    except Exception as exc:
        raise ContractError(f"cannot be read: {exc}", file=file) from exc
    custom = _custom(contract.customProperties, "contract", file, "")
    try:
        sharing = parse_code(SharingClass, custom.get("sharingClass", SharingClass.conditional))
        delivery_raw = dict(custom.get("delivery") or {})
        delivery = Delivery(
            format=parse_code(DeliveryFormat, delivery_raw.get("format", "csv")),
            encoding=str(delivery_raw.get("encoding", "auto")),
            publish_mode=parse_code(PublishMode, delivery_raw.get("publishMode", "append")),
            sheet=delivery_raw.get("sheet"),
        )
        k = int(custom.get("kAnonymity", DEFAULT_K))
        if k < 1:
            raise ValueError(f"kAnonymity must be at least 1, not {k}")
    except ValueError as exc:
        raise ContractError(str(exc), file=file, path="customProperties") from exc
    owner = custom.get("ownerDepartment")
    if owner is not None and owner not in dictionary.codes("department"):
        raise ContractError(
            f"unknown department '{owner}'", file=file, path="customProperties.ownerDepartment"
        )
    for i, sla in enumerate(contract.slaProperties or []):
        if sla.property in DURATION_PROPERTIES:
            try:
                sla_duration(sla.value, sla.unit)
            except ValueError as exc:
                raise ContractError(str(exc), file=file, path=f"slaProperties[{i}]") from exc
    datasets = []
    for i, obj in enumerate(contract.schema_ or []):
        object_custom = _custom(obj.customProperties, "schema object", file, f"schema[{i}]")
        columns = tuple(
            _column(prop, dictionary, file, f"schema[{i}].properties[{j}] {prop.name}")
            for j, prop in enumerate(obj.properties or [])
        )
        ignored = _ignored_columns(object_custom.get("ignoredColumns"), columns, file, f"schema[{i}]")
        partitioning = _partitioning(object_custom.get("partitioning"), columns, file, f"schema[{i}]")
        if not columns:
            raise ContractError("schema object has no properties", file=file, path=f"schema[{i}]")
        if not obj.name:
            raise ContractError("schema object has no name", file=file, path=f"schema[{i}]")
        datasets.append(
            Dataset(
                name=obj.name,
                title=contract.name or obj.name,
                version=contract.version or "0.0.0",
                owner_department=owner,
                sharing_class=sharing,
                channel=custom.get("channel"),
                delivery=delivery,
                columns=columns,
                path=Path(path),
                contract=contract,
                raw=raw,
                k_anonymity=k,
                ignored_columns=ignored,
                partitioning=partitioning,
            )
        )
    return datasets


class Catalog:
    """Every dataset declared by the contracts in a directory."""

    def __init__(self, datasets: list[Dataset]) -> None:
        self._datasets = {d.name: d for d in datasets}

    @classmethod
    def load(cls, contracts_dir: Path, dictionary: Dictionary) -> Catalog:
        """The contracts of a directory as they are (``datahub check`` and tests; what runs is
        ``Catalog.registered``)."""
        datasets: list[Dataset] = []
        for path in sorted(Path(contracts_dir).glob(CONTRACT_GLOB)):
            datasets.extend(load_contract(path, dictionary))
        return cls._checked(datasets, str(contracts_dir))

    @classmethod
    def registered(cls, versions: list[tuple[str, str]], dictionary: Dictionary) -> Catalog:
        """The datasets of registered contract texts, each given as (source name, YAML text)."""
        datasets: list[Dataset] = []
        for source, text in versions:
            datasets.extend(_registered_datasets(source, text, dictionary))
        return cls._checked(datasets, "the contract registry")

    @classmethod
    def _checked(cls, datasets: list[Dataset], where: str) -> Catalog:
        names = [d.name for d in datasets]
        dupes = {n for n in names if names.count(n) > 1}
        if dupes:
            raise ContractError(f"dataset declared twice: {', '.join(sorted(dupes))}", file=where)
        return cls(datasets)

    def __iter__(self) -> Iterator[Dataset]:
        return iter(self._datasets.values())

    def __len__(self) -> int:
        return len(self._datasets)

    @property
    def names(self) -> list[str]:
        return list(self._datasets)

    def get(self, name: str) -> Dataset:
        try:
            return self._datasets[name]
        except KeyError:
            known = ", ".join(self._datasets) or "none"
            raise NotFound(
                f"unknown dataset '{name}' (known: {known}); a dataset runs once its contract is "
                "registered: `datahub contract register FILE` or POST /api/v1/contracts"
            ) from None


_READ: dict[tuple[str, str], tuple[Dictionary, tuple[Dataset, ...]]] = {}


def _registered_datasets(source: str, text: str, dictionary: Dictionary) -> tuple[Dataset, ...]:
    """A registered text's datasets, read once per process and dictionary (a registered version never
    changes)."""
    known = _READ.get((source, text))
    if known is not None and known[0] is dictionary:
        return known[1]
    if len(_READ) > 256:
        _READ.clear()
    datasets = tuple(load_contract_text(text, source, dictionary))
    _READ[(source, text)] = (dictionary, datasets)
    return datasets

"""Per-column desensitisation policy: which masking each column of a dataset gets, from its contract.

The contract's ``desensitise`` property (or the default from the dictionary's personal-data class)
chooses the method; the dictionary element chooses the shape of the mask.
"""

from __future__ import annotations

import polars as pl

from datahub.contracts import Column, Dataset, Desensitise
from datahub.dictionary import PersonalClass, Validator
from datahub.privacy.masking import mask_column, scan_text_column

_KIND_BY_VALIDATOR = {Validator.cn_mobile: "mobile_phone", Validator.cn_resident_id: "resident_id"}
_KIND_BY_ELEMENT = {"person_name": "person_name", "address": "address"}


def mask_kind(column: Column) -> str:
    """The mask shape for a column: phones keep their last four digits, names their surname…"""
    element = column.element
    if element is None:
        return "generic"
    if element.validator in _KIND_BY_VALIDATOR:
        return _KIND_BY_VALIDATOR[element.validator]
    return _KIND_BY_ELEMENT.get(element.id, "generic")


def desensitise(frame: pl.DataFrame, dataset: Dataset) -> tuple[pl.DataFrame, dict[str, int]]:
    """The frame as it may be shared, and how many values of each kind were masked."""
    counts: dict[str, int] = {}
    replaced = []
    for column in dataset.columns:
        if column.name not in frame.columns or column.desensitise is Desensitise.keep:
            continue
        series = frame.get_column(column.name)
        if column.desensitise is Desensitise.redact:
            out = pl.Series(column.name, [None] * frame.height, dtype=series.dtype)
            counts[f"{column.name}:redacted"] = int(series.is_not_null().sum())
        elif column.desensitise is Desensitise.mask:
            out = mask_column(series.cast(pl.String), mask_kind(column))
            counts[f"{column.name}:masked"] = int(series.is_not_null().sum())
        else:
            out, found = scan_text_column(series.cast(pl.String))
            for entity, n in found.items():
                counts[f"{column.name}:{entity}"] = n
        replaced.append(out.alias(column.name))
    return frame.with_columns(replaced), counts


def mask_for_quarantine(column: Column, values: pl.Series) -> pl.Series:
    """Values of personal columns as written into quarantine reasons: masked, never raw."""
    if column.personal_class in (PersonalClass.direct_identifier, PersonalClass.quasi_identifier):
        return mask_column(values, mask_kind(column))
    if column.element is not None and column.element.free_text:
        return scan_text_column(values)[0]
    return values

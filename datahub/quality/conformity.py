"""Conformity (规范性): map a raw delivery onto the dictionary, or quarantine each row with its reasons.

For every contract column the raw text is normalised (NFKC folds full-width digits and letters;
separators in phone numbers go), then checked and typed from the dictionary element behind it:
required values, types, patterns and check characters, ranges, code tables (by code, Chinese name
or alias) and crosswalks from local codes to unified codes. Primary keys must be unique within the
delivery and, for append-mode datasets, new against what is already published.

Everything runs column-wise in polars; Python only sees the distinct values of check-character
columns. A row with any failure goes to quarantine with every reason found, so a department fixes
all of a row's problems at once.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import polars as pl

from datahub.contracts import Column, Dataset
from datahub.dictionary import Dictionary, ElementType
from datahub.dictionary.validators import COLUMN_VALIDATORS, NORMALISERS, VALIDATORS
from datahub.quality.reasons import Reason

LINEAGE = ("_source_file", "_row_number", "_ingested_at", "_file_hash")
REASONS_COLUMN = "_reasons"
REASONS_DTYPE = pl.List(pl.Struct({"reason": pl.String, "column": pl.String, "value": pl.String}))

# Timestamps as departments write them; all become naive local time (Asia/Shanghai).
TIMESTAMP_FORMATS = (
    "%Y-%m-%d %H:%M:%S",
    "%Y/%m/%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M",
    "%Y/%m/%d %H:%M",
    "%Y年%m月%d日 %H:%M:%S",
    "%Y年%m月%d日 %H:%M",
)
ZONED_TIMESTAMP_FORMATS = ("%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%d %H:%M:%S%z")
DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y%m%d", "%Y年%m月%d日")
LOCAL_ZONE = "Asia/Shanghai"
TRUE_WORDS = ("true", "1", "是", "y", "yes", "已办结", "已解决", "t")
FALSE_WORDS = ("false", "0", "否", "n", "no", "未办结", "未解决", "f")

# Masks values of personal columns before they are written into quarantine reasons.
ValueMasker = Callable[[Column, pl.Series], pl.Series]


@dataclass(frozen=True)
class ConformResult:
    conformed: pl.DataFrame
    quarantine: pl.DataFrame
    reason_counts: list[tuple[str, str, int]]

    @property
    def rows_in(self) -> int:
        return self.conformed.height + self.quarantine.height


def _normalised(raw: pl.DataFrame, column: Column) -> pl.Series:
    if column.physical_name not in raw.columns:
        return pl.Series(column.name, [None] * raw.height, dtype=pl.String)
    text = raw.get_column(column.physical_name).cast(pl.String)
    if not column.free_text:
        # NFKC leaves ASCII as it is: only the values with other characters pay for it.
        wide = text.str.contains(r"[^\x00-\x7f]").fill_null(False).arg_true()
        if wide.len():
            text = text.scatter(wide, text.gather(wide).str.normalize("NFKC"))
    text = text.str.strip_chars()
    validator = column.element.validator if column.element else None
    for pattern, replacement in NORMALISERS.get(validator, ()) if validator else ():
        text = text.str.replace_all(pattern, replacement)
    return text.replace("", None).alias(column.name)


def _parser(fmt: str, column_type: ElementType) -> pl.Expr:
    v = pl.col("v")
    if "%z" in fmt or "%:z" in fmt:
        parsed = (
            v.str.strptime(pl.Datetime("us", "UTC"), fmt, strict=False)
            .dt.convert_time_zone(LOCAL_ZONE)
            .dt.replace_time_zone(None)
        )
    elif column_type is ElementType.date and not any(d in fmt for d in ("%H", "%I", "%M", "%S")):
        return v.str.strptime(pl.Date, fmt, strict=False)
    else:
        parsed = v.str.strptime(pl.Datetime("us"), fmt, strict=False)
    # A timestamp delivered for a date column keeps its date.
    return parsed.dt.date() if column_type is ElementType.date else parsed


def _temporal_parsers(column: Column) -> list[pl.Expr]:
    """The contract's declared formats first, then the formats departments commonly write."""
    common = (*DATE_FORMATS, *TIMESTAMP_FORMATS) if column.type is ElementType.date else TIMESTAMP_FORMATS
    formats = dict.fromkeys((*column.formats, *common, *ZONED_TIMESTAMP_FORMATS))
    return [_parser(f, column.type) for f in formats]


def _parse_temporal(text: pl.Series, column: Column) -> pl.Series:
    """Each format is tried only on the values no earlier format could parse (usually none)."""
    frame = text.to_frame("v")
    parsers = _temporal_parsers(column)
    result = frame.select(parsers[0]).to_series()
    for parser in parsers[1:]:
        todo = (result.is_null() & text.is_not_null()).arg_true()
        if todo.len() == 0:
            break
        parsed = frame[todo].select(parser).to_series()
        result = result.scatter(todo, parsed)
    return result


def _typed(
    text: pl.Series, column: Column, dictionary: Dictionary
) -> tuple[pl.Series, dict[Reason, pl.Series]]:
    """The typed column and, per reason, a mask of the rows failing it."""
    failures: dict[Reason, pl.Series] = {}
    present = text.is_not_null()
    element = column.element
    kind = column.type
    typed: pl.Series
    if column.crosswalk:
        mapping = dictionary.crosswalks[column.crosswalk].mapping
        typed = text.replace_strict(mapping, default=None, return_dtype=pl.String)
        failures[Reason.unmapped_code] = present & typed.is_null()
    elif column.code_table:
        typed = text.replace_strict(
            dictionary.code_tables[column.code_table].lookup(), default=None, return_dtype=pl.String
        )
        failures[Reason.unknown_code] = present & typed.is_null()
    elif kind in (ElementType.integer, ElementType.decimal):
        number = text.cast(pl.Float64, strict=False)
        if kind is ElementType.integer:
            whole = number.is_not_null() & (number == number.round(0))
            typed = pl.select(pl.when(whole).then(number).otherwise(None).cast(pl.Int64)).to_series()
        else:
            typed = number
        failures[Reason.invalid_type] = present & typed.is_null()
        too_small = (number < column.minimum) if column.minimum is not None else None
        too_big = (number > column.maximum) if column.maximum is not None else None
        bad = [m.fill_null(False) for m in (too_small, too_big) if m is not None]
        if bad:
            out = bad[0] if len(bad) == 1 else bad[0] | bad[1]
            failures[Reason.out_of_range] = out & typed.is_not_null()
    elif kind in (ElementType.timestamp, ElementType.date):
        typed = _parse_temporal(text, column)
        failures[Reason.invalid_type] = present & typed.is_null()
    elif kind is ElementType.boolean:
        lowered = text.str.to_lowercase()
        typed = pl.select(
            pl.when(lowered.is_in(TRUE_WORDS)).then(True).when(lowered.is_in(FALSE_WORDS)).then(False)
        ).to_series()
        failures[Reason.invalid_type] = present & typed.is_null()
    else:
        typed = text
        bad_format = pl.Series([False] * text.len())
        for pattern in column.patterns:
            bad_format = bad_format | (present & ~text.str.contains(f"^(?:{pattern})$").fill_null(True))
        validator = element.validator if element is not None else None
        if validator in COLUMN_VALIDATORS:
            bad_format = bad_format | (present & ~COLUMN_VALIDATORS[validator](text).fill_null(False))
        elif validator is not None:
            check = VALIDATORS[validator]
            distinct = text.drop_nulls().unique()
            valid = [v for v in distinct.to_list() if check(v)]
            bad_format = bad_format | (present & ~text.is_in(valid))
        if column.patterns or validator is not None:
            failures[Reason.invalid_format] = bad_format
        lengths = text.str.len_chars()
        too_long = (lengths > column.max_length) if column.max_length is not None else None
        too_short = (lengths < column.min_length) if column.min_length is not None else None
        for mask in (too_long, too_short):
            if mask is not None:
                failures[Reason.out_of_range] = failures.get(
                    Reason.out_of_range, pl.Series([False] * text.len())
                ) | (present & mask)
    if column.required:
        failures[Reason.missing_required] = ~present
    return typed.alias(column.name), {r: m.fill_null(False) for r, m in failures.items()}


def _duplicate_keys(
    typed: dict[str, pl.Series], keys: tuple[str, ...], published_keys: pl.DataFrame | None
) -> pl.Series | None:
    if not keys:
        return None
    frame = pl.DataFrame([typed[k] for k in keys])
    complete = frame.select(pl.all_horizontal(pl.all().is_not_null())).to_series()
    repeated = ~frame.select(pl.struct(keys).is_first_distinct()).to_series()
    duplicate = complete & repeated
    if published_keys is not None and published_keys.height:
        seen = (
            frame.with_row_index("_i")
            .join(published_keys.select(keys).unique(), on=list(keys), how="semi")
            .get_column("_i")
        )
        duplicate = duplicate | pl.Series(range(frame.height)).is_in(seen.implode())
    return duplicate


def _raw_text(raw: pl.DataFrame, column: Column) -> pl.Series:
    if column.physical_name in raw.columns:
        return raw.get_column(column.physical_name).cast(pl.String)
    return pl.Series([None] * raw.height, dtype=pl.String)


def conform(
    raw: pl.DataFrame,
    dataset: Dataset,
    dictionary: Dictionary,
    *,
    published_keys: pl.DataFrame | None = None,
    mask_value: ValueMasker | None = None,
) -> ConformResult:
    """Split a raw delivery into conformed rows and quarantined rows with reasons.

    A reason names the unified column (``a|b`` for a composite key) and carries the delivered value,
    masked when the column holds personal data.
    """
    typed: dict[str, pl.Series] = {}
    # (reason, column label, failing rows, the delivered values to show)
    checks: list[tuple[Reason, str, pl.Series, Callable[[pl.DataFrame], pl.Series]]] = []
    # Columns are independent and polars releases the GIL: check them on every core at once.
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        outcomes = list(pool.map(lambda c: _typed(_normalised(raw, c), c, dictionary), dataset.columns))
    for column, (series, failures) in zip(dataset.columns, outcomes, strict=True):
        typed[column.name] = series

        def shown(rows: pl.DataFrame, column: Column = column) -> pl.Series:
            value = _raw_text(rows, column)
            return mask_value(column, value) if mask_value is not None else value

        checks.extend((reason, column.name, mask, shown) for reason, mask in failures.items())
    keys = dataset.key_columns
    duplicates = _duplicate_keys(typed, keys, published_keys)
    if duplicates is not None:
        key_columns = [dataset.column(k) for k in keys]

        def key_values(rows: pl.DataFrame) -> pl.Series:
            parts = pl.DataFrame([_raw_text(rows, c).alias(c.name) for c in key_columns])
            return parts.select(pl.concat_str(pl.all().fill_null(""), separator="|")).to_series()

        checks.append((Reason.duplicate_key, "|".join(keys), duplicates, key_values))

    failed = pl.Series("failed", [False] * raw.height)
    for _, _, mask, _ in checks:
        failed = failed | mask
    lineage = [c for c in LINEAGE if c in raw.columns]
    conformed = pl.DataFrame([*typed.values(), *(raw.get_column(c) for c in lineage)]).filter(~failed)

    # Reasons are built for the failing rows only: values are read and masked for those alone.
    quarantine = raw.filter(failed)
    reason_items = []
    counts = []
    for reason, label, mask, values in checks:
        n = int(mask.sum())
        if not n:
            continue
        counts.append((reason.value, label, n))
        item = pl.struct(reason=pl.lit(reason.value), column=pl.lit(label), value=pl.lit(values(quarantine)))
        reason_items.append(pl.when(pl.lit(mask.filter(failed))).then(item).otherwise(None))
    if reason_items:
        reasons = quarantine.select(pl.concat_list(reason_items).list.drop_nulls().alias(REASONS_COLUMN))
        quarantine = quarantine.with_columns(reasons.get_column(REASONS_COLUMN))
    else:
        quarantine = quarantine.with_columns(pl.Series(REASONS_COLUMN, [], dtype=REASONS_DTYPE))
    counts.sort(key=lambda item: -item[2])
    return ConformResult(conformed, quarantine, counts)

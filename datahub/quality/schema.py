"""The conformity (规范性) schema of a dataset: pandera checks derived from its contract and the dictionary.

The schema validates a frame that holds, for every contract column, the delivered text (normalised)
under the column's unified name and the value typed from the dictionary element under a hidden name
(``__typed__<name>``), so a check can tell "no value" from "a value that did not parse or map".
Every check is named with its stable :class:`Reason`, so pandera's failure cases (row index, column,
check) are the quarantine reasons as they are:

missing_required  the contract requires the column and the text is empty
invalid_type      text present, no number, date, time or boolean typed from it
spreadsheet_serial  a date or time column holds a spreadsheet's day number (``45579``), never guessed
ambiguous_date    day and month before the year in an order the value does not tell (``10/11/2024``) and
                  no declared format to settle it (:mod:`datahub.quality.temporal`)
out_of_range      the number is outside the element's minimum/maximum, or the text outside its lengths
invalid_format    the text fails the element's pattern or check character
unknown_code      text present but no code, name or alias of the element's code table
unmapped_code     text present but no entry of the department's crosswalk
duplicate_key     the typed primary key occurred earlier in the frame or is among the published keys;
                  checked on the key column, or on a ``a|b`` column of the joined key texts for a
                  composite key
duplicate_value   the typed value of a ``unique: true`` column occurred earlier in the frame or is among
                  the published values

The typed columns carry their dtype only, so a frame typed wrongly fails the schema itself.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Mapping

import pandera.polars as pa
import polars as pl
from pandera.config import ValidationDepth, config_context
from pandera.errors import SchemaErrors

from datahub.contracts import Column, Dataset, Desensitise
from datahub.dictionary import Dictionary, ElementType, Validator
from datahub.dictionary.validators import COLUMN_VALIDATORS, VALIDATORS, is_cn_resident_id
from datahub.quality.reasons import Reason
from datahub.quality.temporal import unread_reasons

# The reasons the schema's checks find (a reason of its own is a check's name).
CHECKED_REASONS = (
    Reason.missing_required,
    Reason.invalid_type,
    Reason.spreadsheet_serial,
    Reason.ambiguous_date,
    Reason.invalid_format,
    Reason.out_of_range,
    Reason.unknown_code,
    Reason.unmapped_code,
    Reason.duplicate_key,
    Reason.duplicate_value,
)
DUPLICATES = (Reason.duplicate_key, Reason.duplicate_value)  # checked last, against earlier rows
TYPED_PREFIX = "__typed__"
TYPED_DTYPES: dict[ElementType, pl.DataType] = {
    ElementType.string: pl.String(),
    ElementType.integer: pl.Int64(),
    ElementType.decimal: pl.Float64(),
    ElementType.date: pl.Date(),
    ElementType.timestamp: pl.Datetime("us"),
    ElementType.boolean: pl.Boolean(),
}
# The columns of failures(): row index in the validated frame, column label, reason, rank of the check.
FAILURES_SCHEMA = pl.Schema({"index": pl.Int64, "column": pl.String, "reason": pl.String, "rank": pl.Int64})
_SEEN = "__seen__"
_PROBE_ROWS = 1_000_000  # published keys joined with a frame at a time


def typed_name(name: str) -> str:
    return f"{TYPED_PREFIX}{name}"


def typed_dtype(column: Column) -> pl.DataType:
    """Codes stay text whatever the element's type; everything else is typed as the element says."""
    if column.crosswalk or column.code_table:
        return pl.String()
    return TYPED_DTYPES[column.type]


def key_label(dataset: Dataset) -> str:
    """The column a duplicate key is reported under: the key column, or ``a|b`` for a composite key."""
    return "|".join(dataset.key_columns)


def typed_keys(dataset: Dataset, keys: pl.DataFrame) -> pl.DataFrame:
    """Key columns of published (or earlier) rows in the dtypes the schema types them to."""
    return keys.select(pl.col(k).cast(typed_dtype(dataset.column(k))) for k in dataset.key_columns)


def unique_columns(dataset: Dataset) -> tuple[str, ...]:
    """The columns declared ``unique: true`` but a primary key of one column (its duplicates are
    ``duplicate_key``)."""
    single_key = dataset.key_columns if len(dataset.key_columns) == 1 else ()
    return tuple(c.name for c in dataset.columns if c.unique and c.name not in single_key)


def published_columns(dataset: Dataset) -> list[str]:
    """The columns of published rows that new rows are checked against: the key, and the unique columns
    published as delivered (kept, or scanned free text, which only changes where it holds personal
    data); a masked, pseudonymised, generalised or dropped value cannot be compared with a delivered one."""
    as_delivered = (Desensitise.keep, Desensitise.scan)
    unique = [name for name in unique_columns(dataset) if dataset.column(name).desensitise in as_delivered]
    return list(dict.fromkeys([*dataset.key_columns, *unique]))


def _bounds(low: float | None, high: float | None) -> str:
    parts = [f"at least {low}"] if low is not None else []
    if high is not None:
        parts.append(f"at most {high}")
    return " and ".join(parts)


def _row_check(reason: Reason, passes: pl.Expr, description: str) -> pa.Check:
    def check(data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(passes)

    return pa.Check(check, name=reason.value, ignore_na=False, description=description)


_CHECK_CHARACTERS = {**{str(d): d for d in range(10)}, "X": 10, "x": 10}


def _resident_ids_valid(values: pl.Series) -> pl.Series:
    """:func:`is_cn_resident_id` for a whole column, vectorised.

    Values of 17 ASCII digits and a check character are checked as integers (MOD 11-2 check
    character, calendar date); the region, which depends only on the prefix and the birth year, is
    looked up once per distinct pair. Values of any other shape that are ASCII letters and digits
    cannot be valid; what is left (other digits, other characters) goes to the validator itself.
    """
    shaped = values.str.contains(r"^[0-9]{17}[0-9Xx]$").fill_null(False)
    frame = (
        values.to_frame("v")
        .with_row_index("i")
        .filter(shaped)
        .select(
            "i",
            "v",
            n=pl.col("v").str.slice(0, 17).cast(pl.UInt64),
            last=pl.col("v").str.slice(17).replace_strict(_CHECK_CHARACTERS, return_dtype=pl.UInt64),
        )
    )
    n = pl.col("n")
    frame = frame.with_columns(
        check=(
            12 - pl.sum_horizontal((n // 10 ** (16 - i)) % 10 * pow(2, 17 - i, 11) for i in range(17)) % 11
        )
        % 11,
        year=(n // 10**7) % 10_000,
        month=(n // 10**5) % 100,
        day=(n // 10**3) % 100,
    )
    year, month, day = pl.col("year"), pl.col("month"), pl.col("day")
    leap = ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)
    month_days = (
        pl.when(month == 2)
        .then(28 + leap.cast(pl.UInt64))
        .when(month.is_in([4, 6, 9, 11]))
        .then(30)
        .otherwise(31)
    )
    frame = frame.select(
        "i",
        "v",
        "year",
        region=pl.col("v").str.slice(0, 6),
        ok=(pl.col("last") == pl.col("check"))
        & (year >= 1)
        & month.is_between(1, 12)
        & day.is_between(1, month_days),
    )
    # Each (region, year) pair is looked up on one of its own well-formed values.
    regions = (
        frame.filter("ok")
        .unique(["region", "year"], keep="any")
        .select("region", "year", known=pl.col("v").map_elements(is_cn_resident_id, return_dtype=pl.Boolean))
    )
    frame = frame.join(regions, on=["region", "year"], how="left").filter(pl.col("ok") & pl.col("known"))
    valid = pl.repeat(False, values.len(), eager=True).scatter(frame.get_column("i"), True)
    others = (~shaped & values.is_not_null()).arg_true()
    others = others.filter(values.gather(others).str.contains(r"[^0-9A-Za-z]"))
    if others.len():
        valid = valid.scatter(others, [is_cn_resident_id(v) for v in values.gather(others).to_list()])
    return valid


# Whole-column forms of the dictionary's validators; the others run once per distinct value.
_COLUMN_VALIDATORS: dict[Validator, Callable[[pl.Series], pl.Series]] = {
    **COLUMN_VALIDATORS,
    Validator.cn_resident_id: _resident_ids_valid,
}


def _validated(values: pl.Series, validator: Validator) -> pl.Series:
    if validator in _COLUMN_VALIDATORS:
        return _COLUMN_VALIDATORS[validator](values).fill_null(False)
    check = VALIDATORS[validator]
    valid = [v for v in values.drop_nulls().unique().to_list() if check(v)]
    return values.is_in(pl.Series(valid, dtype=pl.String).implode())


def _format_check(column: Column) -> pa.Check:
    """One invalid_format check for the patterns (element's and contract's) and the check character."""
    text = pl.col(column.name)
    matches = [text.str.contains(f"^(?:{p})$") for p in column.patterns]
    validator = column.element.validator if column.element else None
    described = " and ".join(
        [*(f"matches {p}" for p in column.patterns), *([validator] if validator else [])]
    )

    def check(data: pa.PolarsData) -> pl.LazyFrame:
        shaped = pl.all_horizontal(matches) if matches else pl.lit(True)
        frame = data.lazyframe.select(text, shaped.alias("ok")).collect()
        values, ok = frame.to_series(0), frame.to_series(1)
        if validator is not None:
            ok = ok & _validated(values, validator)
        return (values.is_null() | ok).to_frame().lazy()

    return pa.Check(check, name=Reason.invalid_format.value, ignore_na=False, description=described)


def _temporal_checks(column: Column) -> list[pa.Check]:
    """One check per reason a date or time may not be read (:func:`unread_reasons`), each passing every
    value but those the reason is given for."""
    text, typed = pl.col(column.name), pl.col(typed_name(column.name))
    what = f"text that reads as {column.type.value}"

    def check_for(reason: Reason) -> Callable[[pa.PolarsData], pl.LazyFrame]:
        def check(data: pa.PolarsData) -> pl.LazyFrame:
            frame = data.lazyframe.select(text, (text.is_not_null() & typed.is_null()).alias("unread"))
            values, unread = frame.collect().get_columns()
            rows = unread.arg_true()
            failing = rows.filter(
                unread_reasons(values.gather(rows), declared=bool(column.formats)) == reason
            )
            return pl.repeat(True, values.len(), eager=True).scatter(failing, False).to_frame().lazy()

        return check

    reasons = {
        Reason.invalid_type: what,
        Reason.spreadsheet_serial: f"{what}, not a spreadsheet serial number",
        Reason.ambiguous_date: f"{what} with day and month in an order the value tells",
    }
    if column.formats:
        reasons.pop(Reason.ambiguous_date)
    return [
        pa.Check(check_for(reason), name=reason.value, ignore_na=False, description=description)
        for reason, description in reasons.items()
    ]


def _column_checks(column: Column, dictionary: Dictionary) -> list[pa.Check]:
    text, typed = pl.col(column.name), pl.col(typed_name(column.name))
    parsed = text.is_null() | typed.is_not_null()
    checks = []
    if column.crosswalk:
        crosswalk = dictionary.crosswalks[column.crosswalk]
        checks.append(_row_check(Reason.unmapped_code, parsed, f"a local code of {crosswalk.spec.name_zh}"))
    elif column.code_table:
        table = dictionary.code_tables[column.code_table]
        checks.append(
            _row_check(Reason.unknown_code, parsed, f"a code, name or alias of {table.spec.name_zh}")
        )
    elif column.type is ElementType.string:
        if column.patterns or (column.element and column.element.validator):
            checks.append(_format_check(column))
        if column.min_length is not None or column.max_length is not None:
            length = text.str.len_chars()
            short = length < column.min_length if column.min_length is not None else pl.lit(False)
            long = length > column.max_length if column.max_length is not None else pl.lit(False)
            within = text.is_null() | ~(short | long)
            bounds = _bounds(column.min_length, column.max_length)
            checks.append(_row_check(Reason.out_of_range, within, f"a length {bounds}"))
    elif column.type in (ElementType.date, ElementType.timestamp):
        checks += _temporal_checks(column)
    else:
        checks.append(_row_check(Reason.invalid_type, parsed, f"text that reads as {column.type.value}"))
        if column.type in (ElementType.integer, ElementType.decimal) and (
            column.minimum is not None or column.maximum is not None
        ):
            small = typed < column.minimum if column.minimum is not None else pl.lit(False)
            big = typed > column.maximum if column.maximum is not None else pl.lit(False)
            within = typed.is_null() | ~(small | big)
            bounds = _bounds(column.minimum, column.maximum)
            checks.append(_row_check(Reason.out_of_range, within, bounds))
    if column.required:
        checks.append(_row_check(Reason.missing_required, text.is_not_null(), "a value"))
    return checks


def _duplicate_key_check(dataset: Dataset, published_keys: pl.DataFrame | None) -> pa.Check:
    keys = list(dataset.key_columns)
    known = (
        typed_keys(dataset, published_keys) if published_keys is not None and published_keys.height else None
    )
    complete = pl.all_horizontal(pl.col(k).is_not_null() for k in keys)
    earlier = ~(pl.struct(keys) if len(keys) > 1 else pl.col(keys[0])).is_first_distinct()

    def check(data: pa.PolarsData) -> pl.LazyFrame:
        frame = data.lazyframe.select(pl.col(typed_name(k)).alias(k) for k in keys).collect()
        if known is None:
            return frame.lazy().select(~(complete & earlier))
        # The published keys are many, the frame's few: find the published ones in the frame first,
        # a slice at a time, so the join's working memory does not grow with what is published.
        hits = pl.concat(part.join(frame, on=keys, how="semi") for part in known.iter_slices(_PROBE_ROWS))
        seen = hits.unique().with_columns(pl.lit(True).alias(_SEEN))
        frame = frame.join(seen, on=keys, how="left", maintain_order="left")
        return frame.lazy().select(~(complete & (earlier | pl.col(_SEEN).fill_null(False))))

    return pa.Check(check, name=Reason.duplicate_key.value, ignore_na=False, description="a new key")


def _duplicate_value_check(column: Column, seen: pl.Series | None) -> pa.Check:
    typed = typed_name(column.name)

    def check(data: pa.PolarsData) -> pl.LazyFrame:
        values = data.lazyframe.select(typed).collect().to_series()
        repeated = ~values.is_first_distinct()
        if seen is not None and seen.len():
            # As for keys: the frame's few values are looked up a slice of the many seen at a time.
            known = values.drop_nulls().unique().to_frame()
            hits = pl.concat(
                part.join(known, on=typed, how="semi")
                for part in seen.to_frame(typed).iter_slices(_PROBE_ROWS)
            )
            repeated = repeated | values.is_in(hits.to_series().implode())
        return (values.is_null() | ~repeated).to_frame().lazy()

    return pa.Check(check, name=Reason.duplicate_value.value, ignore_na=False, description="a new value")


def conformity_schema(
    dataset: Dataset,
    dictionary: Dictionary,
    *,
    published_keys: pl.DataFrame | None = None,
    seen_values: Mapping[str, pl.Series] | None = None,
) -> pa.DataFrameSchema:
    """The schema of ``dataset``'s checked frame; ``published_keys`` are keys a new row must not repeat,
    ``seen_values`` the typed values of each unique column it must not repeat."""
    checks = {column.name: _column_checks(column, dictionary) for column in dataset.columns}
    for name in unique_columns(dataset):
        seen = (seen_values or {}).get(name)
        checks[name].append(_duplicate_value_check(dataset.column(name), seen))
    if dataset.key_columns:
        checks.setdefault(key_label(dataset), []).append(_duplicate_key_check(dataset, published_keys))
    columns: dict[str, pa.Column] = {}
    for column in dataset.columns:
        columns[column.name] = pa.Column(
            pl.String, checks=checks.pop(column.name), nullable=True, title=column.physical_name
        )
        columns[typed_name(column.name)] = pa.Column(typed_dtype(column), nullable=True)
    # What is left is the joined texts of a composite key, checked for duplicates.
    columns.update(
        {label: pa.Column(pl.String, checks=left, nullable=True) for label, left in checks.items()}
    )
    return pa.DataFrameSchema(columns, strict=True, name=dataset.name, title=dataset.title)


def failures(frame: pl.DataFrame, schema: pa.DataFrameSchema) -> pl.DataFrame:
    """Every failing (row, column, reason) of ``frame``, ordered by row and then as the checks are listed
    (duplicates last). Anything else the schema finds (a missing column, a wrong type) is a bug of
    the checked frame, not of the delivery, and raises :class:`SchemaErrors`."""
    order = [(name, check.name) for name, column in schema.columns.items() for check in column.checks]
    order.sort(key=lambda item: item[1] in DUPLICATES)
    ranks = pl.DataFrame(
        {"column": [c for c, _ in order], "reason": [r for _, r in order], "rank": range(len(order))},
        schema={"column": pl.String, "reason": pl.String, "rank": pl.Int64},
    )
    # pandera keeps its errors, and through them the frame, in reference cycles (errors hold their
    # tracebacks, whose frames hold the errors). With the collector off they stay in the youngest
    # generation, which is cheap to collect right after: the frame does not outlive this call.
    collecting = gc.isenabled()
    gc.disable()
    try:
        with config_context(validation_depth=ValidationDepth.SCHEMA_AND_DATA):
            try:
                schema.validate(frame, lazy=True)
            except SchemaErrors as errors:
                cases = errors.failure_cases.select(
                    pl.col("index").cast(pl.Int64), "column", pl.col("check").alias("reason")
                ).join(ranks, on=["column", "reason"], how="left")
                if cases.select(pl.col("index").is_null().any() | pl.col("rank").is_null().any()).item():
                    raise
            else:
                cases = pl.DataFrame(schema=FAILURES_SCHEMA)
    finally:
        if collecting:
            gc.enable()
        gc.collect(0)
    return cases.sort("index", "rank")

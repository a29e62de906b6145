"""Conformity (规范性): map a raw delivery onto the dictionary, or quarantine each row with its reasons.

For every contract column the raw text is normalised (NFKC folds full-width digits and letters;
separators in phone numbers go) and typed from the dictionary element behind it: numbers, dates and
times (by the one policy of :mod:`datahub.quality.temporal`), booleans, codes of a code table (by
code, Chinese name or alias) and crosswalks from local codes to unified codes. These are polars
transforms, one column per core at a time, that touch only the values needing a change (the rest keep
sharing the raw strings); columns of few distinct values (codes, booleans) are normalised and typed
once per distinct value.

What fails is found by the pandera schema of :mod:`datahub.quality.schema`: required values, types,
patterns and check characters, ranges, codes, and primary keys and ``unique`` values that repeat
within the delivery or, for append-mode datasets, what is already published. A row with any failure
goes to quarantine with every reason found, so a department fixes all of a row's problems at once.

:func:`conform` works on a frame in memory; :func:`conform_file` streams a raw Parquet file through it
in batches, with the same result as conforming the whole file at once.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq

from datahub.citytime import CITY_ZONE
from datahub.contracts import Column, Dataset
from datahub.dictionary import Dictionary, ElementType
from datahub.dictionary.validators import NORMALISERS
from datahub.faults import crash_point
from datahub.files import commit_file, temporary_name
from datahub.lake.store import layer_of, write_parquet
from datahub.quality.reasons import Reason
from datahub.quality.schema import (
    conformity_schema,
    failures,
    key_label,
    typed_dtype,
    typed_keys,
    typed_name,
    unique_columns,
)
from datahub.quality.temporal import (
    DATE_FORMATS,
    TIMESTAMP_FORMATS,
    YEARS,
    ZONED_TIMESTAMP_FORMATS,
    year_first,
)

LINEAGE = ("_source_file", "_row_number", "_ingested_at", "_file_hash")
REASONS_COLUMN = "_reasons"
REASONS_DTYPE = pl.List(pl.Struct({"reason": pl.String, "column": pl.String, "value": pl.String}))

TRUE_WORDS = ("true", "1", "是", "y", "yes", "已办结", "已解决", "t")
FALSE_WORDS = ("false", "0", "否", "n", "no", "未办结", "未解决", "f")

# NFKC leaves ASCII and the CJK Unified Ideographs as they are: only values with other characters
# (full-width forms, compatibility ideographs, combining marks…) pay for it.
NFKC_NEEDED = r"[^\x00-\x7f\x{4e00}-\x{9fff}]"
ROW_GROUP_ROWS = 131_072  # rows per row group of the conformed and quarantine files
_SAMPLE = 1024  # values tried with a format before deciding how to parse a column with it

# Masks values of personal columns before they are written into quarantine reasons.
ValueMasker = Callable[[Column, pl.Series], pl.Series]


@dataclass(frozen=True)
class ConformResult:
    """Typed rows with their lineage, raw rows with their reasons, and (reason, column, rows) counts."""

    conformed: pl.DataFrame
    quarantine: pl.DataFrame
    reason_counts: list[tuple[str, str, int]]

    @property
    def rows_in(self) -> int:
        return self.conformed.height + self.quarantine.height


@dataclass(frozen=True)
class ConformStats:
    """What :func:`conform_file` wrote: rows in = rows conformed + rows quarantined."""

    rows_in: int
    rows_conformed: int
    rows_quarantined: int
    reason_counts: list[tuple[str, str, int]]


def _raw_text(raw: pl.DataFrame, column: Column) -> pl.Series:
    if column.physical_name in raw.columns:
        return raw.get_column(column.physical_name).cast(pl.String)
    return pl.repeat(None, raw.height, dtype=pl.String, eager=True).alias(column.physical_name)


def _patched(text: pl.Series, rows: pl.Series, values: pl.Series) -> pl.Series:
    """``text`` with ``values`` at ``rows``. Series.scatter works in place, so on a copy (which shares
    the strings of ``text``): the caller's series, a raw column among them, stays as it was."""
    return text.clone().scatter(rows, values)


def _nfkc(text: pl.Series) -> pl.Series:
    """NFKC on the values that need it; counting bytes against characters finds ASCII values cheaply."""
    wide = (text.str.len_bytes() != text.str.len_chars()).fill_null(False)
    if 2 * wide.sum() > text.len():
        todo = text.str.contains(NFKC_NEEDED).fill_null(False).arg_true()
    else:
        todo = wide.arg_true()
        todo = todo.filter(text.gather(todo).str.contains(NFKC_NEEDED))
    if todo.len() == 0:
        return text
    return _patched(text, todo, text.gather(todo).str.normalize("NFKC"))


def _stripped(text: pl.Series) -> pl.Series:
    """Surrounding whitespace gone; values that had none stay the delivered strings (no copy)."""
    stripped = text.str.strip_chars()
    changed = (stripped.str.len_bytes() != text.str.len_bytes()).fill_null(False).arg_true()
    if changed.len() == 0:
        return text
    return _patched(text, changed, stripped.gather(changed))


def _normalised(text: pl.Series, column: Column) -> pl.Series:
    """Only the values that need a change are changed; the others keep sharing the raw strings."""
    if not column.free_text:
        text = _nfkc(text)
    text = _stripped(text)
    validator = column.element.validator if column.element else None
    if rules := NORMALISERS.get(validator, ()) if validator else ():
        # One scan finds the values any rule changes (few); a value no rule matches stays as it is.
        hits = text.str.contains("|".join(f"(?:{p})" for p, _ in rules)).fill_null(False).arg_true()
        if hits.len():
            changed = text.gather(hits)
            for pattern, replacement in rules:
                changed = changed.str.replace_all(pattern, replacement)
            text = _patched(text, hits, changed)
    return text.replace("", None)


def _parser(fmt: str, column_type: ElementType, cache: bool = True) -> pl.Expr:
    v = pl.col("v")
    if re.search(r"%[#:]?z", fmt):
        parsed = (
            v.str.strptime(pl.Datetime("us", "UTC"), fmt, strict=False, cache=cache)
            .dt.convert_time_zone(CITY_ZONE.key)
            .dt.replace_time_zone(None)
        )
    elif column_type is ElementType.date and not any(d in fmt for d in ("%H", "%I", "%M", "%S")):
        parsed = v.str.strptime(pl.Date, fmt, strict=False, cache=cache)
    else:
        parsed = v.str.strptime(pl.Datetime("us"), fmt, strict=False, cache=cache)
    # strptime reads "24-10-14" as the year 24 and "2024101" (which also is 2024-1-01) as 2024-10-01.
    parsed = pl.when(parsed.dt.year().is_between(*YEARS)).then(parsed)
    if re.fullmatch(r"(?:%[YmdHMS])+", fmt):
        width = len(datetime(2000, 1, 1).strftime(fmt))
        parsed = pl.when(v.str.len_bytes() == width).then(parsed)
    # A timestamp delivered for a date column keeps its date (in city time).
    return parsed.dt.date() if column_type is ElementType.date else parsed


def _literals(fmt: str) -> list[str]:
    """Characters a value must contain to parse with ``fmt``: its literals, but for spaces (which match
    any run of whitespace) and ASCII letters (to stay clear of case rules)."""
    outside = re.sub(r"%[-_0^#]?[.:]?[0-9]*[A-Za-z+%]", "", fmt)
    return list(dict.fromkeys(ch for ch in outside if not (ch.isspace() or (ch.isascii() and ch.isalpha()))))


def _temporal_formats(column: Column) -> list[str]:
    """The contract's declared formats first, then the formats departments commonly write (a day alone
    is its midnight in a timestamp column)."""
    if column.type is ElementType.date:
        common = (*DATE_FORMATS, *TIMESTAMP_FORMATS, *ZONED_TIMESTAMP_FORMATS)
    else:
        common = (*TIMESTAMP_FORMATS, *ZONED_TIMESTAMP_FORMATS, *DATE_FORMATS)
    return list(dict.fromkeys((*column.formats, *common)))


def _parse_temporal(text: pl.Series, column: Column) -> pl.Series:
    """The dates or timestamps of ``text`` by the policy of :mod:`datahub.quality.temporal`: its formats,
    then (without a declared format) day and month before the year where their order is certain."""
    result = _parse_formats(text, column, _temporal_formats(column))
    if column.formats:
        return result
    left = (text.is_not_null() & result.is_null()).arg_true()
    if left.len():
        rewritten = year_first(text.gather(left))
        found = rewritten.is_not_null().arg_true()
        if found.len():
            parsed = _parse_formats(rewritten.gather(found), column, _temporal_formats(column))
            result = result.scatter(left.gather(found), parsed)
    return result


def _parsed(frame: pl.DataFrame, parser: pl.Expr) -> pl.Series:
    """Lazily, so the parse a parser's guards read is done once (common subexpression elimination)."""
    return frame.lazy().select(parser).collect().to_series()


def _parse_formats(text: pl.Series, column: Column, formats: list[str]) -> pl.Series:
    """Each format is tried only on the values no earlier format could parse. On a column of many values
    the formats are tried in the order of how many of a sample each parses (declared formats first
    among equals): every format reads year, month and day in that order, so a value two formats
    parse gets the same timestamp from both, and the order only decides how much work is done.

    While the values left are many (a column written in two formats) a sample of them decides how:
    all parsed at once if the format fits the sample (with polars' cache of parsed values when the
    sample repeats itself, as sorted or periodic times do), else only the values holding the format's
    literals (``-``, ``/``, ``年``…), since no other value can parse. Once they are few, the formats
    left see those values alone.
    """
    frame = text.to_frame("v")
    result = frame.head(0).select(_parser(TIMESTAMP_FORMATS[0], column.type)).to_series()
    result = result.extend_constant(None, text.len())
    todo = text.is_not_null().arg_true()  # rows no format has parsed yet
    formats = list(formats)
    if 4 * todo.len() > text.len():
        sample = frame[todo.head(_SAMPLE)]
        misses = {fmt: sample.select(_parser(fmt, column.type)).null_count().item() for fmt in formats}
        formats.sort(key=misses.__getitem__)
    for fmt in formats:
        if todo.len() == 0:
            break
        parser = _parser(fmt, column.type)
        tried = todo
        if 4 * todo.len() > text.len():
            sample = frame[todo.head(_SAMPLE)]
            if 2 * sample.select(parser).null_count().item() < sample.height:
                cached = _parser(fmt, column.type, cache=2 * sample.n_unique() < sample.height)
                result = result.fill_null(_parsed(frame, cached))
                todo = todo.filter(result.gather(todo).is_null())
                continue
            if literals := _literals(fmt):
                # The first literal on the whole column (no copy), the others on what is left.
                tried = todo.filter(text.str.contains(literals[0], literal=True).gather(todo))
                for literal in literals[1:]:
                    tried = tried.filter(text.gather(tried).str.contains(literal, literal=True))
        parsed = _parsed(frame[tried], parser)
        hits = parsed.is_not_null()
        if hits.any():
            result = result.scatter(tried.filter(hits), parsed.filter(hits))
            todo = todo.filter(result.gather(todo).is_null())
    return result


def _typed(text: pl.Series, column: Column, dictionary: Dictionary) -> pl.Series:
    """The value the dictionary element makes of the normalised text; null where it makes none."""
    if column.crosswalk:
        mapping = dictionary.crosswalks[column.crosswalk].mapping
        return text.replace_strict(mapping, default=None, return_dtype=pl.String)
    if column.code_table:
        lookup = dictionary.code_tables[column.code_table].lookup()
        return text.replace_strict(lookup, default=None, return_dtype=pl.String)
    kind = column.type
    if kind in (ElementType.integer, ElementType.decimal):
        number = text.cast(pl.Float64, strict=False)
        if kind is ElementType.decimal:
            return number
        whole = number.is_not_null() & (number == number.round(0))
        return pl.select(pl.when(whole).then(number).cast(pl.Int64, strict=False)).to_series()
    if kind in (ElementType.timestamp, ElementType.date):
        return _parse_temporal(text, column)
    if kind is ElementType.boolean:
        lowered = text.str.to_lowercase()
        return pl.select(
            pl.when(lowered.is_in(TRUE_WORDS)).then(True).when(lowered.is_in(FALSE_WORDS)).then(False)
        ).to_series()
    return text


def _repeats_values(column: Column) -> bool:
    return bool(column.crosswalk or column.code_table) or column.type is ElementType.boolean


def _prepared(raw: pl.DataFrame, column: Column, dictionary: Dictionary) -> tuple[pl.Series, pl.Series]:
    """The column's normalised text and its typed value."""
    text = _raw_text(raw, column)
    if _repeats_values(column):
        distinct = text.unique()
        if 2 * distinct.len() <= text.len():
            normalised = _normalised(distinct, column)
            lookup = pl.DataFrame(
                [
                    distinct.alias("__raw__"),
                    normalised.alias(column.name),
                    _typed(normalised, column, dictionary).alias(typed_name(column.name)),
                ]
            )
            out = text.to_frame("__raw__").join(lookup, on="__raw__", how="left", maintain_order="left")
            return out.get_column(column.name), out.get_column(typed_name(column.name))
    normalised = _normalised(text, column).alias(column.name)
    return normalised, _typed(normalised, column, dictionary).alias(typed_name(column.name))


def checked_frame(raw: pl.DataFrame, dataset: Dataset, dictionary: Dictionary) -> pl.DataFrame:
    """The frame :func:`conformity_schema` validates, made from a raw delivery."""
    # Columns are independent and polars releases the GIL: prepare them on every core at once.
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        prepared = list(pool.map(lambda c: _prepared(raw, c, dictionary), dataset.columns))
    frame = pl.DataFrame([series for pair in prepared for series in pair])
    if len(dataset.key_columns) > 1:
        parts = [pl.col(k).fill_null("") for k in dataset.key_columns]
        frame = frame.with_columns(pl.concat_str(parts, separator="|").alias(key_label(dataset)))
    return frame


def _shown(raw: pl.DataFrame, column: Column, rows: pl.Series, mask_value: ValueMasker | None) -> pl.Series:
    """The delivered values of ``column`` in ``rows``, masked when it holds personal data."""
    if column.physical_name in raw.columns:
        values = raw.get_column(column.physical_name).gather(rows).cast(pl.String)
    else:
        values = pl.repeat(None, rows.len(), dtype=pl.String, eager=True)
    return mask_value(column, values) if mask_value is not None else values


def _quarantine(
    raw: pl.DataFrame,
    dataset: Dataset,
    cases: pl.DataFrame,
    mask_value: ValueMasker | None,
    earlier: dict[str, pl.DataFrame],
) -> pl.DataFrame:
    """The failing raw rows, each with its reasons; values are read and masked for those rows alone.
    A repeated unique value says where it was first (``earlier``: index → text, per column)."""
    if cases.height == 0:
        return raw.clear().with_columns(pl.Series(REASONS_COLUMN, [], dtype=REASONS_DTYPE))
    parts = []
    for (label, reason), group in cases.partition_by("column", "reason", as_dict=True).items():
        rows = group.get_column("index")
        if reason == Reason.duplicate_key:
            keys = pl.DataFrame([_shown(raw, dataset.column(k), rows, None) for k in dataset.key_columns])
            values = keys.select(pl.concat_str(pl.all().fill_null(""), separator="|")).to_series()
        else:
            values = _shown(raw, dataset.column(str(label)), rows, mask_value)
        if reason == Reason.duplicate_value:
            where = rows.to_frame("index").join(
                earlier[str(label)], on="index", how="left", maintain_order="left"
            )
            values = where.select(
                pl.concat_str(pl.lit(values), pl.lit(" ("), "earlier", pl.lit(")"), ignore_nulls=True)
            ).to_series()
        parts.append(group.with_columns(values.cast(pl.String).alias("value")))
    reasons = (
        pl.concat(parts)
        .sort("index", "rank")
        .group_by("index", maintain_order=True)
        .agg(pl.struct("reason", "column", "value").alias(REASONS_COLUMN))
    )
    return raw.gather(reasons.get_column("index")).with_columns(
        reasons.get_column(REASONS_COLUMN).cast(REASONS_DTYPE)
    )


def _reason_counts(ranked: dict[tuple[str, str], tuple[int, int]]) -> list[tuple[str, str, int]]:
    """Most rows first; checks with as many rows in the order they are listed."""
    order = sorted(ranked.items(), key=lambda item: (-item[1][1], item[1][0]))
    return [(reason, column, rows) for (reason, column), (_, rows) in order]


# For each unique column, the typed values earlier rows had: ``value`` and ``row``, the row number
# that first had it (null: a published row).
SeenValues = dict[str, pl.DataFrame]


def _published_values(dataset: Dataset, published: pl.DataFrame | None) -> SeenValues:
    seen = {}
    for name in unique_columns(dataset):
        dtype = typed_dtype(dataset.column(name))
        values = pl.Series("value", [], dtype)
        if published is not None and name in published.columns:
            values = published.get_column(name).cast(dtype).drop_nulls().unique().alias("value")
        seen[name] = values.to_frame().with_columns(pl.lit(None, pl.Int64).alias("row"))
    return seen


def _repeated_values(
    frame: pl.DataFrame, cases: pl.DataFrame, rows: pl.Series, seen: SeenValues
) -> tuple[dict[str, pl.DataFrame], SeenValues]:
    """Where each repeated unique value was first (index → ``earlier`` text, per column), and the values
    seen once this frame is added."""
    earlier, now_seen = {}, {}
    for name, before in seen.items():
        values = frame.get_column(typed_name(name)).alias("value")
        here = pl.DataFrame([values, rows.alias("row")]).with_row_index("index")
        firsts = here.filter(pl.col("value").is_not_null() & pl.col("value").is_first_distinct())
        repeated = cases.filter((pl.col("reason") == Reason.duplicate_value) & (pl.col("column") == name))
        # Only the repeated values are looked up in what was seen before (many) and in this frame.
        found = (
            here.join(repeated.select(pl.col("index").cast(pl.UInt32)), on="index", how="semi")
            .select("index", "value")
            .join(before.with_columns(pl.lit(True).alias("before")), on="value", how="left")
            .join(firsts.select("value", pl.col("row").alias("here")), on="value", how="left")
        )
        first = pl.when("before").then("row").otherwise("here")
        text = pl.when(first.is_null()).then(pl.lit("already published"))
        earlier[name] = found.select(
            pl.col("index").cast(pl.Int64),
            text.otherwise(pl.format("first in row {}", first)).alias("earlier"),
        )
        new = firsts.drop("index").join(before, on="value", how="anti")
        now_seen[name] = pl.concat([before, new])
    return earlier, now_seen


def _conform_batch(
    raw: pl.DataFrame,
    dataset: Dataset,
    dictionary: Dictionary,
    published_keys: pl.DataFrame | None,
    mask_value: ValueMasker | None,
    seen: SeenValues,
    *,
    last: bool = False,
) -> tuple[ConformResult, dict[tuple[str, str], tuple[int, int]], pl.DataFrame, SeenValues]:
    """The result, its counts as (reason, column) -> (rank of the check, rows), the first occurrence of
    every complete key (which later rows must not repeat; none for the ``last`` batch) and the unique
    values seen so far (``seen`` and this batch's)."""
    frame = checked_frame(raw, dataset, dictionary)
    seen_values = {name: values.get_column("value") for name, values in seen.items()}
    schema = conformity_schema(dataset, dictionary, published_keys=published_keys, seen_values=seen_values)
    cases = failures(frame, schema)
    row = pl.int_range(pl.len())
    keys = dataset.key_columns
    first_keys = pl.DataFrame()
    if keys and not last:
        duplicates = cases.filter(pl.col("reason") == Reason.duplicate_key).get_column("index")
        first_keys = frame.select(pl.col(typed_name(k)).alias(k) for k in keys).filter(
            pl.all_horizontal(pl.col(k).is_not_null() for k in keys), ~row.is_in(duplicates.implode())
        )
    row_numbers = (
        raw.get_column("_row_number").cast(pl.Int64)
        if "_row_number" in raw.columns
        else pl.int_range(1, raw.height + 1, dtype=pl.Int64, eager=True)
    )
    earlier, seen = _repeated_values(frame, cases, row_numbers, seen)
    lineage = [raw.get_column(c) for c in LINEAGE if c in raw.columns]
    conformed = pl.DataFrame(
        [*(frame.get_column(typed_name(c.name)).alias(c.name) for c in dataset.columns), *lineage]
    ).filter(~row.is_in(cases.get_column("index").implode()))
    del frame  # the largest frame of a batch: gone before quarantine values are masked
    counted = cases.group_by("reason", "column", "rank").len().iter_rows()
    ranked = {(reason, column): (rank, rows) for reason, column, rank, rows in counted}
    quarantine = _quarantine(raw, dataset, cases, mask_value, earlier)
    result = ConformResult(conformed, quarantine, _reason_counts(ranked))
    return result, ranked, first_keys, seen


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
    masked when the column holds personal data; a repeated unique value adds where it was first
    (``SR1 (first in row 4)``, ``SR1 (already published)``). ``published_keys`` holds the key (and
    unique) columns of published rows (:func:`~datahub.quality.schema.published_columns`).
    """
    seen = _published_values(dataset, published_keys)
    result, *_ = _conform_batch(raw, dataset, dictionary, published_keys, mask_value, seen, last=True)
    return result


@contextmanager
def _parquet_sink(
    path: Path, plain_columns: frozenset[str] = frozenset()
) -> Iterator[Callable[[pl.DataFrame], None]]:
    """Append frames to one Parquet file (zstd) that appears at ``path``, whole, only when the block
    succeeds. Columns of many distinct values (names, addresses, free text) skip dictionary encoding,
    which would only be thrown away."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_name(path)
    writer: pq.ParquetWriter | None = None

    def append(frame: pl.DataFrame) -> None:
        nonlocal writer
        if writer is None:
            dictionary = [name for name in frame.columns if name not in plain_columns]
            schema = frame.head(0).to_arrow().schema
            writer = pq.ParquetWriter(tmp, schema, compression="zstd", use_dictionary=dictionary)
        # A row group at a time, so only that much of the frame is ever copied into Arrow.
        for part in frame.iter_slices(ROW_GROUP_ROWS):
            writer.write_table(part.to_arrow())
        crash_point(f"write:{layer_of(path)}")  # the file half-written

    try:
        yield append
    except BaseException:
        if writer is not None:
            writer.close()
        tmp.unlink(missing_ok=True)
        raise
    if writer is not None:
        writer.close()
        commit_file(tmp, path)


def conform_file(
    raw_path: Path,
    dataset: Dataset,
    dictionary: Dictionary,
    *,
    conformed_path: Path,
    quarantine_path: Path,
    published_keys: pl.DataFrame | None = None,
    mask_value: ValueMasker | None = None,
    batch_rows: int = 500_000,
    whole_file_rows: int = 1_000_000,
) -> ConformStats:
    """:func:`conform` over a raw Parquet file, ``batch_rows`` rows at a time, into two Parquet files.

    A file of at most ``whole_file_rows`` rows is conformed at once and written by polars (faster);
    larger files stream in batches so memory stays bounded (10M hotline rows peak at about 1.5 GB).

    Keys (and unique values) seen in earlier batches count as published for later ones, so a key's
    first occurrence in the file wins wherever the batches are cut. Each output is written under a
    temporary name and renamed into place when the whole file is done.
    """
    if batch_rows < 1:
        raise ValueError("batch_rows must be at least 1")
    keys = dataset.key_columns
    known = [typed_keys(dataset, published_keys)] if keys and published_keys is not None else []
    seen_values = _published_values(dataset, published_keys)
    ranked: dict[tuple[str, str], tuple[int, int]] = {}
    rows_in = rows_conformed = 0
    scan = pl.scan_parquet(raw_path)
    total = scan.select(pl.len()).collect().item()
    # Free text, names, identifiers: hardly a value repeats.
    plain = frozenset(
        c.name for c in dataset.columns if c.type is ElementType.string and not (c.code_table or c.crosswalk)
    )
    if total <= whole_file_rows:  # one batch: polars writes both files, on every core
        raw = scan.collect()
        seen = pl.concat(known, rechunk=False) if known else None
        result, batch_ranked, *_ = _conform_batch(
            raw, dataset, dictionary, seen, mask_value, seen_values, last=True
        )
        write_parquet(result.conformed, Path(conformed_path), fast=True)
        write_parquet(result.quarantine, Path(quarantine_path), fast=True)
        return ConformStats(
            rows_in=raw.height,
            rows_conformed=result.conformed.height,
            rows_quarantined=result.quarantine.height,
            reason_counts=_reason_counts(batch_ranked),
        )
    with (
        _parquet_sink(Path(conformed_path), plain) as write_conformed,
        _parquet_sink(Path(quarantine_path)) as write_quarantine,
    ):
        # An empty file still gives one (empty) batch, so both outputs get their schema.
        for offset in range(0, max(total, 1), batch_rows):
            seen = pl.concat(known, rechunk=False) if known else None
            raw = scan.slice(offset, batch_rows).collect()
            rows_in += raw.height
            result, batch_ranked, first_keys, seen_values = _conform_batch(
                raw, dataset, dictionary, seen, mask_value, seen_values
            )
            rows_conformed += result.conformed.height
            write_conformed(result.conformed)
            write_quarantine(result.quarantine)
            del raw, result  # nothing of this batch is held while the next one is read
            for check, (rank, rows) in batch_ranked.items():
                ranked[check] = (rank, ranked.get(check, (rank, 0))[1] + rows)
            if keys:
                known.append(first_keys)
    return ConformStats(
        rows_in=rows_in,
        rows_conformed=rows_conformed,
        rows_quarantined=rows_in - rows_conformed,
        reason_counts=_reason_counts(ranked),
    )

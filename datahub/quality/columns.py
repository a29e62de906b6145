"""A delivery's columns against its contract's: which are missing, which undeclared, which look renamed,
which come in another order.

Read twice. When a file is read (:func:`accepted_columns`), a column the contract does not declare
refuses the whole file, as a missing required column does: it has no classification, so it may hold
personal data nobody decided how to share. A contract that knows a department's export carries
columns it does not want lists them in its schema object's ``ignoredColumns``; they are dropped before
anything is kept (:func:`ignored_columns`). And the checked stage's ``columns_closed`` rule says how
the columns it received differ from the contract's (:func:`differences`).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass

import polars as pl

from datahub.contracts import Dataset
from datahub.errors import UnreadableDelivery

# Names readers give a column the header leaves unnamed (polars for CSV, the Excel reader).
_UNNAMED = re.compile(r"|_duplicated_[0-9]+|column_[0-9]+")
_RENAME_CUTOFF = 0.6  # difflib similarity above which a missing and an undeclared name look like one column


@dataclass(frozen=True)
class ColumnDifferences:
    missing: list[str]  # expected, not received
    undeclared: list[str]  # received, not expected
    renamed: list[tuple[str, str]]  # (received, expected) pairs among those that look like one column
    order: tuple[list[str], list[str]] | None = None  # the common columns (expected, received) when unlike

    def __bool__(self) -> bool:
        return bool(self.missing or self.undeclared or self.order)

    def describe(self, missing: str = "missing", undeclared: str = "undeclared") -> str:
        """``missing: a, b; undeclared: c; renamed? c → a; order: expected a, b, received b, a``."""
        parts = []
        if self.missing:
            parts.append(f"{missing}: {_names(self.missing)}")
        if self.undeclared:
            parts.append(f"{undeclared}: {_names(self.undeclared)}")
        if self.renamed:
            parts.append("renamed? " + ", ".join(f"{_name(r)} → {_name(e)}" for r, e in self.renamed))
        if self.order:
            expected, received = self.order
            parts.append(f"order: expected {_names(expected)}, received {_names(received)}")
        return "; ".join(parts)


def _name(name: str) -> str:
    return name if name and name.strip() == name else repr(name)


def _names(names: Sequence[str]) -> str:
    return ", ".join(_name(n) for n in names)


def _renamed(undeclared: Sequence[str], missing: Sequence[str]) -> list[tuple[str, str]]:
    """Each undeclared name paired with the missing name most like it (each used once), if any is."""
    pairs, left = [], list(missing)
    for name in undeclared:
        by_lower = {m.lower(): m for m in left}
        near = difflib.get_close_matches(name.lower(), list(by_lower), n=1, cutoff=_RENAME_CUTOFF)
        if near:
            pairs.append((name, by_lower[near[0]]))
            left.remove(by_lower[near[0]])
    return pairs


def differences(expected: Sequence[str], received: Sequence[str], *, ordered: bool) -> ColumnDifferences:
    """How ``received`` differs from ``expected`` (and, when ``ordered``, in what order the columns both
    have come)."""
    missing = [c for c in expected if c not in received]
    undeclared = [c for c in received if c not in expected]
    order = None
    if ordered:
        common_expected = [c for c in expected if c in received]
        common_received = [c for c in received if c in expected]
        if common_expected != common_received:
            order = (common_expected, common_received)
    return ColumnDifferences(missing, undeclared, _renamed(undeclared, missing), order)


def _blank(values: pl.Series) -> bool:
    return values.cast(pl.String).str.strip_chars().replace("", None).null_count() == values.len()


def ignored_columns(columns: Sequence[str], dataset: Dataset) -> list[str]:
    """The delivered ``columns`` the contract ignores: those it lists in ``ignoredColumns``, and in JSON
    every field nested in an object it lists (``meta`` ignores ``meta.source``, not ``metadata``)."""
    ignored = dataset.ignored_columns
    return [c for c in columns if c in ignored or any(c.startswith(f"{name}.") for name in ignored)]


def accepted_columns(frame: pl.DataFrame, dataset: Dataset, file: str, hint: str = "") -> pl.DataFrame:
    """``frame`` (as read, ignored columns dropped) if its columns are the contract's, some optional ones
    perhaps missing; columns with neither a name nor a value (the trailing commas of a spreadsheet's
    CSV) are dropped. Raises :class:`UnreadableDelivery` naming the columns that differ otherwise;
    ``hint`` ends its message (a likely wrong delimiter) instead of how to accept a column."""
    frame = frame.drop(c for c in frame.columns if _UNNAMED.fullmatch(c) and _blank(frame.get_column(c)))
    declared = [c.physical_name for c in dataset.columns]
    found = differences(declared, frame.columns, ordered=False)
    required = {c.physical_name for c in dataset.columns if c.required}
    missing_required = [c for c in found.missing if c in required]
    if missing_required or found.undeclared:
        shown = ColumnDifferences(missing_required, found.undeclared, found.renamed)
        described = shown.describe("missing required columns", "undeclared columns")
        if found.undeclared and not hint:
            hint = (
                ". A column the contract does not declare has no classification (it may hold personal "
                "data): declare it in the contract, or list it in the schema object's ignoredColumns"
            )
        raise UnreadableDelivery(f"{described}{hint}", file=file, line=1)
    return frame

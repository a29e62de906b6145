"""k-anonymity for published datasets: generalise quasi-identifiers, then suppress what stays too rare.

A dataset declares its quasi-identifier columns (GB/T 37964: address, birth date, age, gender…).
Rows with identical values in all of them form an *equivalence class*; the frame is k-anonymous when
every class holds at least k rows, so that no record can be told apart from k−1 others. Nulls are
values like any other here: two rows whose address is null are alike in that column.

Each quasi-identifier gets a :class:`Generaliser`, a ladder of ever coarser versions of its values:
level 0 is the original column, each further level is coarser, and the last level usually replaces
every value by ``"*"`` (the column then says nothing). The built-in ladders:

============================  ====================================================================
generaliser                   levels 1, 2, …
============================  ====================================================================
:func:`address_generaliser`   street (``朝阳区建国路``), district or county (``朝阳区``), ``*``
:func:`date_generaliser`      year-month (``1990-05``), year (``1990``), decade (``1990s``), ``*``
:func:`age_generaliser`       5-year band (``30-34``), 10-year band (``30-39``),
                              ``0-17``/``18-59``/``60+``, ``*``
:func:`code_generaliser`      parent code (street code → district code) if a mapping is given, ``*``
:func:`suppress_generaliser`  ``*``
============================  ====================================================================

At the levels between the first and the last, a value that cannot be generalised to that level
(an address naming no district, a string that is no ISO date, a negative age, a code the mapping
does not know) becomes null: it is as unknown as a missing value, and is grouped with the missing
values. At the last level nulls become ``"*"`` as well, so that the column is one class.

:func:`enforce_k_anonymity` searches the lattice of level combinations greedily, keeping the data as
useful as it can:

1. Count the rows in classes smaller than k, the *small rows*, at the current levels (all 0 at first).
2. While the small rows are more than ``max_suppression`` of the frame, consider raising each column
   that has a level left by one, and take the step that leaves the fewest small rows; ties go to the
   column with the most distinct values at its current level (the most identifying one), then to
   the column declared first. A step may leave the small rows as they were: some columns only help
   together, so the search goes on until the budget is met or every column is at its last level.
3. Suppress (drop) the rows still in classes smaller than k. The remaining classes all hold at
   least k rows, so the result is k-anonymous unless nothing is left.

A frame that is already k-anonymous is returned as it is, all levels 0. When k exceeds the number of
rows no generalisation can help: the search is skipped and every row is suppressed (levels 0). With
hierarchical ladders (all the built-in ones) a step only merges classes, so the small rows never grow
from one step to the next.

It is fast on millions of rows because the search never touches them: each row's value in each
quasi-identifier is replaced once by an integer, its index among the column's distinct values (one
hash join per column), and the frame is reduced to the distinct combinations of those integers with
their row counts. Each column's distinct values are generalised once per level the search asks for
(a regex over the distinct addresses, not over every row) and numbered per level; each candidate step
is then one polars ``group_by`` on a single integer key over the combinations. The chosen levels are
mapped back onto the rows by gathering. On one million rows with 2–4 quasi-identifiers, one of them a
near-unique address, the whole enforcement takes a few seconds; most of it is the address regex.

:func:`k_of` gives the k a frame reaches: the size of its smallest class, ``0`` for a frame without
rows (there is no class; ``0`` never passes for any k ≥ 1, so an empty publication is never taken
for a protected one), and the number of rows when no column is a quasi-identifier (the whole frame
is then one class).
"""

from __future__ import annotations

import math
import re
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, cast, runtime_checkable

import polars as pl

from datahub.contracts.model import Desensitise
from datahub.dictionary import Problem

SUPPRESSED = "*"
"""The value every entry of a column takes at its last level."""

ADDRESS_STREET_UNITS: tuple[str, ...] = ("街道", "大道", "大街", "胡同", "路", "街", "巷", "弄")
"""Level 1 of an address keeps up to the first of these after the administrative divisions.

Two-character units are listed before the one-character units they start with (街道 before 街).
"""

ADDRESS_VILLAGE_UNITS: tuple[str, ...] = ("镇", "乡", "村")
"""Where an address names no street, level 1 keeps up to the first of these (李家村 of 李家村3组15号);
they come second so that a road named after a village stays whole (中关村大街)."""

# A name of a province, city or district: no division suffix (so a division stops at its own
# suffix), no street unit (so 稠城街道县前街 holds no county) and no house number; 镇 and 乡 may
# start a name (镇江市, 镇海区, 乡宁县) but not follow one (佛堂镇新市街 holds no city).
_NAME = "[镇乡]?[^省市区县街镇乡巷弄号0-9]{1,10}?"
_ADMIN_PREFIX = (
    f"^(?:{_NAME}(?:省|自治区|特别行政区))?"  # province
    f"(?:{_NAME}(?:市|自治州|地区|盟))?"  # prefecture-level city
    f"(?:{_NAME}(?:区|县|市|旗))?"  # district, county, county-level city, banner
)
_STREET = "^.*?(?:" + "|".join(ADDRESS_STREET_UNITS) + ")"
_VILLAGE = "^.*?(?:" + "|".join(ADDRESS_VILLAGE_UNITS) + ")"

CHINESE = "[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]"
"""CJK ideographs, written as characters so that polars and ``re`` read the class alike. An address
holding none is a foreign one (:func:`foreign_address`)."""
_PART_BREAK = re.compile(r"\s*,\s*|\s{2,}")  # parts of a one-line address: commas, runs of spaces
_UNIT = re.compile(r"(?i)(?:\b(?:apt|apartment|unit|suite|ste|flat|room|rm|floor|fl)\b\.?|#)\s*\S+")
_POSTCODE = re.compile(r"\b([0-9]{3})[0-9]+(?:-[0-9]{4})?\b")
_DIGIT = re.compile("[0-9]")


def foreign_address(value: str, level: int) -> str | None:
    """A one-line foreign address at ``level`` 1 (its street) or 2 (its locality); ``None`` where
    nothing safe is left. Never the value as delivered, never ``*`` when a part is safe to keep.

    The address is split into parts at commas or runs of two spaces: the first is the street line
    (house number, street, unit), the others its locality (city, state, postcode). A locality part
    holding a number other than a postcode (four or more digits) is dropped: it may be a second
    street line (``Flat 3, 12 High Street, London``). Level 1 keeps the street line without its unit
    (``Apt 4B``, ``#3``) and its house number (its first word if that holds a digit: ``42``,
    ``2000A``, ``202-204``; else its last: ``Hauptstraße 5``), then the locality: ``42 Cross St  Boston
    MA  02113`` → ``Cross St, Boston, MA, 02113``. A street line without a house number may name a
    place (a shop, a building, a crossing) and is dropped. Level 2 keeps the locality with each
    postcode cut to its first three digits: ``Boston, MA, 021**``.
    """
    parts = [p for p in (p.strip() for p in _PART_BREAK.split(value)) if p]
    locality = [p for p in parts[1:] if not _DIGIT.search(_POSTCODE.sub("", p))]
    if level >= 2:
        kept = [_POSTCODE.sub(r"\1**", p) for p in locality]
    else:
        words = _UNIT.sub("", parts[0]).split() if parts else []
        street = []
        if len(words) > 1 and _DIGIT.search(words[0]):
            street = words[1:]
        elif len(words) > 1 and _DIGIT.search(words[-1]):
            street = words[:-1]
        kept = ([" ".join(street)] if street else []) + locality
    return ", ".join(kept) or None


def foreign_address_warnings(
    file: str, where: str, prop: Mapping[str, Any], custom: Mapping[str, Any]
) -> list[Problem]:
    """Lint warnings for a contract property (``prop``, its custom properties ``custom``, at ``where``):
    an address to generalise whose ``examples`` hold one without a Chinese character: such values
    climb :func:`foreign_address`'s ladder, not the Chinese one, and the steward should know."""
    generalised = custom.get("desensitise", Desensitise.generalise) == Desensitise.generalise
    if custom.get("dictionaryElement") != "address" or not generalised:
        return []
    examples = prop.get("examples")
    foreign = (
        [e for e in examples if isinstance(e, str) and e.strip() and not re.search(CHINESE, e)]
        if isinstance(examples, list)
        else []
    )
    if not foreign:
        return []
    reason = (
        f"'{foreign[0]}' is not a Chinese address: generalise keeps its street without the house number, "
        "then its locality with the postcode cut, not 街道 and 区 (docs/privacy.md)"
    )
    return [Problem(file, f"{where}.examples", reason, severity="warning")]


def _strings(values: pl.Series) -> pl.Series:
    return values if values.dtype == pl.String else values.cast(pl.String, strict=False)


def _select(values: pl.Series, expr: pl.Expr) -> pl.Series:
    """``expr`` over ``pl.col("v")`` evaluated on ``values``, keeping the series' name."""
    return values.to_frame("v").select(expr.alias(values.name)).to_series()


@runtime_checkable
class Generaliser(Protocol):
    """A ladder of ever coarser versions of a column's values.

    ``levels`` is the number of steps beyond level 0 (the original values). ``apply(values, 0)``
    returns the values unchanged, ``apply(values, levels)`` the coarsest version, often all ``"*"``.
    A generaliser must map equal values to equal values, and should be a hierarchy: values equal at
    one level stay equal at the next.
    """

    name: str
    levels: int

    def apply(self, values: pl.Series, level: int) -> pl.Series:
        """``values`` generalised to ``level`` (0 ≤ level ≤ ``levels``), same length and order."""
        ...


class LadderGeneraliser(ABC):
    """Base of the built-in generalisers: checks the level, keeps level 0, stars the last level.

    Subclasses set ``name`` and ``levels`` and implement :meth:`generalise` for the levels between.
    """

    name: str
    levels: int

    def apply(self, values: pl.Series, level: int) -> pl.Series:
        """``values`` generalised to ``level``; the last level is ``"*"`` for every row, nulls too."""
        if isinstance(level, bool) or not isinstance(level, int) or not 0 <= level <= self.levels:
            raise ValueError(
                f"{self.name} generaliser: level must be an integer from 0 to {self.levels}, not {level!r}"
            )
        if level == 0:
            return values
        if level == self.levels:
            return pl.repeat(SUPPRESSED, len(values), dtype=pl.String, eager=True).alias(values.name)
        return self.generalise(values, level)

    @abstractmethod
    def generalise(self, values: pl.Series, level: int) -> pl.Series:
        """``values`` at ``level``, strictly between 0 and ``levels``, as strings."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, levels={self.levels})"


class AddressGeneraliser(LadderGeneraliser):
    """Chinese addresses: 1 → up to the street, 2 → up to the district or county, 3 → ``"*"``.

    The administrative prefix (province, prefecture-level city, district or county, as far as the
    address gives them) is read first, and level 1 cuts after the first street unit
    (:data:`ADDRESS_STREET_UNITS`, else :data:`ADDRESS_VILLAGE_UNITS`) *after* it, so that 镇江市
    or 路南区 are never taken for a 镇 or a 路. ``"北京市朝阳区建国路88号3号楼2单元502室"``
    becomes ``"北京市朝阳区建国路"``, then
    ``"北京市朝阳区"``. An address without a street unit keeps its administrative prefix at level
    1; one without any becomes null at level 2 (and at level 1 if it has no street either).
    Whitespace is removed first.

    An address without a Chinese character (a foreign export) climbs :func:`foreign_address`'s ladder:
    its street without the house number, then its locality with the postcode cut.
    """

    name = "address"
    levels = 3

    def generalise(self, values: pl.Series, level: int) -> pl.Series:
        # Each part is cut off by a regex replace (a plain search, no capture groups), and each is
        # computed once: a million distinct addresses take well under a second a level.
        def cut(column: str, pattern: str) -> pl.Expr:
            return pl.col(column).str.replace(pattern, "")

        def head(column: str, rest: str) -> pl.Expr:
            text = pl.col(column)
            return text.str.head(text.str.len_chars().cast(pl.Int64) - pl.col(rest).str.len_chars())

        parts = (
            _strings(values)
            .to_frame("v")
            .lazy()
            .with_columns(pl.col("v").str.replace_all(r"\s+", ""))
            .with_columns(cut("v", _ADMIN_PREFIX).alias("after_admin"))
            .with_columns(head("v", "after_admin").alias("admin"))
            .with_columns(pl.when(pl.col("admin") != "").then(pl.col("admin")).alias("district"))
        )
        if level == 1:
            after_street = cut("after_admin", _STREET)
            parts = (
                parts.with_columns(
                    pl.when(pl.col("after_admin").str.contains(_STREET))
                    .then(after_street)
                    .otherwise(cut("after_admin", _VILLAGE))
                    .alias("after_street")
                )
                .with_columns(head("after_admin", "after_street").alias("street"))
                .with_columns(
                    pl.when(pl.col("street") != "")
                    .then(pl.col("admin") + pl.col("street"))
                    .otherwise(pl.col("district"))
                    .alias("district")
                )
            )
        chinese = parts.select(pl.col("district").alias(values.name)).collect().to_series()
        strings = _strings(values)
        foreign = strings.filter(~strings.str.contains(CHINESE)).unique()
        if foreign.is_empty():
            return chinese
        generalised = pl.Series([foreign_address(v, level) for v in foreign.to_list()], dtype=pl.String)
        return strings.replace_strict(foreign, generalised, default=chinese, return_dtype=pl.String)


class DateGeneraliser(LadderGeneraliser):
    """Dates: 1 → year-month (``"1990-05"``), 2 → year (``"1990"``), 3 → decade (``"1990s"``), 4 → ``"*"``.

    Takes ``pl.Date``, ``pl.Datetime`` (its date) or ISO strings (``1990-05-12``, optionally followed
    by a time); strings that are no valid date become null. The output is strings.
    """

    name = "date"
    levels = 4

    def generalise(self, values: pl.Series, level: int) -> pl.Series:
        if values.dtype == pl.Date:
            dates = pl.col("v")
        elif isinstance(values.dtype, pl.Datetime):
            dates = pl.col("v").dt.date()
        else:
            values = _strings(values)
            dates = pl.col("v").str.strip_chars().str.slice(0, 10).str.to_date("%Y-%m-%d", strict=False)
        if level == 1:
            return _select(values, dates.dt.strftime("%Y-%m"))
        if level == 2:
            return _select(values, dates.dt.strftime("%Y"))
        decade = dates.dt.year() // 10 * 10
        return _select(values, decade.cast(pl.String) + "s")


class AgeGeneraliser(LadderGeneraliser):
    """Ages in years: 1 → 5-year band (``"30-34"``), 2 → 10-year band (``"30-39"``),
    3 → ``"0-17"``, ``"18-59"`` or ``"60+"``, 4 → ``"*"``.

    Takes integers, floats (floored) or numeric strings; nulls, negative and non-numeric values become
    null. The output is strings.
    """

    name = "age"
    levels = 4

    def generalise(self, values: pl.Series, level: int) -> pl.Series:
        if values.dtype == pl.String:
            values = _select(values, pl.col("v").str.strip_chars())
        age = pl.col("v").cast(pl.Float64, strict=False).floor().cast(pl.Int64, strict=False)
        age = pl.when(age >= 0).then(age)
        if level in (1, 2):
            width = 5 if level == 1 else 10
            low = age // width * width
            return _select(values, pl.format("{}-{}", low, low + width - 1))
        band = pl.when(age < 18).then(pl.lit("0-17")).when(age < 60).then(pl.lit("18-59"))
        return _select(values, band.when(age >= 60).then(pl.lit("60+")))


class CodeGeneraliser(LadderGeneraliser):
    """Codes (gender, district code…): with ``parents``, 1 → parent code and 2 → ``"*"``; else 1 → ``"*"``.

    ``parents`` maps a code to its parent (street code → district code). A code that is itself a
    parent is kept at level 1; a code the mapping does not know becomes null there. Codes are
    compared as strings, so an integer column works with a mapping of strings.
    """

    name = "code"

    def __init__(self, parents: Mapping[str, str] | None = None) -> None:
        self.parents: dict[str, str] | None = dict(parents) if parents else None
        self.levels = 2 if self.parents else 1

    def generalise(self, values: pl.Series, level: int) -> pl.Series:
        assert self.parents  # level 1 is the last one without parents
        known = dict(self.parents)
        known.update({parent: parent for parent in self.parents.values() if parent not in known})
        codes = _strings(values)
        return _select(codes, pl.col("v").replace_strict(known, default=None, return_dtype=pl.String))


class SuppressGeneraliser(LadderGeneraliser):
    """Any column: 1 → ``"*"``. For quasi-identifiers that have no useful coarser form."""

    name = "suppress"
    levels = 1

    def generalise(self, values: pl.Series, level: int) -> pl.Series:
        raise AssertionError("a one-level ladder has no level between the original and the last")


def address_generaliser() -> AddressGeneraliser:
    """Chinese addresses: street, district or county, ``"*"`` (see :class:`AddressGeneraliser`)."""
    return AddressGeneraliser()


def date_generaliser() -> DateGeneraliser:
    """Dates or ISO strings: year-month, year, decade, ``"*"`` (see :class:`DateGeneraliser`)."""
    return DateGeneraliser()


def age_generaliser() -> AgeGeneraliser:
    """Ages: 5-year bands, 10-year bands, minor/adult/senior, ``"*"`` (see :class:`AgeGeneraliser`)."""
    return AgeGeneraliser()


def code_generaliser(parents: Mapping[str, str] | None = None) -> CodeGeneraliser:
    """Codes: the parent code if ``parents`` is given, then ``"*"`` (see :class:`CodeGeneraliser`)."""
    return CodeGeneraliser(parents)


def suppress_generaliser() -> SuppressGeneraliser:
    """Any column: ``"*"`` at level 1."""
    return SuppressGeneraliser()


@dataclass(frozen=True)
class KAnonymityResult:
    """What :func:`enforce_k_anonymity` did.

    ``frame`` is the input with the quasi-identifiers generalised to ``levels`` (the final level
    per column) and the rows of classes smaller than ``k_required`` removed; the other columns and
    the order of the rows are as they were. ``k_before`` and ``k_reached`` are :func:`k_of` the input
    and the output (``k_reached`` is 0 when every row was suppressed).
    """

    frame: pl.DataFrame
    k_required: int
    k_before: int
    k_reached: int
    rows_suppressed: int
    levels: dict[str, int]


def _columns(quasi: str | Iterable[str]) -> list[str]:
    return [quasi] if isinstance(quasi, str) else list(quasi)


def _check_columns(frame: pl.DataFrame, columns: Sequence[str]) -> None:
    missing = [name for name in columns if name not in frame.columns]
    if missing:
        raise ValueError(f"quasi-identifier columns not in the frame: {', '.join(missing)}")


def _fresh_name(taken: Iterable[str], stem: str) -> str:
    taken = set(taken)
    name = stem
    while name in taken:
        name = "_" + name
    return name


def k_of(frame: pl.DataFrame, quasi: Sequence[str]) -> int:
    """The k ``frame`` reaches over the columns ``quasi``: the size of its smallest equivalence class.

    Rows are in one class when they are equal in every column of ``quasi``; nulls equal each other.
    A frame without rows gives 0; an empty ``quasi`` gives the number of rows (one class).
    """
    columns = _columns(quasi)
    _check_columns(frame, columns)
    if frame.height == 0:
        return 0
    if not columns:
        return frame.height
    size = _fresh_name(columns, "size")
    smallest = frame.lazy().group_by(columns).agg(pl.len().alias(size)).select(pl.col(size).min())
    return int(smallest.collect().item())


class _Ladder:
    """One quasi-identifier's distinct values, generalised level by level as the search asks."""

    def __init__(self, generaliser: Generaliser, distinct: pl.Series) -> None:
        self.generaliser = generaliser
        self.distinct = distinct
        self._values: dict[int, pl.Series] = {}
        self._codes: dict[int, tuple[pl.Series, int]] = {}

    def values(self, level: int) -> pl.Series:
        """The distinct values at ``level``, aligned with :attr:`distinct`."""
        if level not in self._values:
            out = self.generaliser.apply(self.distinct, level)
            if len(out) != len(self.distinct):
                raise ValueError(
                    f"generaliser {self.generaliser.name!r} returned {len(out)} values for "
                    f"{len(self.distinct)} at level {level}"
                )
            self._values[level] = out
        return self._values[level]

    def _encode(self, level: int) -> tuple[pl.Series, int]:
        if level == 0 and 0 not in self._codes:  # the distinct values are their own classes
            count = len(self.distinct)
            self._codes[0] = (pl.int_range(count, dtype=pl.UInt32, eager=True).alias("code"), count)
        if level not in self._codes:
            values = self.values(level).alias("v").to_frame()
            classes = values.unique().with_row_index("code")
            codes = values.join(classes, on="v", how="left", nulls_equal=True, maintain_order="left")
            self._codes[level] = (codes.get_column("code"), classes.height)
        return self._codes[level]

    def codes(self, level: int) -> pl.Series:
        """An integer per distinct value, equal when the values are equal at ``level``."""
        return self._encode(level)[0]

    def classes(self, level: int) -> int:
        """How many distinct values the column has at ``level``."""
        return self._encode(level)[1]


class _Search:
    """The frame's quasi-identifiers as integer codes, and reduced to their distinct combinations.

    Each row holds, per column, the index of its value among the column's distinct values (one hash
    join per column, the only pass over the rows' values). Candidate levels are counted over the
    distinct combinations of those indices; the chosen levels are mapped back onto the rows by
    gathering, without another join.
    """

    def __init__(self, frame: pl.DataFrame, quasi: Mapping[str, Generaliser], k: int) -> None:
        self.k = k
        self.ladders: list[_Ladder] = []
        self.rows: list[pl.Series] = []
        for j, (name, gen) in enumerate(quasi.items()):
            values = frame.get_column(name).alias("v")
            distinct = values.unique()
            index = distinct.to_frame().with_row_index("i")
            rows = values.to_frame().join(index, on="v", how="left", nulls_equal=True, maintain_order="left")
            self.ladders.append(_Ladder(gen, distinct.alias(name)))
            self.rows.append(rows.get_column("i").alias(f"i{j}"))
        self.cube = pl.DataFrame(self.rows).group_by(pl.all()).agg(pl.len().alias("n"))
        self._gathered: dict[tuple[int, int], pl.Series] = {}

    def k_of(self) -> int:
        """The k of the frame as it is."""
        return int(cast(int, self.cube.get_column("n").min()))

    def _cube_codes(self, j: int, level: int) -> pl.Series:
        """Column ``j``'s codes at ``level`` for each combination."""
        if (j, level) not in self._gathered:
            codes = self.ladders[j].codes(level).gather(self.cube.get_column(f"i{j}"))
            self._gathered[j, level] = codes.alias(f"g{j}")
        return self._gathered[j, level]

    def _keys(self, levels: Sequence[int]) -> tuple[list[int], list[pl.Expr]]:
        """The columns that tell rows apart at ``levels``, and the group keys over their codes ``g{j}``.

        One integer key when the product of the class counts fits, else one key per column.
        """
        varying = [j for j, level in enumerate(levels) if self.ladders[j].classes(level) > 1]
        if math.prod(self.ladders[j].classes(levels[j]) for j in varying) >= 2**63:
            return varying, [pl.col(f"g{j}") for j in varying]
        key = pl.lit(0, dtype=pl.UInt64)
        for j in varying:
            key = key * self.ladders[j].classes(levels[j]) + pl.col(f"g{j}").cast(pl.UInt64)
        return varying, [key.alias("key")]

    def small_rows(self, levels: Sequence[int]) -> int:
        """Rows in classes smaller than k when the columns are at ``levels``."""
        varying, keys = self._keys(levels)
        counts = self.cube.get_column("n")
        if not varying:
            total = int(counts.sum())
            return total if total < self.k else 0
        table = pl.DataFrame([self._cube_codes(j, levels[j]) for j in varying] + [counts])
        small = (
            table.lazy()
            .group_by(keys)
            .agg(pl.col("n").sum())
            .filter(pl.col("n") < self.k)
            .select(pl.col("n").sum())
        )
        return int(small.collect().item())

    def class_sizes(self, levels: Sequence[int]) -> pl.Series:
        """The size of each row's class when the columns are at ``levels``."""
        varying, keys = self._keys(levels)
        height = len(self.rows[0])
        if not varying:
            return pl.repeat(height, height, dtype=pl.UInt32, eager=True).alias("size")
        table = pl.DataFrame(
            [self.ladders[j].codes(levels[j]).gather(self.rows[j]).alias(f"g{j}") for j in varying]
        )
        return table.select(pl.len().over(keys).alias("size")).get_column("size")

    def generalised(self, j: int, level: int) -> pl.Series:
        """Column ``j`` of the frame generalised to ``level``."""
        ladder = self.ladders[j]
        return ladder.values(level).gather(self.rows[j]).alias(ladder.distinct.name)

    def greedy(self, budget: float) -> list[int]:
        """Levels found by the greedy search of the module docstring."""
        levels = [0] * len(self.ladders)
        small = self.small_rows(levels)
        while small > budget:
            best: tuple[tuple[int, int, int], list[int]] | None = None
            for j, ladder in enumerate(self.ladders):
                if levels[j] >= ladder.generaliser.levels:
                    continue
                step = [*levels[:j], levels[j] + 1, *levels[j + 1 :]]
                rank = (self.small_rows(step), -ladder.classes(levels[j]), j)
                if best is None or rank < best[0]:
                    best = (rank, step)
            if best is None:
                break
            (small, _, _), levels = best
        return levels


def _check_arguments(quasi: Mapping[str, Generaliser], k: int, max_suppression: float) -> None:
    if isinstance(k, bool) or not isinstance(k, int):
        raise ValueError(f"k must be an integer of at least 1, not {k!r}")
    if k < 1:
        raise ValueError(f"k must be at least 1 (every row alike at least itself), not {k}")
    if not 0 <= max_suppression <= 1:
        raise ValueError(f"max_suppression is a share of the rows, from 0 to 1, not {max_suppression}")
    for name, gen in quasi.items():
        levels = gen.levels
        if isinstance(levels, bool) or not isinstance(levels, int) or levels < 0:
            raise ValueError(f"generaliser of {name!r} has levels {levels!r}; expected an integer ≥ 0")


def enforce_k_anonymity(
    frame: pl.DataFrame,
    quasi: Mapping[str, Generaliser],
    k: int = 5,
    *,
    max_suppression: float = 0.05,
) -> KAnonymityResult:
    """``frame`` made k-anonymous over the columns of ``quasi``, each generalised by its generaliser.

    Generalises greedily until the rows in classes smaller than ``k`` are at most ``max_suppression``
    of the frame (or every level is used), then suppresses those rows; see the module docstring.
    Raises ValueError for k < 1, a ``max_suppression`` outside [0, 1] or a column not in the frame.
    """
    _check_arguments(quasi, k, max_suppression)
    columns = list(quasi)
    _check_columns(frame, columns)
    levels = dict.fromkeys(columns, 0)

    if frame.height < k:  # no generalisation makes a class of k out of fewer rows
        return KAnonymityResult(frame.clear(), k, k_of(frame, columns), 0, frame.height, levels)
    if not columns:  # the whole frame is one class, of at least k rows
        return KAnonymityResult(frame, k, frame.height, frame.height, 0, levels)
    search = _Search(frame, quasi, k)
    k_before = search.k_of()
    if k_before >= k:
        return KAnonymityResult(frame, k, k_before, k_before, 0, levels)

    found = search.greedy(max_suppression * frame.height)
    levels = dict(zip(columns, found, strict=True))
    out = frame.with_columns(search.generalised(j, level) for j, level in enumerate(found) if level > 0)
    sizes = search.class_sizes(found)
    keep = sizes >= k
    kept = out.filter(keep)
    k_reached = int(cast(int, sizes.filter(keep).min())) if kept.height else 0
    return KAnonymityResult(kept, k, k_before, k_reached, frame.height - kept.height, levels)

"""Injecting defects (and messy-but-valid values) into a generated table, and remembering each one.

Which defect kinds apply to which columns is read from the contract: required non-key columns can be
blanked, ``mobile_phone`` and ``resident_id`` columns get malformed values, timestamp and date
columns unparseable ones, columns whose element has a range get values outside it, crosswalked
columns local codes the crosswalk lacks, code-table columns values the table lacks, and the primary
key is repeated. Each defective row gets exactly one defect.

``dangling_reference`` is the one cross-dataset defect: a column that names a record of another dataset
(an app report's hotline work order) gets a well-formed id of a record that does not exist. The caller
says which column and how to make such an id (:meth:`Injector.dangle`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np

from datahub.contracts import Dataset
from datahub.dictionary import ElementType
from datahub.synth.model import DEFECT_REASONS, Truth
from datahub.synth.world import World, fullwidth

# Values outside the element's range, by element (a fallback handles any other ranged element).
OUT_OF_RANGE: dict[str, tuple[float, ...]] = {
    "satisfaction": (9, 0, 10),
    "longitude": (200.0, -181.5, 361.0),
    "latitude": (95.0, -91.0),
    "reading_value": (-999.0,),
    "quantity": (-5, -120),
    "population": (-5,),
    "households": (-1, -30),
    "age": (-3, 200),
}

DEFECT_ORDER = (
    "duplicate_key",
    "missing_required",
    "malformed_phone",
    "malformed_id",
    "malformed_date",
    "out_of_range",
    "unmapped_code",
    "unknown_code",
)
MESSY_VARIANTS = ("phone_fullwidth", "phone_dashes", "phone_spaces", "traditional", "padded")


@dataclass
class Table:
    """One delivery file's rows as object arrays of delivered values, keyed by unified column name."""

    dataset: Dataset
    cols: dict[str, np.ndarray]
    protected: np.ndarray  # rows that must stay exactly as generated (linked events, the stuck sensor)
    text: bool  # numbers are delivered as text (CSV)
    by_name: frozenset[str] = frozenset()  # code columns delivered as Chinese names
    typed: bool = False  # a typed format (Parquet): no unparseable dates, no stray spaces
    marks: list[tuple[int, str, str]] = field(default_factory=list)  # (row index, defect, column)

    @property
    def n(self) -> int:
        return len(self.protected)

    def key(self, i: int) -> str:
        return "|".join(_key_text(self.cols[k][i]) for k in self.dataset.key_columns)

    def truths(self, file: str) -> list[Truth]:
        out = []
        for i, kind, column in sorted(self.marks):
            out.append(Truth(self.dataset.name, file, i + 1, self.key(i), kind, column, DEFECT_REASONS[kind]))
        return out


def _key_text(value: object) -> str:
    if value is None:
        return ""
    if hasattr(value, "strftime"):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return str(value)


def defect_count(n: int, rate: float) -> int:
    if rate <= 0 or n < 2:
        return 0
    return max(1, round(n * rate))


def applicable(table: Table, exclude: Iterable[str] = ()) -> dict[str, list[str]]:
    """Defect kind -> the columns it can hit, read from the contract."""
    ds = table.dataset
    plan: dict[str, list[str]] = {}

    def add(kind: str, cols: list[str]) -> None:
        if cols and kind not in exclude:
            plan[kind] = cols

    add("duplicate_key", list(ds.key_columns))
    add("missing_required", [c.name for c in ds.columns if c.required and not c.primary_key])
    elem = {c.name: (c.element.id if c.element else "") for c in ds.columns}
    add("malformed_phone", [n for n, e in elem.items() if e == "mobile_phone"])
    add("malformed_id", [n for n, e in elem.items() if e == "resident_id"])
    if not table.typed:
        add(
            "malformed_date",
            [
                c.name
                for c in ds.columns
                if not c.primary_key and c.type in (ElementType.timestamp, ElementType.date)
            ],
        )
    add(
        "out_of_range",
        [
            c.name
            for c in ds.columns
            if c.element is not None and (c.element.min is not None or c.element.max is not None)
        ],
    )
    add("unmapped_code", [c.name for c in ds.columns if c.crosswalk])
    composite = len(ds.key_columns) > 1
    add(
        "unknown_code",
        [c.name for c in ds.columns if c.code_table and not c.crosswalk and (composite or not c.primary_key)],
    )
    return plan


def messy_plan(table: Table, world: World) -> list[tuple[str, str]]:
    """(variant, column) pairs of messy-but-valid values that make sense for this table."""
    if table.typed:
        return []
    ds = table.dataset
    out: list[tuple[str, str]] = []
    for c in ds.columns:
        if c.element is not None and c.element.id == "mobile_phone":
            out += [("phone_fullwidth", c.name), ("phone_dashes", c.name), ("phone_spaces", c.name)]
    for c in ds.columns:
        if c.name in table.by_name and c.code_table in ("district", "street"):
            out.append(("traditional", c.name))
            break
    coded = [c.name for c in ds.columns if c.crosswalk] or [
        c.name for c in ds.columns if c.code_table and not c.primary_key
    ]
    if coded:
        out.append(("padded", coded[0]))
    return out


class Injector:
    def __init__(self, world: World, rng: np.random.Generator, rate: float, year: int) -> None:
        self.world = world
        self.rng = rng
        self.rate = rate
        self.year = year

    # ---------------------------------------------------------------- values
    def _number(self, table: Table, element_id: str, etype: ElementType, value: float) -> object:
        v: object = int(value) if etype is ElementType.integer else float(value)
        return str(v) if table.text else v

    def _out_of_range(self, table: Table, column: str) -> object:
        col = table.dataset.column(column)
        el = col.element
        assert el is not None
        choices = OUT_OF_RANGE.get(el.id)
        if choices is None:
            lo, hi = el.min, el.max
            choices = tuple(
                v
                for v in ((lo - 1) if lo is not None else None, (hi * 2 + 1) if hi is not None else None)
                if v is not None
            )
        value = choices[int(self.rng.integers(len(choices)))]
        return self._number(table, el.id, col.type, value)

    def _bad_date(self, table: Table, column: str) -> str:
        y = self.year
        options: tuple[str, ...]
        if table.dataset.column(column).type is ElementType.date:
            options = (f"{y}-02-30", "待补录", f"{y}/13/01", "0000-00-00")
        else:
            options = (f"{y}-02-30 10:00:00", "待补录", f"{y}/13/01 08:00:00", f"{y}-09-31 25:61:00", "无")
        return options[int(self.rng.integers(len(options)))]

    def _mutate(self, table: Table, kind: str, column: str, i: int) -> bool:
        col = table.dataset.column(column)
        old = table.cols[column][i]
        new: object
        if kind == "missing_required":
            new = None
        elif kind == "malformed_phone":
            new = self.world.bad_phone(self.rng, old if isinstance(old, str) else None)
        elif kind == "malformed_id":
            new = self.world.bad_resident_id(self.rng, old if isinstance(old, str) else None)
        elif kind == "malformed_date":
            new = self._bad_date(table, column)
        elif kind == "out_of_range":
            new = self._out_of_range(table, column)
        elif kind == "unmapped_code":
            assert col.crosswalk
            new = self.world.unmapped_value(col.crosswalk, self.rng)
        elif kind == "unknown_code":
            assert col.code_table
            new = self.world.unknown_value(col.code_table, column in table.by_name, self.rng)
            if col.primary_key:  # part of a composite key: the changed key must stay unique
                others = {table.key(j) for j in range(table.n) if j != i}
                for _ in range(20):
                    table.cols[column][i] = new
                    if table.key(i) not in others:
                        break
                    new = self.world.unknown_value(col.code_table, column in table.by_name, self.rng)
                else:
                    table.cols[column][i] = old
                    return False
        else:  # pragma: no cover - programming error
            raise ValueError(kind)
        table.cols[column][i] = new
        return True

    def _messy(self, table: Table, variant: str, column: str, i: int) -> bool:
        value = table.cols[column][i]
        if not isinstance(value, str) or not value:
            return False
        if variant == "phone_fullwidth":
            cut = int(self.rng.integers(3, 12))  # some or all digits full-width
            new = fullwidth(value[:cut]) + value[cut:]
        elif variant == "phone_dashes":
            new = f"{value[:3]}-{value[3:7]}-{value[7:]}"
        elif variant == "phone_spaces":
            new = f"{value[:3]} {value[3:7]} {value[7:]}"
        elif variant == "traditional":
            alias = self.world.traditional.get(value)
            if not alias:
                return False
            new = alias
        elif variant == "padded":
            new = (
                (" ", "  ", "")[int(self.rng.integers(3))]
                + value
                + (" ", "", "  ")[int(self.rng.integers(3))]
            )
            if new == value:
                new = value + " "
        else:  # pragma: no cover
            raise ValueError(variant)
        table.cols[column][i] = new
        return True

    # ---------------------------------------------------------------- rows
    def inject(self, table: Table, exclude: Iterable[str] = (), messy: bool = True) -> None:
        n = table.n
        count = defect_count(n, self.rate)
        if count == 0:
            return
        free = ~table.protected.copy()
        plan = applicable(table, exclude)

        def pick(k: int, ok: Callable[[int], bool] | None = None, first: int = 0) -> list[int]:
            idx = np.flatnonzero(free)
            idx = idx[idx >= first]
            order = self.rng.permutation(len(idx))
            out: list[int] = []
            for j in order:
                i = int(idx[j])
                if ok is None or ok(i):
                    out.append(i)
                    free[i] = False
                    if len(out) == k:
                        break
            return sorted(out)

        for kind in DEFECT_ORDER:
            columns = plan.get(kind)
            if not columns:
                continue
            if kind == "duplicate_key":
                self._duplicates(table, pick(count, first=1), columns)
                continue
            for i in pick(count):
                column = columns[int(self.rng.integers(len(columns)))]
                if self._mutate(table, kind, column, i):
                    table.marks.append((i, kind, column))
        if messy:
            for variant, column in messy_plan(table, self.world):

                def ok(i: int, variant: str = variant, column: str = column) -> bool:
                    v = table.cols[column][i]
                    if not isinstance(v, str) or not v:
                        return False
                    return variant != "traditional" or v in self.world.traditional

                for i in pick(count, ok):
                    if self._messy(table, variant, column, i):
                        table.marks.append((i, "messy_valid", column))

    def dangle(self, table: Table, column: str, make: Callable[[int], object]) -> None:
        """``dangling_reference``: ``column`` of rows that are unprotected, still clean and have it empty gets
        ``make(row index)``, a well-formed reference to a record that does not exist.

        Runs after :meth:`inject` (best with an injector of its own random stream, so the other defects'
        rows and values stay what they were without it).
        """
        count = defect_count(table.n, self.rate)
        marked = {i for i, _, _ in table.marks}
        values = table.cols[column]
        pool = [i for i in np.flatnonzero(~table.protected).tolist() if i not in marked and values[i] is None]
        if count == 0 or not pool:
            return
        chosen = self.rng.choice(len(pool), size=min(count, len(pool)), replace=False)
        for i in sorted(pool[j] for j in chosen.tolist()):
            values[i] = make(i)
            table.marks.append((i, "dangling_reference", column))

    def _duplicates(self, table: Table, victims: list[int], key_columns: list[str]) -> None:
        """Give each victim the key of an earlier, untouched, unprotected row."""
        victim_set = set(victims)
        for v in victims:
            for _ in range(50):
                j = int(self.rng.integers(0, v))
                if j not in victim_set and not table.protected[j]:
                    break
            else:
                continue
            for k in key_columns:
                table.cols[k][v] = table.cols[k][j]
            table.marks.append((v, "duplicate_key", "|".join(key_columns)))

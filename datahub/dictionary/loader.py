"""Load the unified data dictionary from its human-edited files and validate it as a whole.

Layout of a dictionary directory::

    elements.yaml        data elements
    code_tables.yaml     index of code tables, each a CSV: code,name_zh,name_en[,parent][,attributes...]
    crosswalks.yaml      index of crosswalks, each a CSV: local_code,unified_code[,local_name]
    calendar.yaml        public holidays and exchanged working days, per year (datahub.dictionary.calendar)

Every problem is reported with the file, the entry and the reason; loading collects all of them
before it fails, so a steward fixes a broken dictionary in one pass.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ValidationError

from datahub.citytime import city_time
from datahub.dictionary.calendar import CalendarYear, WorkCalendar
from datahub.dictionary.models import (
    Code,
    CodeTable,
    CodeTableSpec,
    Crosswalk,
    CrosswalkSpec,
    DataElement,
    Dictionary,
)
from datahub.errors import DictionaryError

DEPARTMENT_TABLE = "department"
M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class Problem:
    file: str
    entry: str
    reason: str
    severity: Literal["error", "warning"] = "error"  # a warning is reported but fails nothing

    def __str__(self) -> str:
        warning = "warning: " if self.severity == "warning" else ""
        return f"{self.file}: {self.entry}: {warning}{self.reason}"


class _Collector:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.problems: list[Problem] = []

    def add(
        self, file: Path | str, entry: str, reason: str, severity: Literal["error", "warning"] = "error"
    ) -> None:
        path = Path(file)
        name = str(path.relative_to(self.root)) if path.is_relative_to(self.root) else str(file)
        self.problems.append(Problem(name, entry, reason, severity))

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]


def _read_yaml_list(path: Path, key: str, out: _Collector) -> list[dict[str, Any]]:
    if not path.is_file():
        out.add(path.name, "-", "file is missing")
        return []
    # Imported here: datahub.contracts imports the dictionary.
    from datahub.contracts.yaml_io import load_yaml

    try:
        doc = load_yaml(path, error=DictionaryError)
    except DictionaryError as exc:
        out.add(path, exc.path or "-", exc.message)
        return []
    if not isinstance(doc, dict) or not isinstance(doc.get(key), list):
        out.add(path, "-", f"expected a mapping with a list under '{key}'")
        return []
    entries = doc[key]
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            out.add(path, f"{key}[{i}]", "expected a mapping")
    return [e for e in entries if isinstance(e, dict)]


def _parse(
    model: type[M], entries: list[dict[str, Any]], path: Path, key: str, out: _Collector
) -> dict[str, M]:
    parsed: dict[str, M] = {}
    for i, entry in enumerate(entries):
        label = f"{key}[{i}] {entry.get('id', '?')}"
        try:
            item = model.model_validate(entry)
        except ValidationError as exc:
            for err in exc.errors():
                loc = ".".join(str(p) for p in err["loc"]) or "-"
                out.add(path, f"{label}.{loc}", err["msg"])
            continue
        item_id = item.id  # type: ignore[attr-defined]
        if item_id in parsed:
            out.add(path, label, "duplicate id")
        parsed[item_id] = item
    return parsed


def _read_csv(path: Path, required: tuple[str, ...], out: _Collector) -> list[tuple[int, dict[str, str]]]:
    if not path.is_file():
        out.add(path, "-", "file is missing")
        return []
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            reader = csv.DictReader(fh)
            missing = [c for c in required if c not in (reader.fieldnames or [])]
            if missing:
                out.add(path, "header", f"missing columns: {', '.join(missing)}")
                return []
            return [
                (line, {k: (v or "").strip() for k, v in row.items() if k})
                for line, row in enumerate(reader, 2)
            ]
    except UnicodeDecodeError as exc:
        out.add(path, "-", f"not UTF-8 (byte offset {exc.start}); save the file as UTF-8")
    except csv.Error as exc:
        out.add(path, "-", f"not a readable CSV: {exc}")
    return []


def _load_code_table(root: Path, spec: CodeTableSpec, out: _Collector) -> CodeTable:
    path = root / spec.file
    codes: dict[str, Code] = {}
    for line, row in _read_csv(path, ("code", "name_zh", "name_en"), out):
        code = row.pop("code")
        name_zh, name_en = row.pop("name_zh"), row.pop("name_en")
        parent = row.pop("parent", "") or None
        if not code or not name_zh:
            out.add(path, f"line {line}", "code and name_zh are required")
            continue
        if code in codes:
            out.add(path, f"line {line} {code}", "duplicate code")
        codes[code] = Code(code, name_zh, name_en, parent, row)
    return CodeTable(spec, codes)


def _load_crosswalk(root: Path, spec: CrosswalkSpec, out: _Collector) -> Crosswalk:
    path = root / spec.file
    mapping: dict[str, str] = {}
    for line, row in _read_csv(path, ("local_code", "unified_code"), out):
        local, unified = row["local_code"], row["unified_code"]
        if not local or not unified:
            out.add(path, f"line {line}", "local_code and unified_code are required")
        elif local in mapping and mapping[local] != unified:
            out.add(path, f"line {line} {local}", f"mapped twice ({mapping[local]} and {unified})")
        else:
            mapping[local] = unified
    return Crosswalk(spec, mapping)


CALENDAR_FILE = "calendar.yaml"


def _load_calendar(root: Path, out: _Collector) -> WorkCalendar:
    """calendar.yaml checked as a whole: exchanged working days are weekend days and no day off, no day
    is listed twice, every date lies in its year (or the December before, as a New Year holiday may)."""
    path = root / CALENDAR_FILE
    if not path.is_file():
        out.add(path.name, "-", "file is missing: answer deadlines count weekends only", "warning")
        return WorkCalendar()
    years: list[CalendarYear] = []
    for i, entry in enumerate(_read_yaml_list(path, "years", out)):
        label = f"years[{i}] {entry.get('year', '?')}"
        try:
            years.append(CalendarYear.model_validate(entry))
        except ValidationError as exc:
            for err in exc.errors():
                loc = ".".join(str(p) for p in err["loc"]) or "-"
                out.add(path, f"{label}.{loc}", err["msg"])
    seen_years: set[int] = set()
    seen_days: dict[date, str] = {}
    for y in years:
        if y.year in seen_years:
            out.add(path, f"year {y.year}", "duplicate year")
        seen_years.add(y.year)
        for h in y.holidays:
            label = f"year {y.year} {h.name}"
            for d in (*h.days_off(), *h.work):
                if not (d.year == y.year or (d.year == y.year - 1 and d.month == 12)):
                    out.add(path, label, f"{d} is not in {y.year}")
                if d in seen_days:
                    out.add(path, label, f"{d} is listed twice (also under {seen_days[d]})")
                seen_days[d] = label
            for d in h.work:
                if d.weekday() < 5:
                    out.add(
                        path, label, f"{d} is a {d:%A}: a day worked in exchange (调休上班) is a weekend day"
                    )
    return WorkCalendar.from_years(years)


def calendar_warnings(d: Dictionary, today: date | None = None) -> list[Problem]:
    """A warning for the current and the next year (city time) when the calendar does not list them:
    their deadlines count weekends only until a steward adds the year's notice."""
    year = (today or city_time(datetime.now(UTC)).date()).year
    return [
        Problem(
            CALENDAR_FILE,
            f"year {y}",
            f"{y} is not listed: answer deadlines in {y} count weekends only; add the State Council General "
            f"Office's notice on {y}'s holidays (国务院办公厅关于{y}年部分节假日安排的通知)",
            "warning",
        )
        for y in (year, year + 1)
        if not d.calendar.covers(y)
    ]


def _cross_check(d: Dictionary, root: Path, out: _Collector) -> None:
    tables = d.code_tables
    for el in d.elements.values():
        if el.code_table and el.code_table not in tables:
            out.add("elements.yaml", f"elements {el.id}.code_table", f"unknown code table '{el.code_table}'")
        if el.min is not None and el.max is not None and el.min > el.max:
            out.add("elements.yaml", f"elements {el.id}", "min is greater than max")
    for table in tables.values():
        spec = table.spec
        if spec.parent is None:
            continue
        if spec.parent not in tables:
            out.add(
                "code_tables.yaml", f"code_tables {spec.id}.parent", f"unknown code table '{spec.parent}'"
            )
            continue
        parents = tables[spec.parent].codes
        for code in table.codes.values():
            if code.parent is None:
                out.add(
                    spec.file,
                    f"code {code.code}",
                    f"parent is missing (a code of '{spec.parent}' is required)",
                )
            elif code.parent not in parents:
                out.add(
                    spec.file, f"code {code.code}", f"parent '{code.parent}' is not a code of '{spec.parent}'"
                )
    departments = tables.get(DEPARTMENT_TABLE)
    if departments is None:
        out.add("code_tables.yaml", "-", f"the '{DEPARTMENT_TABLE}' code table is required")
    for cw in d.crosswalks.values():
        walk = cw.spec
        if departments is not None and walk.department not in departments.codes:
            out.add(
                "crosswalks.yaml",
                f"crosswalks {walk.id}.department",
                f"unknown department '{walk.department}'",
            )
        target = tables.get(walk.target)
        if target is None:
            out.add("crosswalks.yaml", f"crosswalks {walk.id}.target", f"unknown code table '{walk.target}'")
            continue
        for local, unified in cw.mapping.items():
            if unified not in target.codes:
                out.add(walk.file, f"local code {local}", f"'{unified}' is not a code of '{walk.target}'")


def check_dictionary(path: Path) -> tuple[Dictionary | None, list[Problem]]:
    """Load and validate; returns the dictionary (None when an error makes it unusable) and every
    problem found, warnings included."""
    root = Path(path).resolve()
    out = _Collector(root)
    if not root.is_dir():
        out.add(str(path), "-", "not a directory")
        return None, out.problems

    def index(model: type[M], key: str) -> dict[str, M]:
        file = root / f"{key}.yaml"
        return _parse(model, _read_yaml_list(file, key, out), file, key, out)

    elements = index(DataElement, "elements")
    table_specs = index(CodeTableSpec, "code_tables")
    walk_specs = index(CrosswalkSpec, "crosswalks")
    tables = {k: _load_code_table(root, s, out) for k, s in table_specs.items()}
    walks = {k: _load_crosswalk(root, s, out) for k, s in walk_specs.items()}
    d = Dictionary(elements, tables, walks, _load_calendar(root, out))
    _cross_check(d, root, out)
    return (None if out.errors else d), out.problems


def load_dictionary(path: Path) -> Dictionary:
    """Load the dictionary or raise DictionaryError listing every problem."""
    d, problems = check_dictionary(path)
    if d is None:
        errors = [p for p in problems if p.severity == "error"]
        first = errors[0]
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise DictionaryError(f"{first.reason}{more}", file=first.file, path=first.entry)
    return d

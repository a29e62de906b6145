"""The unified data dictionary: the shape of its real content, and how a broken copy is reported."""

from __future__ import annotations

import csv
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from datahub.dictionary import (
    Dictionary,
    ElementType,
    PersonalClass,
    check_dictionary,
    load_dictionary,
)
from datahub.errors import DictionaryError

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DICTIONARY_DIR = PROJECT_ROOT / "dictionary"
SHARED_IDS = PROJECT_ROOT / "docs" / "shared-ids.md"
CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def dictionary() -> Dictionary:
    return load_dictionary(DICTIONARY_DIR)


# ---------------------------------------------------------------------------------------------------
# docs/shared-ids.md is the list other parts of the platform rely on; the dictionary must match it.
# ---------------------------------------------------------------------------------------------------


def _shared_ids_section(title: str) -> str:
    text = SHARED_IDS.read_text(encoding="utf-8")
    return text.split(f"## {title}", 1)[1].split("\n## ", 1)[0]


def _shared_element_lines() -> list[tuple[str, str]]:
    """(element id, its description line) for every id in the doc; one line may list several ids."""
    out: list[tuple[str, str]] = []
    for line in _shared_ids_section("Data elements").splitlines():
        if line.startswith("- "):
            ids, spec = line[2:].split(":", 1)
            out.extend((element_id.strip(), spec) for element_id in ids.split(","))
    return out


SHARED_ELEMENTS = _shared_element_lines()
SHARED_DEPARTMENTS = re.findall(r"\b([A-Z]{2}) (\S+)", _shared_ids_section("Departments"))


def test_real_dictionary_has_no_problems() -> None:
    d, problems = check_dictionary(DICTIONARY_DIR)
    assert problems == []
    assert d is not None


def test_shared_ids_doc_was_parsed() -> None:
    assert len(SHARED_ELEMENTS) >= 40
    assert len(SHARED_DEPARTMENTS) == 12


@pytest.mark.parametrize(("element_id", "spec"), SHARED_ELEMENTS, ids=[e for e, _ in SHARED_ELEMENTS])
def test_element_matches_shared_ids(dictionary: Dictionary, element_id: str, spec: str) -> None:
    el = dictionary.elements.get(element_id)
    assert el is not None, f"element '{element_id}' listed in docs/shared-ids.md is not in elements.yaml"
    assert el.type == ElementType(spec.split(",")[0].split()[0])

    table = re.search(r"\[(\w+)\]", spec)
    assert el.code_table == (table.group(1) if table else None)

    pattern = re.search(r"(\^\S*\$)", spec)
    assert el.pattern == (pattern.group(1) if pattern else None)

    validator = re.search(r"validator (\w+)", spec)
    assert el.validator == (validator.group(1) if validator else None)

    bounds = re.search(r"(-?\d+(?:\.\d+)?)\.\.(-?\d+(?:\.\d+)?)", spec)
    assert (el.min, el.max) == ((float(bounds.group(1)), float(bounds.group(2))) if bounds else (None, None))

    max_length = re.search(r"max_length (\d+)", spec)
    assert el.max_length == (int(max_length.group(1)) if max_length else None)

    assert el.free_text == ("free_text true" in spec)

    personal = re.search(r"\b(direct_identifier|quasi_identifier|sensitive)\b", spec)
    assert el.personal_class == (PersonalClass(personal.group(1)) if personal else PersonalClass.none)


def test_elements_are_named_and_described_in_chinese(dictionary: Dictionary) -> None:
    assert len(dictionary.elements) >= 40
    for el in dictionary.elements.values():
        assert CJK.search(el.name_zh), el.id
        assert el.name_en.strip(), el.id
        assert CJK.search(el.description), el.id
        if el.code_table:
            assert el.type == ElementType.string, el.id


# Example values per identifier pattern: (element, value, matches?)
PATTERN_EXAMPLES = [
    ("work_order_id", "GD20240501000123", True),
    ("work_order_id", "GD2024050100012", False),  # one digit short
    ("app_report_id", "APP20240501000001", True),
    ("app_report_id", "app20240501000001", False),  # prefix is upper case
    ("case_id", "CG20240501000042", True),
    ("police_incident_id", "JQ20240501000007", True),
    ("police_incident_id", "JQ-20240501000007", False),
    ("sensor_id", "SN-AQ-0001", True),
    ("sensor_id", "SN-WATER-0001", False),  # category is 2 to 4 letters
    ("grid_code", "990102001-015", True),
    ("grid_code", "990102001015", False),  # hyphen required
    ("warehouse_id", "CK-990121-01", True),
    ("grid_officer_id", "WG000318", True),
    ("mobile_phone", "13912345678", True),
    ("mobile_phone", "12912345678", False),  # no 12x mobile range
    ("resident_id", "11010519491231002X", True),  # the GB 11643 example
    ("resident_id", "11010519491231002x", False),  # check character must be upper-case X
    ("uscc", "91350100M000100Y43", True),
    ("uscc", "91350100M000100I43", False),  # I is not in the GB 32100 alphabet
]


@pytest.mark.parametrize(("element_id", "value", "matches"), PATTERN_EXAMPLES)
def test_identifier_patterns(dictionary: Dictionary, element_id: str, value: str, matches: bool) -> None:
    pattern = dictionary.element(element_id).pattern
    assert pattern is not None
    assert bool(re.fullmatch(pattern, value)) is matches


# ---------------------------------------------------------------------------------------------------
# Code tables
# ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("table_id", "expected"),
    [
        ("event_major_category", 12),
        ("response_level", 3),
        ("channel", 7),
        ("lifecycle_stage", 6),
        ("sharing_class", 3),
        ("quality_dimension", 6),
        ("gender", 4),
    ],
)
def test_fixed_size_tables(dictionary: Dictionary, table_id: str, expected: int) -> None:
    assert len(dictionary.codes(table_id)) == expected


def test_every_code_has_chinese_and_english_names(dictionary: Dictionary) -> None:
    for table in dictionary.code_tables.values():
        for code in table.codes.values():
            assert CJK.search(code.name_zh) or code.name_zh.isascii(), (table.id, code.code)
            assert code.name_en, (table.id, code.code)


def test_departments_match_shared_ids(dictionary: Dictionary) -> None:
    codes = dictionary.codes("department")
    core = {c: d for c, d in codes.items() if d.attributes.get("kind") == "core"}
    assert {(c, core[c].name_zh) for c in core} == set(SHARED_DEPARTMENTS)
    assert len(core) == 12
    assert {d.attributes.get("kind") for d in codes.values()} <= {"core", "external"}


def test_districts(dictionary: Dictionary) -> None:
    districts = dictionary.codes("district")
    assert len(districts) >= 8
    assert all(re.fullmatch(r"9901\d{2}", c) for c in districts)
    assert any(d.name_zh.endswith("县") for d in districts.values())


def test_streets_belong_to_their_district(dictionary: Dictionary) -> None:
    streets = dictionary.codes("street")
    districts = dictionary.codes("district")
    assert len(streets) >= 40
    for s in streets.values():
        assert re.fullmatch(r"\d{9}", s.code), s.code
        assert s.parent in districts, s.code
        assert s.code.startswith(s.parent), s.code
        assert s.name_zh.endswith(("街道", "镇")), s.code
    assert {s.parent for s in streets.values()} == set(districts)


def test_event_categories(dictionary: Dictionary) -> None:
    majors = dictionary.codes("event_major_category")
    minors = dictionary.codes("event_category")
    departments = dictionary.codes("department")
    assert sorted(majors) == [f"{i:02d}" for i in range(1, 13)]
    assert len(minors) >= 86
    for m in minors.values():
        assert re.fullmatch(r"\d{4}", m.code), m.code
        assert m.parent in majors, m.code
        assert m.code[:2] == m.parent, m.code
        assert m.attributes["department"] in departments, m.code
    assert {m.parent for m in minors.values()} == set(majors)


def test_response_levels_carry_their_time_limits(dictionary: Dictionary) -> None:
    levels = dictionary.codes("response_level")
    limits = {
        c: (int(v.attributes["response_minutes"]), int(v.attributes["handling_hours"]))
        for c, v in levels.items()
    }
    assert limits == {"red": (30, 24), "yellow": (60, 48), "blue": (120, 72)}
    assert {c: v.name_zh for c, v in levels.items()} == {"red": "红色", "yellow": "黄色", "blue": "蓝色"}


def test_small_tables(dictionary: Dictionary) -> None:
    assert set(dictionary.codes("channel")) == {
        "hotline_12345",
        "gov_app",
        "wechat",
        "grid_patrol",
        "iot_sensor",
        "police_110",
        "media",
    }
    stages = sorted(dictionary.codes("lifecycle_stage").values(), key=lambda c: int(c.attributes["sequence"]))
    assert [(s.code, s.name_zh) for s in stages] == [
        ("discover", "发现"),
        ("report", "上报"),
        ("dispatch", "派单"),
        ("handle", "处置"),
        ("feedback", "反馈"),
        ("evaluate", "评价"),
    ]
    assert {c: v.name_zh for c, v in dictionary.codes("sharing_class").items()} == {
        "unconditional": "无条件共享",
        "conditional": "有条件共享",
        "not_shared": "不予共享",
    }
    assert {c: v.name_zh for c, v in dictionary.codes("quality_dimension").items()} == {
        "conformity": "规范性",
        "completeness": "完整性",
        "accuracy": "准确性",
        "consistency": "一致性",
        "timeliness": "时效性",
        "accessibility": "可访问性",
    }
    assert {c: v.name_zh for c, v in dictionary.codes("gender").items()} == {
        "0": "未知的性别",
        "1": "男性",
        "2": "女性",
        "9": "未说明的性别",
    }


def test_sensor_types_have_plausible_ranges(dictionary: Dictionary) -> None:
    sensors = dictionary.codes("sensor_type")
    reading = dictionary.element("reading_value")
    assert {"pm25", "pm10", "no2", "noise", "water_level", "rainfall", "temperature"} <= set(sensors)
    for s in sensors.values():
        low, high = float(s.attributes["min_value"]), float(s.attributes["max_value"])
        assert s.attributes["unit"], s.code
        assert reading.min is not None and reading.max is not None
        assert reading.min <= low < high <= reading.max, s.code


def test_resource_types_have_units(dictionary: Dictionary) -> None:
    resources = dictionary.codes("resource_type")
    assert {"tent", "drinking_water", "rescue_tools", "quilt", "food", "life_jacket"} <= set(resources)
    assert all(r.attributes["unit"] for r in resources.values())
    assert resources["tent"].attributes["unit"] == "顶"


@pytest.mark.parametrize(
    ("table_id", "spelling", "code"),
    [
        ("district", "东湖区", "990102"),
        ("district", "東湖區", "990102"),  # traditional alias
        ("district", "990102", "990102"),
        ("district", "青石縣", "990121"),
        ("street", "观音桥街道", "990103002"),
        ("street", "觀音橋街道", "990103002"),
        ("street", "長生鎮", "990104101"),
        ("event_category", "占道经营", "0301"),
    ],
)
def test_lookup_accepts_names_and_traditional_aliases(
    dictionary: Dictionary, table_id: str, spelling: str, code: str
) -> None:
    assert dictionary.code_tables[table_id].lookup()[spelling] == code


@pytest.mark.parametrize("table_id", ["district", "street", "event_major_category", "event_category"])
def test_every_spelling_names_one_code(dictionary: Dictionary, table_id: str) -> None:
    """lookup() keeps the last code for a repeated spelling, so a table must not repeat one."""
    seen: dict[str, str] = {}
    for c in dictionary.codes(table_id).values():
        aliases = [a for a in c.attributes.get("aliases", "").split("|") if a]
        for spelling in {c.code, c.name_zh, *aliases}:
            owner = seen.setdefault(spelling, c.code)
            assert owner == c.code, f"'{spelling}' names both {owner} and {c.code}"
        assert c.name_zh not in aliases, c.code


# ---------------------------------------------------------------------------------------------------
# Crosswalks
# ---------------------------------------------------------------------------------------------------

CROSSWALK_SHAPES = {
    # crosswalk: (local code pattern, fewest rows, most rows)
    "hotline_category": (r"RX\d{3}", 30, 50),
    "app_category": (r"APP-[A-Z]{2}\d{2}", 20, 40),
    "citymgmt_category": (r"CG\d{4}", 20, 30),
    "police_category": (r"0\d0\d00", 15, 25),
    "police_severity": (r"一般|轻微|严重", 3, 3),
    "citymgmt_severity": (r"轻微|严重", 2, 2),
}


def test_every_crosswalk_is_checked(dictionary: Dictionary) -> None:
    assert set(dictionary.crosswalks) == set(CROSSWALK_SHAPES)


@pytest.mark.parametrize("crosswalk_id", sorted(CROSSWALK_SHAPES))
def test_crosswalk_shape_and_targets(dictionary: Dictionary, crosswalk_id: str) -> None:
    cw = dictionary.crosswalks[crosswalk_id]
    pattern, fewest, most = CROSSWALK_SHAPES[crosswalk_id]
    target = dictionary.codes(cw.spec.target)
    with (DICTIONARY_DIR / cw.spec.file).open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    local_codes = [r["local_code"] for r in rows]
    assert len(local_codes) == len(set(local_codes)), "a local code is listed twice"
    assert fewest <= len(rows) <= most
    for r in rows:
        assert re.fullmatch(pattern, r["local_code"]), r["local_code"]
        assert r["unified_code"] in target, r["local_code"]
        assert CJK.search(r["local_name"]), r["local_code"]


def test_hotline_crosswalk_covers_most_majors(dictionary: Dictionary) -> None:
    mapped = dictionary.crosswalks["hotline_category"].mapping.values()
    assert len({code[:2] for code in mapped}) >= 10


@pytest.mark.parametrize(
    ("crosswalk_id", "local", "unified"),
    [
        ("police_severity", "严重", "red"),
        ("police_severity", "一般", "yellow"),
        ("police_severity", "轻微", "blue"),
        ("citymgmt_severity", "严重", "red"),
        ("citymgmt_severity", "轻微", "blue"),
    ],
)
def test_severity_crosswalks(dictionary: Dictionary, crosswalk_id: str, local: str, unified: str) -> None:
    assert dictionary.crosswalks[crosswalk_id].mapping[local] == unified


# ---------------------------------------------------------------------------------------------------
# Broken dictionaries: a copy of the real one with exactly one thing broken.
# ---------------------------------------------------------------------------------------------------


def _edit_elements(edit: Callable[[list[dict[str, Any]]], None]) -> Callable[[Path], None]:
    def apply(root: Path) -> None:
        path = root / "elements.yaml"
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        edit(doc["elements"])
        path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")

    return apply


def _set_field(element_id: str, key: str, value: object) -> Callable[[Path], None]:
    def edit(elements: list[dict[str, Any]]) -> None:
        next(e for e in elements if e["id"] == element_id)[key] = value

    return _edit_elements(edit)


def _duplicate_element(element_id: str) -> Callable[[Path], None]:
    def edit(elements: list[dict[str, Any]]) -> None:
        elements.append(dict(next(e for e in elements if e["id"] == element_id)))

    return _edit_elements(edit)


def _append_line(file: str, line: str) -> Callable[[Path], None]:
    def apply(root: Path) -> None:
        with (root / file).open("a", encoding="utf-8") as fh:
            fh.write(line + "\n")

    return apply


def _replace(file: str, old: str, new: str) -> Callable[[Path], None]:
    def apply(root: Path) -> None:
        path = root / file
        text = path.read_text(encoding="utf-8")
        assert old in text
        path.write_text(text.replace(old, new, 1), encoding="utf-8")

    return apply


def _delete(file: str) -> Callable[[Path], None]:
    return lambda root: (root / file).unlink()


def _overwrite(file: str, text: str) -> Callable[[Path], None]:
    return lambda root: (root / file).write_text(text, encoding="utf-8")


BROKEN = [
    # (case, how to break the copy, file named, entry contains, reason contains)
    (
        "unknown_code_table",
        _set_field("gender", "code_table", "sex"),
        "elements.yaml",
        "elements gender.code_table",
        "unknown code table 'sex'",
    ),
    (
        "bad_regex",
        _set_field("work_order_id", "pattern", r"^GD(\d{14}$"),
        "elements.yaml",
        "work_order_id.pattern",
        "pattern does not compile",
    ),
    (
        "unknown_field",
        _set_field("case_id", "owner", "UM"),
        "elements.yaml",
        "case_id.owner",
        "Extra inputs are not permitted",
    ),
    ("unknown_type", _set_field("age", "type", "int"), "elements.yaml", "age.type", "Input should be"),
    (
        "min_above_max",
        _set_field("satisfaction", "min", 9),
        "elements.yaml",
        "elements satisfaction",
        "min is greater than max",
    ),
    ("duplicate_element", _duplicate_element("email"), "elements.yaml", "email", "duplicate id"),
    (
        "duplicate_code",
        _append_line("code_tables/districts.csv", "990102,东湖新区,Donghu New District,"),
        "code_tables/districts.csv",
        "990102",
        "duplicate code",
    ),
    (
        "orphan_street",
        _append_line("code_tables/streets.csv", "990199001,幽灵街道,Ghost,990199,"),
        "code_tables/streets.csv",
        "code 990199001",
        "parent '990199' is not a code of 'district'",
    ),
    (
        "orphan_minor_category",
        _append_line("code_tables/event_categories.csv", "1301,未知事件,Unknown,13,OC"),
        "code_tables/event_categories.csv",
        "code 1301",
        "parent '13' is not a code of 'event_major_category'",
    ),
    (
        "missing_column",
        _replace("code_tables/channels.csv", "code,name_zh,name_en", "code,name_zh"),
        "code_tables/channels.csv",
        "header",
        "missing columns: name_en",
    ),
    (
        "crosswalk_target_missing",
        _replace("crosswalks/police_severity.csv", "严重,red", "严重,purple"),
        "crosswalks/police_severity.csv",
        "local code 严重",
        "'purple' is not a code of 'response_level'",
    ),
    (
        "crosswalk_mapped_twice",
        _append_line("crosswalks/hotline_category.csv", "RX101,0101,垃圾清运"),
        "crosswalks/hotline_category.csv",
        "RX101",
        "mapped twice",
    ),
    (
        "crosswalk_unknown_department",
        _replace(
            "crosswalks.yaml",
            "department: PS\n    target: event_category",
            "department: XX\n    target: event_category",
        ),
        "crosswalks.yaml",
        "crosswalks police_category.department",
        "unknown department 'XX'",
    ),
    (
        "missing_code_table_file",
        _delete("code_tables/genders.csv"),
        "code_tables/genders.csv",
        "-",
        "file is missing",
    ),
    ("missing_elements_file", _delete("elements.yaml"), "elements.yaml", "-", "file is missing"),
    (
        "invalid_yaml",
        _overwrite("crosswalks.yaml", "crosswalks:\n  - id: [police_category\n"),
        "crosswalks.yaml",
        "line 3",
        "not valid YAML",
    ),
]


@pytest.mark.parametrize(("case", "breaker", "file", "entry", "reason"), BROKEN, ids=[b[0] for b in BROKEN])
def test_broken_dictionary_is_reported(
    tmp_path: Path, case: str, breaker: Callable[[Path], None], file: str, entry: str, reason: str
) -> None:
    root = tmp_path / "dictionary"
    shutil.copytree(DICTIONARY_DIR, root)
    breaker(root)

    d, problems = check_dictionary(root)

    assert d is None
    assert len(problems) == 1, [str(p) for p in problems]
    problem = problems[0]
    assert Path(problem.file) == Path(file)
    assert entry in problem.entry
    assert reason in problem.reason

    with pytest.raises(DictionaryError) as raised:
        load_dictionary(root)
    assert raised.value.file == problem.file
    assert raised.value.path == problem.entry
    assert raised.value.message == problem.reason


def test_all_problems_are_collected_in_one_pass(tmp_path: Path) -> None:
    root = tmp_path / "dictionary"
    shutil.copytree(DICTIONARY_DIR, root)
    _set_field("gender", "code_table", "sex")(root)
    _delete("code_tables/genders.csv")(root)
    _replace("crosswalks/police_severity.csv", "严重,red", "严重,purple")(root)

    _, problems = check_dictionary(root)

    assert {Path(p.file) for p in problems} == {
        Path("elements.yaml"),
        Path("code_tables/genders.csv"),
        Path("crosswalks/police_severity.csv"),
    }
    with pytest.raises(DictionaryError, match=r"and 2 more"):
        load_dictionary(root)

"""The synthetic data generator: reproducible, in each department's own format, with honest ground truth."""

from __future__ import annotations

import csv
import datetime as dt
import json
import random
import re
import unicodedata
from collections import Counter
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np
import openpyxl
import pyarrow.parquet as pq
import pytest
from stdnum.cn import ric

from datahub.contracts import Catalog, Dataset, DeliveryFormat
from datahub.dictionary import Dictionary, ElementType, load_dictionary
from datahub.synth import DATASETS, SynthConfig, generate, generate_hotline_file
from datahub.synth.datasets import dangling_order_id
from datahub.synth.defects import defect_count
from tests.conftest import SHARED_DATA

ROOT = Path(__file__).resolve().parents[2]
START = dt.date(2026, 10, 1)
CONFIG = SynthConfig(start=START, days=10, rows_per_day=200)
PHONE = re.compile(r"^1[3-9]\d{9}$")
ODCS_SCHEMA = SHARED_DATA / "odcs" / "schema" / "odcs-json-schema-v3.1.0.json"
TS_FORMATS = ("%Y/%m/%d %H:%M:%S", "%Y-%m-%d %H:%M:%S")


@pytest.fixture(scope="module")
def dictionary() -> Dictionary:
    return load_dictionary(ROOT / "dictionary")


@pytest.fixture(scope="module")
def catalog(dictionary: Dictionary) -> Catalog:
    return Catalog.load(ROOT / "contracts", dictionary)


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory, dictionary: Dictionary, catalog: Catalog) -> Path:
    path = tmp_path_factory.mktemp("synth") / "a"
    generate(CONFIG, dictionary, catalog, path)
    return path


@pytest.fixture(scope="module")
def truth(out: Path) -> list[dict[str, str]]:
    with (out / "ground_truth.csv").open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


# ----------------------------------------------------------------------------- reading back
def _flatten(obj: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in obj.items():
        if isinstance(v, dict):
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def read_physical(ds: Dataset, path: Path) -> tuple[list[str], list[list[Any]]]:
    """Header and rows exactly as delivered, read the way the contract says the file is written."""
    fmt = ds.delivery.format
    if fmt is DeliveryFormat.csv:
        raw = path.read_bytes()
        if ds.delivery.encoding == "utf-8-sig":
            assert raw.startswith(b"\xef\xbb\xbf")
        with path.open(encoding=ds.delivery.encoding, newline="") as fh:
            rows = list(csv.reader(fh))
        return rows[0], [[v if v != "" else None for v in r] for r in rows[1:]]
    if fmt is DeliveryFormat.jsonl:
        lines = path.read_text(encoding="utf-8").splitlines()
        flat = [_flatten(json.loads(line)) for line in lines]
        header = list(flat[0])
        assert all(list(f) == header for f in flat)
        return header, [[f[h] for h in header] for f in flat]
    if fmt is DeliveryFormat.excel:
        wb = openpyxl.load_workbook(path, read_only=True)
        assert wb.sheetnames == [ds.delivery.sheet]
        rows = [list(r) for r in wb[ds.delivery.sheet].iter_rows(values_only=True)]
        wb.close()
        width = len(rows[0])  # write-only sheets carry no dimension: trailing empty cells are absent
        return [str(h) for h in rows[0]], [r + [None] * (width - len(r)) for r in rows[1:]]
    table = pq.read_table(path)
    return table.column_names, [list(r.values()) for r in table.to_pylist()]


def read_rows(ds: Dataset, path: Path) -> list[dict[str, Any]]:
    """Rows keyed by unified column name."""
    header, rows = read_physical(ds, path)
    assert header == [c.physical_name for c in ds.columns]
    names = [c.name for c in ds.columns]
    return [dict(zip(names, r, strict=True)) for r in rows]


def _files(out: Path) -> list[dict[str, Any]]:
    return json.loads((out / "manifest.json").read_text(encoding="utf-8"))["files"]


def _hotline_ids(out: Path, catalog: Catalog) -> set[str]:
    """Every work order id in every hotline delivery of the run (defective rows included)."""
    ds = catalog.get("hotline_12345")
    return {
        r["work_order_id"]
        for f in _files(out)
        if f["dataset"] == "hotline_12345"
        for r in read_rows(ds, out / f["path"])
    }


# ----------------------------------------------------------------------------- value checks
def normalise(value: Any) -> Any:
    if isinstance(value, str):
        return unicodedata.normalize("NFKC", value).strip()
    return value


def parse_time(value: Any, date_only: bool = False) -> Any:
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.date):
        return value
    if not isinstance(value, str):
        raise ValueError(value)
    if date_only:
        return dt.date.fromisoformat(value)
    for f in TS_FORMATS:
        try:
            return dt.datetime.strptime(value, f)
        except ValueError:
            pass
    return dt.datetime.fromisoformat(value)


def problem(ds: Dataset, column: str, value: Any, dictionary: Dictionary) -> str | None:
    """Why ``value`` is not a valid value of ``column`` (None when it is)."""
    col = ds.column(column)
    el = col.element
    value = normalise(value)
    if isinstance(value, str) and el is not None and el.id == "mobile_phone":
        value = re.sub(r"[\s-]", "", value)
    if value is None or value == "":
        return "missing_required" if col.required else None
    if col.type in (ElementType.timestamp, ElementType.date):
        try:
            parse_time(value, col.type is ElementType.date)
        except ValueError:
            return "invalid_type"
        return None
    if col.type in (ElementType.integer, ElementType.decimal):
        try:
            number = float(value)
        except (TypeError, ValueError):
            return "invalid_type"
        if col.type is ElementType.integer and number != int(number):
            return "invalid_type"
        if el is not None and (
            (el.min is not None and number < el.min) or (el.max is not None and number > el.max)
        ):
            return "out_of_range"
        return None
    if col.type is ElementType.boolean:
        return None if value in ("是", "否", True, False) else "invalid_type"
    text = str(value)
    if el is not None:
        if el.pattern and not re.fullmatch(el.pattern, text):
            return "invalid_format"
        if el.validator == "cn_resident_id" and not ric.is_valid(text):
            return "invalid_format"
        if el.max_length and len(text) > el.max_length:
            return "too_long"
    if col.crosswalk:
        return None if text in dictionary.crosswalks[col.crosswalk].mapping else "unmapped_code"
    if col.code_table:
        return None if text in dictionary.code_tables[col.code_table].lookup() else "unknown_code"
    return None


# ----------------------------------------------------------------------------- tests
def test_contracts_validate_against_odcs_schema(catalog: Catalog) -> None:
    from datahub.contracts.yaml_io import load_yaml

    validator = jsonschema.Draft201909Validator(json.loads(ODCS_SCHEMA.read_text(encoding="utf-8")))
    for name in DATASETS:
        doc = load_yaml(catalog.get(name).path)
        assert not [e.message for e in validator.iter_errors(doc)], name


def test_files_land_where_and_as_declared(out: Path, catalog: Catalog) -> None:
    files = _files(out)
    by_ds = Counter(f["dataset"] for f in files)
    assert by_ds == {**{n: 2 for n in DATASETS[:5]}, "emergency_resources": 1, "population_grid": 1}
    names = sorted(Path(f["path"]).name for f in files if f["dataset"] == "hotline_12345")
    assert names == ["hotline_12345_20261001_20261007.csv", "hotline_12345_20261008_20261010.csv"]
    assert (out / "police_110_transfers" / "police_110_transfers_20261001_20261007.xlsx").is_file()
    for f in files:
        ds = catalog.get(f["dataset"])
        rows = read_rows(ds, out / f["path"])  # headers are exactly the contract's physical names
        assert len(rows) == f["rows"]


def test_volumes(out: Path) -> None:
    rows = Counter()
    for f in _files(out):
        rows[f["dataset"]] += f["rows"]
    assert rows["hotline_12345"] == 2000
    assert rows["gov_app_reports"] == 700
    assert rows["citymgmt_cases"] == 1000
    assert rows["police_110_transfers"] == 200  # at least 20 a day
    assert rows["iot_sensor_readings"] == 40 * 96 * 10
    assert 300 <= rows["population_grid"] <= 45 * 25


def test_hotline_is_gbk_with_slash_timestamps(out: Path) -> None:
    path = out / "hotline_12345" / "hotline_12345_20261001_20261007.csv"
    raw = path.read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    text = raw.decode("gbk")
    assert text.startswith("工单编号,受理时间,")
    assert re.search(r",2026/10/0\d \d\d:\d\d:\d\d,", text)


def test_reproducible(out: Path, tmp_path: Path, dictionary: Dictionary, catalog: Catalog) -> None:
    again = tmp_path / "b"
    generate(CONFIG, dictionary, catalog, again)
    paths = sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())
    assert paths == sorted(p.relative_to(again) for p in again.rglob("*") if p.is_file())
    for p in paths:
        assert (out / p).read_bytes() == (again / p).read_bytes(), p
    other = tmp_path / "c"
    generate(
        SynthConfig(start=START, days=10, rows_per_day=200, seed=7),
        dictionary,
        catalog,
        other,
        datasets=["hotline_12345", "police_110_transfers"],
    )
    for p in (
        "hotline_12345/hotline_12345_20261001_20261007.csv",
        "police_110_transfers/police_110_transfers_20261001_20261007.xlsx",
    ):
        assert (out / p).read_bytes() != (other / p).read_bytes()


def test_subset_gives_the_same_files(
    out: Path, tmp_path: Path, dictionary: Dictionary, catalog: Catalog
) -> None:
    seen = []
    result = generate(
        CONFIG,
        dictionary,
        catalog,
        tmp_path,
        datasets=["gov_app_reports"],
        progress=lambda name, done, total: seen.append((name, done, total)),
    )
    assert seen == [("gov_app_reports", 1, 2), ("gov_app_reports", 2, 2)]
    for f in result.files:
        rel = f.path.relative_to(tmp_path)
        assert f.path.read_bytes() == (out / rel).read_bytes()
    assert result.event_links.read_bytes() == (out / "event_links.csv").read_bytes()


def test_ground_truth_points_at_real_defects(
    out: Path, truth: list[dict[str, str]], catalog: Catalog, dictionary: Dictionary
) -> None:
    assert list(truth[0]) == ["dataset", "file", "row_number", "key", "defect", "column", "expected_reason"]
    cache: dict[str, list[dict[str, Any]]] = {}
    keys: dict[str, list[str]] = {}
    kinds: Counter[str] = Counter()
    seen_rows: set[tuple[str, str]] = set()
    for t in truth:
        ds = catalog.get(t["dataset"])
        kinds[t["defect"]] += 1
        if t["defect"] == "stale_delivery":
            assert t["row_number"] == ""
            assert t["expected_reason"] == "stale_delivery"
            continue
        if t["file"] not in cache:
            cache[t["file"]] = read_rows(ds, out / t["file"])
            keys[t["file"]] = ["|".join(_key(r[k]) for k in ds.key_columns) for r in cache[t["file"]]]
        rows = cache[t["file"]]
        i = int(t["row_number"]) - 1
        assert (t["file"], t["row_number"]) not in seen_rows, "one defect per row"
        seen_rows.add((t["file"], t["row_number"]))
        row = rows[i]
        key = "|".join(_key(row[k]) for k in ds.key_columns)
        assert key == t["key"], t
        defect, column = t["defect"], t["column"]
        if defect == "duplicate_key":
            assert key in keys[t["file"]][:i], t
            continue
        value = row[column]
        if defect == "stuck_sensor":
            assert value == 888.0 and problem(ds, column, value, dictionary) is None
            assert t["expected_reason"] == "stuck_value"
        elif defect == "messy_valid":
            assert t["expected_reason"] == ""
            assert problem(ds, column, value, dictionary) is None, t
            canonical = re.sub(r"[\s-]", "", normalise(value)) if "phone" in column else normalise(value)
            assert value != canonical or value in _aliases(dictionary), t
        elif defect == "malformed_phone":
            assert not PHONE.fullmatch(re.sub(r"[\s-]", "", normalise(value))), t
            assert t["expected_reason"] == "invalid_format"
        elif defect == "malformed_id":
            assert not ric.is_valid(value), t
            assert t["expected_reason"] == "invalid_format"
        elif defect == "dangling_reference":
            assert t["expected_reason"] == "missing_reference"
            assert column == "related_order_id" and value, t
            assert problem(ds, column, value, dictionary) is None, t  # conforms: only the reference is wrong
        else:
            expected = {
                "missing_required": "missing_required",
                "malformed_date": "invalid_type",
                "out_of_range": "out_of_range",
                "unmapped_code": "unmapped_code",
                "unknown_code": "unknown_code",
            }[defect]
            assert t["expected_reason"] == expected
            assert problem(ds, column, value, dictionary) == expected, (t, value)
    for kind in (
        "missing_required",
        "malformed_phone",
        "malformed_id",
        "malformed_date",
        "out_of_range",
        "unmapped_code",
        "unknown_code",
        "duplicate_key",
        "stuck_sensor",
        "stale_delivery",
        "dangling_reference",
        "messy_valid",
    ):
        assert kinds[kind] > 0, kind


def _aliases(dictionary: Dictionary) -> set[str]:
    return {
        a
        for t in ("district", "street")
        for c in dictionary.codes(t).values()
        for a in c.attributes.get("aliases", "").split("|")
        if a
    }


def _key(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return "" if value is None else str(value)


def test_clean_rows_are_valid(
    out: Path, truth: list[dict[str, str]], catalog: Catalog, dictionary: Dictionary
) -> None:
    marked = {(t["file"], int(t["row_number"])) for t in truth if t["row_number"]}
    rnd = random.Random(5)
    for f in _files(out):
        ds = catalog.get(f["dataset"])
        rows = read_rows(ds, out / f["path"])
        keys: set[str] = set()
        clean = [(i, r) for i, r in enumerate(rows, 1) if (f["path"], i) not in marked]
        for _, row in clean:
            key = "|".join(_key(row[k]) for k in ds.key_columns)
            assert key not in keys, (f["path"], key)
            keys.add(key)
        for i, row in rnd.sample(clean, min(300, len(clean))):
            for column in row:
                assert problem(ds, column, row[column], dictionary) is None, (
                    f["path"],
                    i,
                    column,
                    row[column],
                )
            assert not any(isinstance(v, str) and v != v.strip() for v in row.values())


def test_hotline_lifecycle_and_text(out: Path, catalog: Catalog, truth: list[dict[str, str]]) -> None:
    ds = catalog.get("hotline_12345")
    path = "hotline_12345/hotline_12345_20261001_20261007.csv"
    marked = {int(t["row_number"]) for t in truth if t["file"] == path}
    rows = [r for i, r in enumerate(read_rows(ds, out / path), 1) if i not in marked]
    stages = ("report_time", "dispatch_time", "handle_time", "feedback_time", "evaluate_time")
    open_orders = 0
    for r in rows:
        times = [parse_time(r[s]) if r[s] else None for s in stages]
        present = [t for t in times if t is not None]
        assert times[: len(present)] == present, "later stages only after earlier ones"
        assert present == sorted(present)
        open_orders += times[-1] is None
        assert (r["satisfaction"] is not None) == (times[-1] is not None)
    assert 0.15 < open_orders / len(rows) < 0.5
    sat = Counter(r["satisfaction"] for r in rows if r["satisfaction"])
    assert sat["5"] + sat["4"] > 0.7 * sum(sat.values())
    with_phone = sum(1 for r in rows if r["caller_phone"] in r["complaint_text"])
    assert with_phone > 0.5 * len(rows)
    assert any(r["caller_id_number"] and r["caller_id_number"] in r["complaint_text"] for r in rows)
    assert any("邻居" in r["complaint_text"] for r in rows)


def test_event_links(out: Path, catalog: Catalog) -> None:
    app_ds, hot_ds = catalog.get("gov_app_reports"), catalog.get("hotline_12345")
    app: dict[str, dict[str, Any]] = {}
    hot: dict[str, dict[str, Any]] = {}
    for f in _files(out):
        if f["dataset"] == "gov_app_reports":
            app.update({r["report_id"]: r for r in read_rows(app_ds, out / f["path"])})
        elif f["dataset"] == "hotline_12345":
            for r in read_rows(hot_ds, out / f["path"]):
                hot.setdefault(r["work_order_id"], r)
    with (out / "event_links.csv").open(encoding="utf-8", newline="") as fh:
        links = list(csv.DictReader(fh))
    share = len(links) / len(app)
    assert abs(share - 0.286) <= 0.03
    assert len({x["app_report_id"] for x in links}) == len(links)
    related = 0
    for x in links:
        a, h = app[x["app_report_id"]], hot[x["work_order_id"]]
        assert a["user_phone"] == h["caller_phone"] and a["user_name"] == h["caller_name"]
        assert a["district_code"] == h["district_code"] and a["street_code"] == h["street_code"]
        assert a["address"] == h["address"] and a["content"] != h["complaint_text"]
        submitted = dt.datetime.fromisoformat(a["submitted_at"]).replace(tzinfo=None)
        assert abs(submitted - parse_time(h["report_time"])) <= dt.timedelta(hours=2)
        related += a["related_order_id"] == x["work_order_id"]
    assert 0 < related < len(links)


def test_dangling_references(out: Path, catalog: Catalog, truth: list[dict[str, str]]) -> None:
    ds = catalog.get("gov_app_reports")
    hot = _hotline_ids(out, catalog)
    with (out / "event_links.csv").open(encoding="utf-8", newline="") as fh:
        linked = {x["app_report_id"] for x in csv.DictReader(fh)}
    dangling: set[tuple[str, int, str]] = set()
    clean_related = 0
    for f in _files(out):
        if f["dataset"] != "gov_app_reports":
            continue
        found = set()
        for i, r in enumerate(read_rows(ds, out / f["path"]), 1):
            ref = r["related_order_id"]
            if not ref:
                continue
            assert re.fullmatch(r"GD\d{14}", ref), ref
            if ref in hot:
                clean_related += 1
            else:
                found.add((f["path"], i, r["report_id"]))
                assert r["report_id"] not in linked, "a dangling report is not a linked event"
                assert ref[2:10] == r["report_id"][3:11], "names a work order of its own day"
        assert len(found) == defect_count(f["rows"], CONFIG.defect_rate), f["path"]
        dangling |= found
    assert clean_related > 0
    # Ground truth lists exactly the reports whose work order does not exist, and nothing else there.
    listed = {
        (t["file"], int(t["row_number"]), t["key"])
        for t in truth
        if t["defect"] == "dangling_reference"
        and t["column"] == "related_order_id"
        and t["expected_reason"] == "missing_reference"
    }
    assert listed == dangling
    assert all(t["dataset"] == "gov_app_reports" for t in truth if t["defect"] == "dangling_reference")
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["counts"]["gov_app_reports"]["defects"]["dangling_reference"] == len(dangling)
    assert "dangling_reference" not in manifest["counts"]["hotline_12345"]["defects"]


def test_dangling_order_ids_are_never_issued() -> None:
    rng = np.random.default_rng(1)
    day = dt.date(2026, 10, 1)
    for per_day in (1, 200, 2000, 999_998):
        for _ in range(50):
            value = dangling_order_id(day, per_day, rng)
            assert re.fullmatch(r"GD20261001\d{6}", value)
            assert per_day < int(value[-6:]) <= 999_999
    assert dangling_order_id(day, 999_999, rng) == "GD20261001000000"  # sequences start at 1


def test_population_is_half_a_year_old(out: Path, catalog: Catalog, truth: list[dict[str, str]]) -> None:
    ds = catalog.get("population_grid")
    (f,) = [f for f in _files(out) if f["dataset"] == "population_grid"]
    marked = {int(t["row_number"]) for t in truth if t["file"] == f["path"] and t["row_number"]}
    rows = [r for i, r in enumerate(read_rows(ds, out / f["path"]), 1) if i not in marked]
    end = CONFIG.end
    ages = [(end - parse_time(r["update_time"]).date()).days for r in rows]
    stat = {(end - parse_time(r["stat_date"], date_only=True)).days for r in rows}
    assert ages and all(175 <= a <= 190 for a in ages) and all(175 <= a <= 190 for a in stat)
    (stale,) = [t for t in truth if t["defect"] == "stale_delivery"]
    assert stale["file"] == f["path"] and stale["dataset"] == "population_grid"
    grids_per_street = Counter(r["street_code"] for r in rows)
    assert sorted(grids_per_street.values())[len(grids_per_street) // 2] in range(15, 26)


def test_stuck_sensor(out: Path, catalog: Catalog, truth: list[dict[str, str]]) -> None:
    ds = catalog.get("iot_sensor_readings")
    marked = {
        (t["file"], int(t["row_number"])) for t in truth if t["row_number"] and t["defect"] != "stuck_sensor"
    }
    rows = []
    for f in _files(out):
        if f["dataset"] == "iot_sensor_readings":
            read = read_rows(ds, out / f["path"])
            rows += [r for i, r in enumerate(read, 1) if (f["path"], i) not in marked]
    stuck = [t for t in truth if t["defect"] == "stuck_sensor"]
    assert len(stuck) == 7 * 96
    sensor = {t["key"].split("|")[0] for t in stuck}
    assert len(sensor) == 1
    (sid,) = sensor
    values = {}
    for r in rows:
        if r["sensor_id"] == sid:
            values[r["reading_time"]] = r["value"]
    constant_days = {t.date() for t, v in values.items() if v == 888.0}
    assert len(constant_days) == 7
    days = sorted(constant_days)
    assert (days[-1] - days[0]).days == 6
    assert all(values[t] == 888.0 for t in values if t.date() in constant_days)
    assert len({v for t, v in values.items() if t.date() not in constant_days}) > 50
    assert {r["sensor_type"] for r in rows if r["sensor_id"] == sid} == {"pm25"}


def test_generate_hotline_file(tmp_path: Path, dictionary: Dictionary, catalog: Catalog) -> None:
    path = generate_hotline_file(tmp_path / "h.csv", 1234, START, dictionary, catalog, seed=3)
    rows = read_rows(catalog.get("hotline_12345"), path)
    assert len(rows) == 1234
    assert (
        generate_hotline_file(tmp_path / "h2.csv", 1234, START, dictionary, catalog, seed=3).read_bytes()
        == path.read_bytes()
    )


def test_defect_drift_moves_a_datasets_rate_from_month_to_month(
    tmp_path: Path, dictionary: Dictionary, catalog: Catalog
) -> None:
    """With drift, a dataset's defects per row follow its rate of the month (seed 3 draws 1.51 × the
    configured rate for September and 0.44 × for October), and the ground truth lists every one."""
    config = SynthConfig(
        start=dt.date(2026, 9, 24), days=14, rows_per_day=300, seed=3, defect_rate=0.02, defect_drift=0.6
    )
    result = generate(config, dictionary, catalog, tmp_path)
    with result.ground_truth.open(encoding="utf-8", newline="") as fh:
        defects = Counter(
            row["file"]
            for row in csv.DictReader(fh)
            if row["expected_reason"] and row["defect"] != "dangling_reference"
        )
    per_row: dict[int, float] = {}
    for f in result.files:
        if f.dataset == "hotline_12345":
            found = sum(n for name, n in defects.items() if name.endswith(f.path.name))
            per_row[f.period_start.month] = found / f.rows
    # Every kind is injected into the month's rate of the rows: the ratio of the two months is the
    # ratio of their rates (1.51 / 0.44), not 1 as without drift.
    assert 2.8 < per_row[9] / per_row[10] < 4.2, per_row
    with pytest.raises(ValueError, match="defect_drift"):
        SynthConfig(start=dt.date(2026, 9, 1), defect_drift=1.0)

"""k-anonymity: k_of, each generaliser's ladder, and the greedy generalise-then-suppress enforcement."""

from __future__ import annotations

import datetime as dt
import random

import polars as pl
import pytest

from datahub.privacy.kanonymity import (
    Generaliser,
    KAnonymityResult,
    address_generaliser,
    age_generaliser,
    code_generaliser,
    date_generaliser,
    enforce_k_anonymity,
    k_of,
    suppress_generaliser,
)

# ---------------------------------------------------------------------------------------------- k_of


def test_k_of_is_the_smallest_class() -> None:
    frame = pl.DataFrame({"a": ["x", "x", "x", "y", "y"], "b": [1, 1, 1, 2, 2], "c": [1, 2, 3, 4, 5]})
    assert k_of(frame, ["a"]) == 2
    assert k_of(frame, ["a", "b"]) == 2
    assert k_of(frame, ["c"]) == 1
    assert k_of(frame, "a") == 2  # one column by name


def test_k_of_counts_nulls_as_equal() -> None:
    frame = pl.DataFrame({"a": [None, None, "x", "x"], "b": [None, None, None, None]})
    assert k_of(frame, ["a", "b"]) == 2
    assert k_of(frame, ["b"]) == 4


def test_k_of_without_rows_or_columns() -> None:
    frame = pl.DataFrame({"a": [1, 2, 3]})
    assert k_of(frame.clear(), ["a"]) == 0
    assert k_of(frame, []) == 3  # no quasi-identifier: the frame is one class


def test_k_of_unknown_column() -> None:
    with pytest.raises(ValueError, match="not in the frame: nope"):
        k_of(pl.DataFrame({"a": [1]}), ["a", "nope"])


# --------------------------------------------------------------------------------------- generalisers


@pytest.mark.parametrize(
    ("address", "street", "district"),
    [
        ("朝阳区建国路88号3号楼2单元502室", "朝阳区建国路", "朝阳区"),
        ("北京市朝阳区建国路88号", "北京市朝阳区建国路", "北京市朝阳区"),
        ("北京市 朝阳区 建国路 88号", "北京市朝阳区建国路", "北京市朝阳区"),  # whitespace dropped
        ("上海市浦东新区世纪大道100号", "上海市浦东新区世纪大道", "上海市浦东新区"),  # 大道 before 道
        ("浙江省义乌市稠城街道县前街3号", "浙江省义乌市稠城街道", "浙江省义乌市"),  # 街道 kept whole
        ("东城区南锣鼓巷8号", "东城区南锣鼓巷", "东城区"),
        ("西城区百花胡同5号", "西城区百花胡同", "西城区"),
        ("徐汇区永嘉路370弄2号", "徐汇区永嘉路", "徐汇区"),
        ("昌平区小汤山镇大东流村3号", "昌平区小汤山镇", "昌平区"),
        ("长沙县黄花乡8号", "长沙县黄花乡", "长沙县"),
        ("江苏省镇江市京口区正东路5号", "江苏省镇江市京口区正东路", "江苏省镇江市京口区"),  # 镇江 no 镇
        ("河北省唐山市路南区新华西路1号", "河北省唐山市路南区新华西路", "河北省唐山市路南区"),  # 路南 no 路
        (
            "云南省大理白族自治州大理市下关镇1号",
            "云南省大理白族自治州大理市下关镇",
            "云南省大理白族自治州大理市",
        ),
        ("朝阳区望京花园小区5号楼", "朝阳区", "朝阳区"),  # no street unit: the district
        ("建国路88号", "建国路", None),  # no district
        ("88号", None, None),
        (None, None, None),
    ],
)
def test_address_generaliser(address: str | None, street: str | None, district: str | None) -> None:
    gen = address_generaliser()
    values = pl.Series("address", [address], dtype=pl.String)
    assert gen.levels == 3
    assert gen.apply(values, 0).to_list() == [address]
    assert gen.apply(values, 1).to_list() == [street]
    assert gen.apply(values, 2).to_list() == [district]
    assert gen.apply(values, 3).to_list() == ["*"]


def test_date_generaliser_on_dates() -> None:
    gen = date_generaliser()
    values = pl.Series("birth", [dt.date(1990, 5, 12), None, dt.date(2001, 1, 1)])
    assert gen.levels == 4
    assert gen.apply(values, 0).dtype == pl.Date
    assert gen.apply(values, 1).to_list() == ["1990-05", None, "2001-01"]
    assert gen.apply(values, 2).to_list() == ["1990", None, "2001"]
    assert gen.apply(values, 3).to_list() == ["1990s", None, "2000s"]
    assert gen.apply(values, 4).to_list() == ["*", "*", "*"]


def test_date_generaliser_on_datetimes_and_strings() -> None:
    gen = date_generaliser()
    stamps = pl.Series([dt.datetime(1989, 12, 31, 23, 59)])
    assert [gen.apply(stamps, level).item() for level in (1, 2, 3)] == ["1989-12", "1989", "1980s"]
    strings = pl.Series(["1990-05-12", " 1985-12-31T08:00:00 ", "1990-13-01", "not a date", None])
    assert gen.apply(strings, 1).to_list() == ["1990-05", "1985-12", None, None, None]
    assert gen.apply(strings, 2).to_list() == ["1990", "1985", None, None, None]
    assert gen.apply(strings, 3).to_list() == ["1990s", "1980s", None, None, None]
    assert gen.apply(strings, 4).to_list() == ["*"] * 5


def test_age_generaliser() -> None:
    gen = age_generaliser()
    ages = pl.Series("age", [0, 17, 18, 34, 35, 59, 60, 99, None, -3])
    assert gen.levels == 4
    assert gen.apply(ages, 0).to_list() == ages.to_list()
    assert gen.apply(ages, 1).to_list() == [
        "0-4", "15-19", "15-19", "30-34", "35-39", "55-59", "60-64", "95-99", None, None,
    ]  # fmt: skip
    assert gen.apply(ages, 2).to_list() == [
        "0-9", "10-19", "10-19", "30-39", "30-39", "50-59", "60-69", "90-99", None, None,
    ]  # fmt: skip
    assert gen.apply(ages, 3).to_list() == [
        "0-17", "0-17", "18-59", "18-59", "18-59", "18-59", "60+", "60+", None, None,
    ]  # fmt: skip
    assert gen.apply(ages, 4).to_list() == ["*"] * 10
    assert gen.apply(pl.Series([" 31 ", "45.9", "old"]), 1).to_list() == ["30-34", "45-49", None]


def test_code_generaliser() -> None:
    gen = code_generaliser({"110105001": "110105", "110105002": "110105", "110108001": "110108"})
    codes = pl.Series("street_code", [110105001, 110105002, 110108001, 110105, 999, None])
    assert gen.levels == 2
    assert gen.apply(codes, 1).to_list() == ["110105", "110105", "110108", "110105", None, None]
    assert gen.apply(codes, 2).to_list() == ["*"] * 6
    plain = code_generaliser()
    assert plain.levels == 1
    assert plain.apply(pl.Series(["M", "F", None]), 1).to_list() == ["*", "*", "*"]


def test_suppress_generaliser() -> None:
    gen = suppress_generaliser()
    assert gen.levels == 1
    assert gen.apply(pl.Series([1, 2, None]), 0).to_list() == [1, 2, None]
    assert gen.apply(pl.Series([1, 2, None]), 1).to_list() == ["*", "*", "*"]


@pytest.mark.parametrize("level", [-1, 4, 1.5])
def test_generaliser_rejects_levels_off_the_ladder(level: object) -> None:
    with pytest.raises(ValueError, match="level must be an integer from 0 to 3"):
        address_generaliser().apply(pl.Series(["朝阳区"]), level)  # type: ignore[arg-type]


def test_builtin_generalisers_keep_the_name_and_satisfy_the_protocol() -> None:
    values = pl.Series("col", ["1990-01-01"])
    for gen in (address_generaliser(), date_generaliser(), age_generaliser(), code_generaliser()):
        assert isinstance(gen, Generaliser)
        assert all(gen.apply(values, level).name == "col" for level in range(gen.levels + 1))


# -------------------------------------------------------------------------------------- enforcement

ADDRESS_AGE = {"address": address_generaliser(), "age": age_generaliser()}


def test_k_anonymous_frame_is_returned_unchanged() -> None:
    frame = pl.DataFrame(
        {
            "id": [1, 2, 3, 4],
            "address": ["朝阳区建国路1号", "海淀区学院路2号", "朝阳区建国路1号", "海淀区学院路2号"],
            "age": [30, 41, 30, 41],
        }
    )
    result = enforce_k_anonymity(frame, ADDRESS_AGE, k=2)
    assert result.frame.equals(frame)
    assert result == KAnonymityResult(result.frame, 2, 2, 2, 0, {"address": 0, "age": 0})


def test_generalisation_reaches_k_with_the_expected_levels() -> None:
    # Hand-checked: all six rows are unique. Raising either column alone leaves them unique (tie
    # broken for the address, declared first with as many distinct values); from there raising the
    # age to 5-year bands pairs every row, while the district alone would not.
    frame = pl.DataFrame(
        {
            "id": [1, 2, 3, 4, 5, 6],
            "address": [
                "朝阳区建国路1号",
                "朝阳区建国路2号",
                "朝阳区建国路3号",
                "朝阳区建国路4号",
                "海淀区学院路1号",
                "海淀区学院路2号",
            ],
            "age": [31, 33, 36, 38, 41, 44],
            "note": ["a", "b", "c", "d", "e", "f"],
        }
    )
    result = enforce_k_anonymity(frame, ADDRESS_AGE, k=2, max_suppression=0)
    assert result.levels == {"address": 1, "age": 1}
    assert result.k_before == 1
    assert result.k_reached == 2
    assert result.rows_suppressed == 0
    expected = frame.with_columns(
        address=pl.Series(["朝阳区建国路"] * 4 + ["海淀区学院路"] * 2),
        age=pl.Series(["30-34", "30-34", "35-39", "35-39", "40-44", "40-44"]),
    )
    assert result.frame.equals(expected)
    assert result.frame.columns == frame.columns


def _tie_frame(pair: bool) -> pl.DataFrame:
    # Raising the age to 5-year bands pairs rows 3 and 4; raising the address to the street pairs
    # rows 1 and 2: either step leaves 2 rare rows, which the budget then allows to suppress.
    rows = [
        (1, "朝阳区建国路1号", 31),
        (2, "朝阳区建国路2号", 31),
        (3, "朝阳区学院路1号", 36),
        (4, "朝阳区学院路1号", 37),
    ]
    if pair:  # a class of two at every level, adding a fourth distinct address but no new age
        rows += [(5, "朝阳区复兴路5号", 31), (6, "朝阳区复兴路5号", 31)]
    return pl.DataFrame(rows, schema=["id", "address", "age"], orient="row")


def test_ties_go_to_the_column_with_the_most_distinct_values() -> None:
    frame = _tie_frame(pair=True)  # 4 distinct addresses, 3 distinct ages
    quasi = {"age": age_generaliser(), "address": address_generaliser()}
    result = enforce_k_anonymity(frame, quasi, k=2, max_suppression=0.34)
    assert result.levels == {"age": 0, "address": 1}  # the address, although the age is declared first
    assert result.frame.get_column("id").to_list() == [1, 2, 5, 6]
    assert result.rows_suppressed == 2
    assert result.k_reached == 2


@pytest.mark.parametrize(("first", "levels", "kept"), [("age", (1, 0), [3, 4]), ("address", (0, 1), [1, 2])])
def test_ties_of_distinct_values_go_to_the_column_declared_first(
    first: str, levels: tuple[int, int], kept: list[int]
) -> None:
    frame = _tie_frame(pair=False)  # 3 distinct addresses, 3 distinct ages
    order = [first, "address" if first == "age" else "age"]
    quasi = {name: ADDRESS_AGE[name] for name in order}
    result = enforce_k_anonymity(frame, quasi, k=2, max_suppression=0.5)
    assert (result.levels["age"], result.levels["address"]) == levels
    assert result.frame.get_column("id").to_list() == kept


def test_rare_rows_within_the_budget_are_suppressed_without_generalising() -> None:
    frame = pl.DataFrame(
        {
            "id": list(range(20)),
            "address": ["朝阳区建国路1号"] * 10 + ["海淀区学院路2号"] + ["朝阳区建国路1号"] * 9,
            "age": [30] * 10 + [77] + [30] * 9,
        }
    )
    result = enforce_k_anonymity(frame, ADDRESS_AGE, k=5, max_suppression=0.05)  # 1 row of 20 allowed
    assert result.levels == {"address": 0, "age": 0}
    assert result.rows_suppressed == 1
    assert len(result.frame) + result.rows_suppressed == len(frame)
    assert result.frame.equals(frame.filter(pl.col("id") != 10))
    assert result.k_reached == 19


def test_suppression_count_is_the_rows_removed() -> None:
    # Budget 0: generalise until nothing is rare; an identity ladder never merges the odd row out.
    class Identity:
        name = "identity"
        levels = 2

        def apply(self, values: pl.Series, level: int) -> pl.Series:
            return values

    frame = pl.DataFrame({"id": [1, 2, 3, 4, 5], "code": ["a", "a", "b", "a", "c"]})
    result = enforce_k_anonymity(frame, {"code": Identity()}, k=2, max_suppression=0)
    assert result.levels == {"code": 2}  # every level tried
    assert result.rows_suppressed == 2
    assert result.frame.get_column("id").to_list() == [1, 2, 4]
    assert len(result.frame) + result.rows_suppressed == len(frame)
    assert result.k_reached == 3


def test_k_larger_than_the_frame_suppresses_everything() -> None:
    frame = pl.DataFrame({"address": ["朝阳区建国路1号"] * 3, "age": [30, 30, 30]})
    result = enforce_k_anonymity(frame, ADDRESS_AGE, k=5)
    assert result.frame.height == 0
    assert result.frame.schema == frame.schema
    assert result.rows_suppressed == 3
    assert (result.k_required, result.k_before, result.k_reached) == (5, 3, 0)


def test_empty_frame() -> None:
    frame = pl.DataFrame({"address": [], "age": []}, schema={"address": pl.String, "age": pl.Int64})
    result = enforce_k_anonymity(frame, ADDRESS_AGE, k=2)
    assert (result.frame.height, result.rows_suppressed, result.k_before, result.k_reached) == (0, 0, 0, 0)


def test_nulls_form_one_class() -> None:
    frame = pl.DataFrame({"address": [None, None, "朝阳区建国路1号", "朝阳区建国路1号"], "age": [None] * 4})
    result = enforce_k_anonymity(frame, ADDRESS_AGE, k=2)
    assert result.frame.equals(frame)
    assert result.k_reached == 2


@pytest.mark.parametrize("k", [0, -1])
def test_invalid_k(k: int) -> None:
    with pytest.raises(ValueError, match="k must be at least 1"):
        enforce_k_anonymity(pl.DataFrame({"age": [30]}), {"age": age_generaliser()}, k=k)


def test_invalid_arguments() -> None:
    frame = pl.DataFrame({"age": [30]})
    with pytest.raises(ValueError, match="max_suppression is a share of the rows"):
        enforce_k_anonymity(frame, {"age": age_generaliser()}, k=1, max_suppression=1.5)
    with pytest.raises(ValueError, match="not in the frame: address"):
        enforce_k_anonymity(frame, ADDRESS_AGE, k=1)


def _random_frame(rng: random.Random, rows: int) -> pl.DataFrame:
    districts = ["朝阳区", "海淀区", "东城区", "北京市西城区"]
    streets = ["建国路", "学院路", "南锣鼓巷", "稠城街道", "百花胡同"]
    addresses = [
        f"{rng.choice(districts)}{rng.choice(streets)}{rng.randint(1, 30)}号" if rng.random() > 0.05 else None
        for _ in range(rows)
    ]
    births = [dt.date(1940, 1, 1) + dt.timedelta(days=rng.randint(0, 30_000)) for _ in range(rows)]
    ages = [rng.randint(0, 99) if rng.random() > 0.05 else None for _ in range(rows)]
    genders = [rng.choice(["M", "F"]) for _ in range(rows)]
    return pl.DataFrame(
        {"id": list(range(rows)), "address": addresses, "birth": births, "age": ages, "gender": genders},
        schema_overrides={"address": pl.String, "age": pl.Int64},
    )


def test_enforcement_always_reaches_k_on_random_frames() -> None:
    rng = random.Random(20240611)
    generalisers: dict[str, Generaliser] = {
        "address": address_generaliser(),
        "birth": date_generaliser(),
        "age": age_generaliser(),
        "gender": code_generaliser(),
    }
    for _ in range(25):
        frame = _random_frame(rng, rng.randint(1, 400))
        names = rng.sample(sorted(generalisers), rng.randint(1, 4))
        quasi = {name: generalisers[name] for name in names}
        k = rng.randint(1, 12)
        share = rng.choice([0.0, 0.01, 0.05, 0.2])
        result = enforce_k_anonymity(frame, quasi, k, max_suppression=share)

        assert len(result.frame) + result.rows_suppressed == len(frame)
        assert result.k_reached == k_of(result.frame, names)
        assert result.k_before == k_of(frame, names)
        if len(result.frame):
            assert result.k_reached >= k
        else:
            assert result.k_reached == 0
        exhausted = all(result.levels[name] == quasi[name].levels for name in names)
        if not exhausted and len(frame) >= k:
            assert result.rows_suppressed <= share * len(frame)
        # Kept rows keep their order and other columns; QI columns are the generalised originals.
        kept = frame.filter(pl.col("id").is_in(result.frame.get_column("id").to_list()))
        assert result.frame.get_column("id").to_list() == kept.get_column("id").to_list()
        for name in frame.columns:
            expected = kept.get_column(name)
            if name in quasi:
                expected = quasi[name].apply(expected, result.levels[name])
            assert result.frame.get_column(name).to_list() == expected.to_list(), name

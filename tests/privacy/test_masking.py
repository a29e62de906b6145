"""Masking: each mask's shape, the column path against the value path, the scanner against Presidio."""

from __future__ import annotations

import random

import polars as pl
import pytest
from faker import Faker
from presidio_anonymizer.entities import InvalidParamError

from datahub.privacy import scanner
from datahub.privacy.analyzer import build_analyzer
from datahub.privacy.masking import (
    ENTITY_MASK_KIND,
    MASK_KINDS,
    CnMaskOperator,
    mask_column,
    mask_value,
    presidio_mask_text,
    resolve,
    scan_text_column,
)
from datahub.privacy.recognizers import SecondLookPersonRecognizer
from datahub.privacy.scanner import Finding


@pytest.mark.parametrize(
    ("kind", "value", "masked"),
    [
        ("mobile_phone", "13812345678", "*******5678"),
        ("mobile_phone", "+86 138-1234-5678", "+** ***-****-5678"),  # separators stay, so does the shape
        ("mobile_phone", "１３８１２３４５６７８", "*******5678"),  # full width normalised first
        ("mobile_phone", "6222021234567890123", "***************0123"),  # a bank card: same rule
        ("mobile_phone", "110", "***"),  # fewer than four digits: all masked
        ("resident_id", "11010519491231002X", "110105********002X"),
        ("resident_id", "11010519491231002x", "110105********002X"),  # lowercase x made uppercase
        ("resident_id", " 110105491231002 ", "110105*****1002"),  # 15 digits, stripped
        ("resident_id", "1101051949", "**********"),  # too short to show 10 characters: all masked
        ("person_name", "张三", "张*"),
        ("person_name", "王小明", "王**"),
        ("person_name", "欧阳娜娜", "欧阳**"),  # compound surname
        ("person_name", "诸葛亮", "诸葛*"),
        ("person_name", "欧阳", "**"),  # a compound surname alone (欧阳女士): masked whole
        ("person_name", "张", "*"),  # one character: nothing may be shown
        ("address", "北京市朝阳区建国路88号院3号楼", "北京市朝阳区建国路*******"),
        (
            "address",
            "上海市浦东新区花木街道锦绣路1001弄",
            "上海市浦东新区花木街道********",
        ),  # 街道 kept whole
        ("address", "江苏省昆山市周市镇青阳北路1号", "江苏省昆山市周市镇******"),  # the first unit wins
        ("address", "北京市朝阳区某某小区5号楼", "北京市朝阳区*******"),  # no street unit: its areas kept
        ("address", "幸福里5号", "*****"),  # no street unit, no area: nothing kept
        ("address", "余家头小区3栋", "*******"),  # 小区 ends no area
        ("address", "湖南省邵阳县李家村3组", "湖南省邵阳县*****"),
        ("address", "朝阳区", "朝阳*"),  # at most all but the last character
        ("email", "zhangwei@163.com", "z*******@163.com"),
        ("email", "a@qq.com", "*@qq.com"),  # one character: nothing of the local part shown
        ("email", "ｗａｎｇ＠ｇｍａｉｌ．ｃｏｍ", "w***@gmail.com"),  # full width normalised first
        ("email", "no-at-sign", "n********n"),  # not an address: the generic rule
        ("ip", "192.168.1.20", "192.168.*.*"),
        ("ip", "2001:db8:85a3::8a2e:370:7334", "2001:db8:*::*:*:*"),
        ("ip", "localhost", "l*******t"),
        ("plate", "京A12345", "京A*****"),
        ("plate", "沪B·3C5D7", "沪B·*****"),
        ("plate", "粤BD12345", "粤B******"),
        ("generic", "abcdef", "a****f"),
        ("generic", "ab", "**"),
        ("generic", "", ""),
    ],
)
def test_mask_value_shapes(kind: str, value: str, masked: str) -> None:
    assert mask_value(kind, value) == masked


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown mask kind"):
        mask_value("nonsense", "a@b.c")
    with pytest.raises(ValueError, match="unknown mask kind"):
        mask_column(pl.Series(["a"]), "nonsense")


VALUES = [
    "zhangwei@163.com",
    "a@qq.com",
    "x@y@z",
    "192.168.1.20",
    "::1",
    "京A12345",
    "粤B·D1234",
    "13812345678",
    "+86 138-1234-5678",
    "１３８　１２３４　５６７８",
    "11010519491231002x",
    "４４０５２４１８８００１０１００１４",
    "110105491231002",
    "张三",
    "欧阳娜娜",
    "欧阳",
    "张",
    "司马相如",
    " 王小明\t",
    "北京市朝阳区建国路88号",
    "上海市浦东新区花木街道锦绣路1001弄",
    "北京市朝阳区某某小区",
    "幸福里5号",
    "镇江市润州区",
    "地址\n第二行路3号",
    "abc",
    "ab",
    "a",
    "",
    "1",
    "12",
    "x",
    "😀电话１２３",
    None,
]


@pytest.mark.parametrize("kind", MASK_KINDS)
@pytest.mark.parametrize("repeat", [1, 3], ids=["distinct values", "repeated values"])
def test_mask_column_equals_mask_value(kind: str, repeat: int) -> None:
    series = pl.Series("column", VALUES * repeat, dtype=pl.String)
    expected = [None if v is None else mask_value(kind, v) for v in series.to_list()]
    masked = mask_column(series, kind)
    assert masked.name == "column"
    assert masked.to_list() == expected


def test_mask_column_masks_numbers_as_text() -> None:
    assert mask_column(pl.Series([13812345678, None]), "mobile_phone").to_list() == ["*******5678", None]


def _texts(count: int) -> list[str]:
    """Complaint texts with identifiers in every shape, among numbers that must stay as they are."""
    fake = Faker("zh_CN")
    fake.seed_instance(20261001)
    rng = random.Random(20261001)
    full_width = str.maketrans("0123456789-Xx", "０１２３４５６７８９－Ｘｘ")

    def phone() -> str:
        number: str = fake.phone_number()
        shape = rng.randrange(6)
        if shape == 0:
            return f"{number[:3]} {number[3:7]} {number[7:]}"
        if shape == 1:
            return f"+86-{number[:3]}-{number[3:7]}-{number[7:]}"
        if shape == 2:
            return number.translate(full_width)
        if shape == 3:
            return f"+86{number}"
        return number

    def resident_id() -> str:
        number: str = fake.ssn()
        return (
            number.lower()
            if rng.random() < 0.2
            else number.translate(full_width)
            if rng.random() < 0.2
            else number
        )

    def noise() -> str:
        return rng.choice(
            [
                f"工单GD{fake.date_between('-1y', 'today'):%Y%m%d}{rng.randrange(10**6):06d}",
                "热线12345",
                "报警110",
                f"于{fake.date_between('-1y', 'today'):%Y-%m-%d}",
                f"罚款{rng.randrange(10**5)}.{rng.randrange(100):02d}元",
                f"备用号154{rng.randrange(10**8):08d}",  # off the number plan
                f"流水号9{fake.phone_number()}",  # a phone inside a longer number: not a phone
                f"旧证{fake.ssn()[:-1]}Y",  # no valid check character
            ]
        )

    texts = []
    for _ in range(count):
        parts = [f"{fake.name()}反映{fake.street_name()}{rng.choice(['噪音扰民', '路灯损坏', '占道经营'])}"]
        parts += [rng.choice([phone, resident_id, noise])() for _ in range(rng.randrange(4))]
        if rng.random() < 0.1:
            parts.append(f"{phone()} {phone()}")  # two numbers separated by a space
        rng.shuffle(parts)
        texts.append(rng.choice(["，", "；", "", " ", "\n"]).join(parts))
    return texts


@pytest.mark.parametrize("rows_per_slice", [50_000, 7], ids=["one slice", "parallel slices"])
def test_scan_text_column_agrees_with_presidio(rows_per_slice: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scanner, "_ROWS_PER_SLICE", rows_per_slice)
    texts = _texts(400)
    masked, counts = scan_text_column(pl.Series("remark", texts))
    assert masked.name == "remark"
    assert masked.to_list() == [presidio_mask_text(text) for text in texts]
    analyzer, second_look = build_analyzer(), SecondLookPersonRecognizer()
    found = [
        f.type
        for text in texts
        for f in resolve(
            Finding(r.entity_type, r.start, r.end, r.score)
            for r in analyzer.analyze(text, "zh") + second_look.analyze(text, [second_look.ENTITY])
        )
    ]
    assert counts == {entity: found.count(entity) for entity in ENTITY_MASK_KIND}
    assert counts["CN_MOBILE"] > 100 and counts["CN_RESIDENT_ID"] > 50


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("联系电话13812345678，谢谢", "联系电话*******5678，谢谢"),
        ("电话+86 138 1234 5678", "电话+** *** **** 5678"),
        ("身份证11010519491231002x", "身份证110105********002X"),
        ("13812345678 13912345678", "*******5678 *******5678"),  # two numbers stay two masks
        (
            "工单GD20261001000123，热线12345，报警110，于20261001",
            "工单GD20261001000123，热线12345，报警110，于20261001",
        ),
        ("流水号213812345678与13812345678", "流水号213812345678与*******5678"),  # the same digits inside
    ],
)
def test_scan_text_column_examples(text: str, masked: str) -> None:
    assert scan_text_column(pl.Series([text]))[0].to_list() == [masked]
    assert presidio_mask_text(text) == masked


def test_scan_text_column_counts_every_occurrence() -> None:
    texts = ["电话13812345678", "电话13812345678", "13812345678和11010519491231002X", "无"]
    counts = scan_text_column(pl.Series(texts))[1]
    assert {k: v for k, v in counts.items() if v} == {"CN_MOBILE": 3, "CN_RESIDENT_ID": 1}


def test_scan_text_column_passes_through_none_empty_and_clean_text() -> None:
    texts = [None, "", "无号码", "多行\n文本 😀 ＡＢＣ １２３", "  ", "12345"]
    masked, counts = scan_text_column(pl.Series("t", texts))
    assert masked.to_list() == texts
    assert counts == dict.fromkeys(ENTITY_MASK_KIND, 0)
    assert scan_text_column(pl.Series("t", [None, "电话13812345678"]))[0].to_list() == [
        None,
        "电话*******5678",
    ]
    assert scan_text_column(pl.Series("t", [], dtype=pl.String))[0].to_list() == []


def test_mask_operator_validates_its_kind() -> None:
    CnMaskOperator().validate({"kind": "mobile_phone"})
    with pytest.raises(InvalidParamError):
        CnMaskOperator().validate({"kind": "nonsense"})
    with pytest.raises(InvalidParamError):
        CnMaskOperator().validate(None)

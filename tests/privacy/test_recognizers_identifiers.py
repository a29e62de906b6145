"""The identifier recognizers: USCC, landline, bank card, e-mail, IP address and number plate.

Each is tested directly (``analyze`` with its own entity): exact spans inside Chinese sentences,
full-width variants, lookalikes that must stay unfound, and the properties the column scanner relies
on (polars regexes, look-arounds that inspect identifier characters only).
"""

from __future__ import annotations

import csv
import random
import re
from pathlib import Path

import pytest

from datahub.privacy.recognizers.base import NormalisedPatternRecognizer
from datahub.privacy.recognizers.cn_bank_card_recognizer import CnBankCardRecognizer
from datahub.privacy.recognizers.cn_landline_recognizer import CnLandlineRecognizer
from datahub.privacy.recognizers.cn_license_plate_recognizer import (
    PROVINCES,
    SUFFIXES,
    CnLicensePlateRecognizer,
)
from datahub.privacy.recognizers.cn_resident_id_recognizer import CnResidentIdRecognizer
from datahub.privacy.recognizers.cn_uscc_recognizer import CnUsccRecognizer, is_resident_id
from datahub.privacy.recognizers.email_recognizer import EmailRecognizer
from datahub.privacy.recognizers.ip_recognizer import IpRecognizer
from tests.privacy.recognizer_checks import (
    assert_fast_paths_agree,
    assert_screens_positives,
    mutations,
    span_of,
    spans,
)

ID_VECTORS = Path(__file__).resolve().parents[3] / "shared" / "data" / "idvectors" / "cn_id_vectors.csv"

RECOGNIZERS: tuple[type[NormalisedPatternRecognizer], ...] = (
    CnUsccRecognizer,
    CnLandlineRecognizer,
    CnBankCardRecognizer,
    EmailRecognizer,
    IpRecognizer,
    CnLicensePlateRecognizer,
)

# Resident ids (valid for stdnum.cn.ric) that also pass another recognizer's check.
RESIDENT_ID_PASSING_LUHN = "110105194912310150"
RESIDENT_ID_PASSING_USCC = "110105194912310409"
# Valid for the resident-id recognizer only: stdnum.cn.ric raises KeyError on its region 620201.
RESIDENT_ID_PASSING_USCC_UNKNOWN_COUNTY = "620201199003070594"
RESIDENT_ID_PASSING_LUHN_UNKNOWN_COUNTY = "620201199003070754"


# --- USCC -------------------------------------------------------------------------------------


def _uscc_vectors(valid: bool) -> list[str]:
    with ID_VECTORS.open(encoding="utf-8") as handle:
        rows = [row for row in csv.DictReader(handle) if row["kind"] == "cn_uscc"]
    return [row["value"] for row in rows if (row["expected_by_source"] == "valid") is valid]


def test_uscc_vectors_are_there() -> None:
    assert len(_uscc_vectors(True)) > 200
    assert len(_uscc_vectors(False)) >= 8


@pytest.mark.parametrize("value", _uscc_vectors(True))
def test_valid_uscc_vectors_found_in_a_sentence(value: str) -> None:
    text = f"该企业统一社会信用代码为{value}，已核实。"
    assert spans(CnUsccRecognizer(), text) == span_of(text, value)


@pytest.mark.parametrize("value", _uscc_vectors(False))
def test_invalid_uscc_vectors_not_found(value: str) -> None:
    # includes the "invalid_but_real" pilot-region codes that fail GB 32100's check (see docstring)
    assert spans(CnUsccRecognizer(), f"该企业统一社会信用代码为{value}，已核实。") == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("信用代码91110000600037341L。", "91110000600037341L"),
        ("信用代码91110000600037341l。", "91110000600037341l"),  # lowercase check character
        (
            "代码：９１１１００００６０００３７３４１Ｌ号",
            "９１１１００００６０００３７３４１Ｌ",
        ),  # full width
        (
            "代码：９１１１００００６０００３７３４１ｌ号",
            "９１１１００００６０００３７３４１ｌ",
        ),  # full-width lowercase
        ("代码 91-110000-600037341L 已登记", "91-110000-600037341L"),  # hyphenated groups
        ("农村集体经济组织N2110105MA12345676", "N2110105MA12345676"),  # authority N, own check
    ],
)
def test_uscc_found(text: str, expected: str) -> None:
    assert spans(CnUsccRecognizer(), text) == span_of(text, expected)


def test_two_uscc_in_a_sentence() -> None:
    text = "华为914403001922038216，象屿9135020026015919XW。"
    found = [text[start:end] for start, end in spans(CnUsccRecognizer(), text)]
    assert found == ["914403001922038216", "9135020026015919XW"]


@pytest.mark.parametrize(
    "text",
    [
        "代码91110000600037341M",  # wrong check character
        "代码N2110105MA12345677",  # wrong check character after authority N
        "代码B2110105MA1234567X",  # B is no registration authority
        "代码91110000600037341LX",  # 19 characters: a letter touches the match
        "代码X91110000600037341L",
        "代码1911100006000373411",  # a digit touches
        "代码9111000060003734",  # 16 characters
        "工单GD2026100100012345",  # work-order number
        f"身份证{RESIDENT_ID_PASSING_USCC}",  # a resident id that happens to pass the USCC check
        f"身份证{RESIDENT_ID_PASSING_USCC_UNKNOWN_COUNTY}",
        "日期20261001，金额12345.00元，热线12345",
    ],
)
def test_uscc_lookalikes_not_found(text: str) -> None:
    assert spans(CnUsccRecognizer(), text) == []


# --- landline ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("联系电话010-62345678转8001", "010-62345678"),  # extension outside
        ("电话010-62345678-8001", "010-62345678"),
        ("座机01062345678。", "01062345678"),  # unseparated, real area code 010
        ("请拨打(021)5432 1234咨询", "(021)5432 1234"),
        ("请拨打（０２１）５４３２１２３４咨询", "（０２１）５４３２１２３４"),  # full width
        ("深圳0755 8888 6666", "0755 8888 6666"),
        ("深圳0755-8888-6666", "0755-8888-6666"),
        ("深圳075588886666", "075588886666"),
        ("杭州0571-87654321", "0571-87654321"),
        ("杭州０５７１－８７６５４３２１", "０５７１－８７６５４３２１"),
        ("兰州0931-8123456", "0931-8123456"),  # a 7-digit subscriber number
        ("海口(0898)66123456", "(0898)66123456"),
        ("Tel: +86 10 6234 5678", "86 10 6234 5678"),  # country code, + outside
        ("电话86-755-88886666", "86-755-88886666"),
        ("电话+86 010 62345678", "010 62345678"),  # country code and trunk 0: found without +86
    ],
)
def test_landlines_found(text: str, expected: str) -> None:
    assert spans(CnLandlineRecognizer(), text) == span_of(text, expected)


@pytest.mark.parametrize(
    "text",
    [
        "手机13812345678",  # mobile
        "手机138-1234-5678",
        "手机+86 138 1234 5678",
        "手机013812345678",  # a mobile with a trunk 0: 0138 is no area code
        "热线12345",
        "报警110",
        "日期20261001",
        "日期2026-10-01",
        "工单GD2026100100012345",
        "订单号202610010001234",
        "金额0755.88元",
        "010-12345678",  # subscriber numbers never start with 1
        "010-02345678",  # nor with 0
        "010-6234567",  # 3-digit area codes take 8 digits
        "0311-12345678",
        "026-62345678",  # 026 is unused
        "011-62345678",  # 011 is no area code
        "0400-1234567",  # not a fixed-line area
        "SN01062345678",  # letters touch
        "010623456789",  # 12 digits after 010
        "8801062345678",  # a digit touches
    ],
)
def test_landline_lookalikes_not_found(text: str) -> None:
    assert spans(CnLandlineRecognizer(), text) == []


# --- bank card --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("银行卡号6222021234567890128，户名张三", "6222021234567890128"),  # UnionPay, 19 digits
        ("卡号6228480012345671。", "6228480012345671"),  # 16 digits
        ("卡号621700123456789011。", "621700123456789011"),  # 18 digits
        ("卡号6222 0212 3456 7890 128请核对", "6222 0212 3456 7890 128"),
        ("卡号6228-4800-1234-5671", "6228-4800-1234-5671"),
        ("信用卡4000 1234 1234 1234到期", "4000 1234 1234 1234"),  # Visa
        (
            "卡号６２２２０２１２３４５６７８９０１２８",
            "６２２２０２１２３４５６７８９０１２８",
        ),  # full width
        ("卡号６２２８－４８００－１２３４－５６７１", "６２２８－４８００－１２３４－５６７１"),
    ],
)
def test_bank_cards_found(text: str, expected: str) -> None:
    assert spans(CnBankCardRecognizer(), text) == span_of(text, expected)


@pytest.mark.parametrize(
    "text",
    [
        "卡号6222021234567890127",  # wrong Luhn digit
        "卡号6228 4800 1234 5672",
        "工单GD2026100100012345",
        "工单GD2026100100012346",
        f"身份证{RESIDENT_ID_PASSING_LUHN}",  # Luhn-valid resident id
        f"身份证{RESIDENT_ID_PASSING_LUHN_UNKNOWN_COUNTY}",
        "信用代码911100000000000452",  # an all-digit USCC that passes Luhn
        "卡号0000000000000000",  # placeholder
        "卡号0622021234567890125",  # leading 0
        "卡号622588012345678",  # 15 digits
        "卡号62220212345678901283",  # 20 digits
        "卡号X6222021234567890128",  # a letter touches
        "日期20261001，金额12345.00元，电话13812345678",
    ],
)
def test_bank_card_lookalikes_not_found(text: str) -> None:
    assert spans(CnBankCardRecognizer(), text) == []


# --- e-mail -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("发送至zhangwei@163.com。", "zhangwei@163.com"),
        ("邮箱：li.na+city@mail.example.gov.cn，谢谢", "li.na+city@mail.example.gov.cn"),
        ("Contact a_b-c@sub-domain.example.org.", "a_b-c@sub-domain.example.org"),
        ("邮箱13812345678@qq.com", "13812345678@qq.com"),
        ("邮箱ｚｈａｎｇｗｅｉ＠１６３．ｃｏｍ。", "ｚｈａｎｇｗｅｉ＠１６３．ｃｏｍ"),  # full width
        ("邮箱Zhang.Wei@Example.COM", "Zhang.Wei@Example.COM"),
        ("邮箱user@example.xn--fiqs8s", "user@example.xn--fiqs8s"),  # .中国 in IDNA
        ("<zhangwei@163.com>", "zhangwei@163.com"),
    ],
)
def test_emails_found(text: str, expected: str) -> None:
    assert spans(EmailRecognizer(), text) == span_of(text, expected)


@pytest.mark.parametrize(
    "text",
    [
        "邮箱zhangwei@163",  # no top-level domain
        "邮箱zhangwei@163.c",  # one-letter top-level domain
        "邮箱zhangwei@163.c0m",
        "邮箱zhang..wei@163.com",  # two dots in a row
        "邮箱zhangwei.@163.com",
        "邮箱.zhangwei@163.com",
        "邮箱zhangwei@-163.com",  # label starts with a hyphen
        "邮箱zhangwei@163-.com",
        "邮箱zhangwei@@163.com",
        "邮箱@163.com",
        "邮箱zhangwei@163。com",  # ideographic full stop
        "热线12345，日期2026-10-01",
    ],
)
def test_email_lookalikes_not_found(text: str) -> None:
    assert spans(EmailRecognizer(), text) == []


def test_email_local_part_is_at_most_64_characters() -> None:
    assert spans(EmailRecognizer(), "a" * 64 + "@163.com") == [(0, 72)]
    assert spans(EmailRecognizer(), "a" * 65 + "@163.com") == []


# --- IP addresses -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("登录IP为192.168.1.10，位置未知", "192.168.1.10"),
        ("IP:10.0.0.1", "10.0.0.1"),
        ("来源地址8.8.8.8。", "8.8.8.8"),
        ("服务器10.0.0.1:8080无响应", "10.0.0.1"),  # port outside
        ("网段10.0.0.0/8", "10.0.0.0"),
        ("It came from 10.0.0.1.", "10.0.0.1"),  # sentence-ending dot outside
        ("地址２５５．２５５．２５５．０", "２５５．２５５．２５５．０"),  # full width
        ("IPv6地址2001:db8::1，请封禁", "2001:db8::1"),
        ("IP:2001:db8::1", "2001:db8::1"),  # a colon before is no obstacle
        ("链路地址fe80::1%eth0", "fe80::1"),
        ("本机::1", "::1"),
        ("地址2001:0db8:85a3:0000:0000:8a2e:0370:7334。", "2001:0db8:85a3:0000:0000:8a2e:0370:7334"),
        ("地址[2001:db8::8a2e:370:7334]:443", "2001:db8::8a2e:370:7334"),
        ("地址２００１：ｄｂ８：：１", "２００１：ｄｂ８：：１"),  # full width
        ("映射地址::ffff:192.168.1.1", "192.168.1.1"),  # IPv4 in IPv6: found as the IPv4 part
    ],
)
def test_ip_addresses_found(text: str, expected: str) -> None:
    assert spans(IpRecognizer(), text) == span_of(text, expected)


@pytest.mark.parametrize(
    "text",
    [
        "Python 3.10.12",  # version strings
        "版本1.2.3",
        "版本v1.2.3.4",  # a letter before
        "256.1.1.1",  # octet out of range
        "192.168.1.256",
        "192.168.01.1",  # leading zero
        "金额1,234.56元",
        "日期2026.10.01",
        "时间12:30:45",
        "MAC 00:1A:2B:3C:4D:5E",
        "std::vector",
        "Foo::Bar",
        "a::b",  # no decimal digit in a compressed address
        "::",
        "地址12345::1",  # 5 hex digits
        "1:2:3:4:5:6:7",  # 7 groups without ::
        "2001:db8::1::2",  # two ::
        "热线12345，工单GD2026100100012345",
    ],
)
def test_ip_lookalikes_not_found(text: str) -> None:
    assert spans(IpRecognizer(), text) == []


def test_longer_dotted_numbers_yield_their_first_four_parts() -> None:
    # documented risk: a sentence-ending dot must stay allowed after an address, so the look-ahead
    # cannot refuse dots, and the first four parts of an OID or long version string match
    assert spans(IpRecognizer(), "OID 1.3.6.1.4.1") == [(4, 11)]


def test_ipv6_may_start_after_a_colon() -> None:
    # documented risk: a colon must stay allowed before an address ("IP:2001:db8::1"), so the tail
    # of a longer colon run can match
    assert spans(IpRecognizer(), "12345:6789::1") == [(6, 13)]


# --- number plates ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("车牌粤B12345违停", "粤B12345"),
        ("京A·12345", "京A·12345"),
        ("车辆沪B AB123驶离", "沪B AB123"),
        ("车辆沪B-1A23B驶离", "沪B-1A23B"),
        ("新能源粤B·D12345充电", "粤B·D12345"),  # small new-energy, battery electric
        ("京A·FB1234", "京A·FB1234"),  # small new-energy, plug-in hybrid, letter second
        ("浙A·A12345", "浙A·A12345"),  # widened small new-energy series
        ("粤B·12345D号", "粤B·12345D"),  # large new-energy
        ("警车京A·1234警出警", "京A·1234警"),
        ("教练车粤B1234学", "粤B1234学"),
        ("挂车冀A·1234挂", "冀A·1234挂"),
        ("粤Z·A123港入境", "粤Z·A123港"),
        ("车牌京ａ１２３４５", "京ａ１２３４５"),  # lowercase and full width
        ("车牌京Ａ·１２３４５", "京Ａ·１２３４５"),
        ("进京粤B12345车辆", "粤B12345"),  # a province character before the plate
    ],
)
def test_plates_found(text: str, expected: str) -> None:
    assert spans(CnLicensePlateRecognizer(), text) == span_of(text, expected)


@pytest.mark.parametrize(
    "text",
    [
        "京I12345",  # I is no authority letter
        "京O12345",
        "京A1234O",  # nor a serial letter
        "京A12I45",
        "京AABC12",  # three letters in an ordinary serial
        "京A1234",  # too short
        "京A123456",  # 6 digits: neither ordinary nor new-energy
        "粤B·L12345",  # L starts no new-energy serial
        "粤B·D1234A",  # new-energy ends in 4 digits
        "粤B·12345A",  # large new-energy ends in D or F
        "京A1234港",  # 港 only on 粤Z
        "粤ICP备12345678号",  # ICP licence
        "X京A12345",  # a letter touches
        "京A123456号",
        "东A12345",  # 东 is no province
        "工单GD2026100100012345，热线12345",
    ],
)
def test_plate_lookalikes_not_found(text: str) -> None:
    assert spans(CnLicensePlateRecognizer(), text) == []


# --- shared properties ------------------------------------------------------------------------

POSITIVES: dict[type[NormalisedPatternRecognizer], list[str]] = {
    CnUsccRecognizer: [
        "信用代码91110000600037341L。",
        "代码：９１１１００００６０００３７３４１Ｌ号",
        "代码 91 110000 600037341L 已登记",
        "N2110105MA12345676",
    ],
    CnLandlineRecognizer: [
        "联系电话010-62345678转8001",
        "座机01062345678。",
        "请拨打（０２１）５４３２１２３４咨询",
        "深圳0755 8888 6666",
        "Tel: +86 10 6234 5678",
    ],
    CnBankCardRecognizer: [
        "银行卡号6222021234567890128，户名张三",
        "卡号6222 0212 3456 7890 128请核对",
        "卡号６２２８－４８００－１２３４－５６７１",
    ],
    EmailRecognizer: [
        "发送至zhangwei@163.com。",
        "邮箱：li.na+city@mail.example.gov.cn，谢谢",
        "邮箱ｚｈａｎｇｗｅｉ＠１６３．ｃｏｍ。",
    ],
    IpRecognizer: [
        "登录IP为192.168.1.10，位置未知",
        "It came from 10.0.0.1.",
        "IP:2001:db8::1",
        "本机::1",
        "地址２００１：ｄｂ８：：１",
    ],
    CnLicensePlateRecognizer: [
        "车牌粤B12345违停",
        "新能源粤B·D12345充电",
        "粤B·12345D号",
        "警车京A·1234警出警",
        "车牌京ａ１２３４５",
    ],
}

NEGATIVES = [
    "工单GD2026100100012345，热线12345，报警110",
    "日期20261001，2026-10-01，金额12345.00元",
    "手机13812345678，身份证11010519491231002X",
    "Python 3.10.12，版本1.2.3",
    "粤ICP备12345678号",
]

# Every character an identifier of these six recognizers can contain: their look-arounds inspect only
# these, so a recognizer finds the same spans in the maximal runs of them as in whole texts.
_IDENTIFIER_RUN = re.compile(
    "[0-9０-９A-Za-zＡ-Ｚａ-ｚ \\-－.．:：@＠_%+＿％＋·•・･()（）" + PROVINCES + SUFFIXES + "]+"
)


def _all_texts() -> list[str]:
    return [text for texts in POSITIVES.values() for text in texts] + NEGATIVES


@pytest.mark.parametrize("recognizer_class", RECOGNIZERS)
def test_polars_regexes_compile_and_screen_every_positive(
    recognizer_class: type[NormalisedPatternRecognizer],
) -> None:
    recognizer = recognizer_class()
    assert_screens_positives(recognizer, _all_texts())
    assert all(spans(recognizer, text) for text in POSITIVES[recognizer_class])


@pytest.mark.parametrize("recognizer_class", RECOGNIZERS)
def test_negatives_found_by_none(recognizer_class: type[NormalisedPatternRecognizer]) -> None:
    recognizer = recognizer_class()
    assert [text for text in NEGATIVES if spans(recognizer, text)] == []


@pytest.mark.parametrize("recognizer_class", RECOGNIZERS)
def test_identifier_runs_give_the_same_spans(recognizer_class: type[NormalisedPatternRecognizer]) -> None:
    """The look-arounds inspect identifier characters only, so cutting texts into runs changes nothing."""
    recognizer = recognizer_class()
    texts = _all_texts() + ["".join(pair) for pair in zip(_all_texts(), reversed(_all_texts()), strict=True)]
    for text in texts:
        in_runs = sorted(
            (run.start() + start, run.start() + end)
            for run in _IDENTIFIER_RUN.finditer(text)
            for start, end in spans(recognizer, run.group())
        )
        assert in_runs == spans(recognizer, text), text


@pytest.mark.parametrize("recognizer_class", RECOGNIZERS)
def test_fast_paths_agree_with_presidio(recognizer_class: type[NormalisedPatternRecognizer]) -> None:
    """What the column scanner relies on, on identifier runs near the positives.

    The screening regex matches exactly when a pattern does (Presidio's engine, no validation);
    ``find_valid_spans`` gives Presidio's spans (so patterns never yield overlapping valid matches,
    which ``analyze`` would drop and the scanner would not).
    """
    recognizer = recognizer_class()
    seeds = [run.group() for text in POSITIVES[recognizer_class] for run in _IDENTIFIER_RUN.finditer(text)]
    alphabet = "0123456789０１ABDFXZabdfxz .-－:：@．·京粤警" + "5" * 5
    tokens = seeds + mutations(seeds, alphabet, 3000, random.Random(11), " -.")
    assert_fast_paths_agree(recognizer, tokens)


@pytest.mark.parametrize(
    "number",
    [
        RESIDENT_ID_PASSING_LUHN,
        RESIDENT_ID_PASSING_USCC,
        RESIDENT_ID_PASSING_USCC_UNKNOWN_COUNTY,
        RESIDENT_ID_PASSING_LUHN_UNKNOWN_COUNTY,
        "911100000000000452",  # USCC passing Luhn
        "621700123456789011",  # 18-digit card
    ],
)
def test_an_18_digit_number_gets_one_entity(number: str) -> None:
    accepted = [
        recognizer.ENTITY
        for recognizer in (CnResidentIdRecognizer(), CnUsccRecognizer(), CnBankCardRecognizer())
        if recognizer.validate_result(number)
    ]
    assert len(accepted) == 1, accepted


def test_resident_id_check_survives_stdnum_key_error() -> None:
    # stdnum.cn.ric.is_valid raises KeyError('county') for region 620201 (python-stdnum 2.2)
    assert is_resident_id(RESIDENT_ID_PASSING_USCC_UNKNOWN_COUNTY)
    assert not is_resident_id("620201199003070000")

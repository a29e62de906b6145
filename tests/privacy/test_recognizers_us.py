"""The US-style recognizers: NANP phone numbers, Social Security numbers and 13-15 digit payment cards.

Each is tested directly (``analyze`` with its own entity): exact spans in English and Chinese
sentences, look-alikes that must stay unfound, the properties the column scanner relies on (polars
screening regexes, the same spans as Presidio), silence on the Chinese complaint corpus, and, through
the column scanner, the Boston 311 extract with fake personal data planted in known rows.
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

import polars as pl
import pytest
from stdnum import luhn

from datahub.privacy.masking import presidio_mask_text, scan_text_column
from datahub.privacy.recognizers.base import NormalisedPatternRecognizer
from datahub.privacy.recognizers.cn_resident_id_recognizer import CnResidentIdRecognizer
from datahub.privacy.recognizers.credit_card_recognizer import CreditCardRecognizer
from datahub.privacy.recognizers.us_phone_recognizer import UsPhoneRecognizer
from datahub.privacy.recognizers.us_ssn_recognizer import UsSsnRecognizer
from datahub.privacy.scanner import analyzer_findings, find_entities, scan_texts
from tests.fixtures.pii_corpus import generate
from tests.privacy.recognizer_checks import (
    assert_fast_paths_agree,
    assert_screens_positives,
    mutations,
    span_of,
    spans,
)

BOSTON = Path(__file__).resolve().parents[3] / "shared" / "data" / "service_requests" / "boston311"
BOSTON_DATA = BOSTON / "boston311-100-with-fake-pii.csv"
BOSTON_SEARCHSET = BOSTON / "boston311-100-pii-searchset.csv"
BOSTON_ENTITIES = ("PHONE_NUMBER", "US_SSN", "CREDIT_CARD", "EMAIL_ADDRESS")
FLAG_ENTITY = {
    "Phone": "PHONE_NUMBER",
    "SSN": "US_SSN",
    "American Express": "CREDIT_CARD",
    "Email": "EMAIL_ADDRESS",
}

RECOGNIZERS: tuple[type[NormalisedPatternRecognizer], ...] = (
    UsPhoneRecognizer,
    UsSsnRecognizer,
    CreditCardRecognizer,
)
US_ENTITIES = tuple(r.ENTITY for r in RECOGNIZERS)

# Pre-1999 (15-digit) resident ids that also pass Luhn and start like American Express cards.
RESIDENT_ID_15_LIKE_AMEX = ("370102850315108", "340104850315101")


def _with_check_digit(body: str) -> str:
    return body + luhn.calc_check_digit(body)


# --- phone numbers ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Please call 212-555-1234 today.", "212-555-1234"),
        ("Office: (212) 555-1234.", "(212) 555-1234"),
        ("Office:(212)555-1234", "(212)555-1234"),
        ("fax 212.555.1234, thanks", "212.555.1234"),
        ("phone 617 635 4500", "617 635 4500"),
        ("Tel +1 212 555 1234", "+1 212 555 1234"),
        ("Tel +1-617-635-4500.", "+1-617-635-4500"),
        ("Toll free 1-800-555-1234.", "1-800-555-1234"),
        ("Call +1 (617) 635-4500 now", "+1 (617) 635-4500"),
        ("call him at 212-123-5432 ", "212-123-5432"),  # an exchange starting with 1 still dials someone
        ("Regards   Rich DiMarzo  781-853-9016 ", "781-853-9016"),
        ("Phone:212-555-1234x22", "212-555-1234"),  # an extension stays outside the match
        ("请致电212-555-1234联系", "212-555-1234"),
        ("美国电话（２１２）５５５－１２３４。", "（２１２）５５５－１２３４"),
        ("联系人电话：+1 212 555 1234，已回访", "+1 212 555 1234"),
    ],
)
def test_phone_numbers_found(text: str, expected: str) -> None:
    assert spans(UsPhoneRecognizer(), text) == span_of(text, expected)


@pytest.mark.parametrize(
    "text",
    [
        "手机13812345678",
        "手机138 1234 5678",
        "手机138-1234-5678",
        "电话+86 138 1234 5678",
        "2125551234",  # unseparated
        "call 212-5551234",  # the line number is glued to the exchange
        "call 212555-1234",  # the area code is glued to the exchange
        "911-555-1234",  # N11 is a service code
        "411-555-1234",
        "112-555-1234",  # area codes start with 2-9
        "012-555-1234",
        "客服热线400-810-8888",  # China's business hotlines: 400 is no NANP area code
        "5212-555-1234",  # digits touch the match
        "212-555-12345",
        "工单GD2026100100012345",
        "日期2026-10-01，2026.10.01 10:06:33",
        "Closed date : 2022-01-03 10:06:33.717",
        "40 Anderson St  Boston  MA  02114",
        "42.3439,-71.0806",
        "amount $1,234,567.89 and 1 234 567",
        "热线12345，报警110",
        "座机010-62345678，深圳0755 8888 6666，（021）5432 1234",
        "case 101004113403",
    ],
)
def test_phone_lookalikes_not_found(text: str) -> None:
    assert spans(UsPhoneRecognizer(), text) == []


def test_two_phone_numbers_in_a_row_are_two_matches() -> None:
    text = "212-555-1234 / 617-635-4500"
    assert spans(UsPhoneRecognizer(), text) == [(0, 12), (15, 27)]


# --- Social Security numbers ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Ticket issued and collected SSN - 987-65-4320 ", "987-65-4320"),  # 9xx: ITIN/advertising
        ("SSN: 536-22-1234.", "536-22-1234"),
        ("ssn 536 22 1234", "536 22 1234"),
        ("ITIN 912-70-1234", "912-70-1234"),
        ("社会安全号536-22-1234，已核实", "536-22-1234"),
        ("号码５３６－２２－１２３４。", "５３６－２２－１２３４"),
    ],
)
def test_ssns_found(text: str, expected: str) -> None:
    assert spans(UsSsnRecognizer(), text) == span_of(text, expected)


@pytest.mark.parametrize(
    "text",
    [
        "SSN 000-12-3456",  # area 000
        "SSN 666-12-3456",  # area 666
        "SSN 536-00-1234",  # group 00
        "SSN 536-22-0000",  # serial 0000
        "SSN 123-45-6789",  # placeholder
        "SSN 078-05-1120",  # the Woolworth wallet card
        "SSN 219-09-9999",  # the 1940 leaflet
        "SSN 536221234",  # unseparated
        "SSN 1536-22-1234",  # digits touch the match
        "SSN 536-22-12345",
        "日期2026-10-01，时间10:06:33",
        "Please call 212-555-1234",
        "手机138-1234-5678",
        "工单GD2026100100012345，热线12345",
    ],
)
def test_ssn_lookalikes_not_found(text: str) -> None:
    assert spans(UsSsnRecognizer(), text) == []


# --- 13-15 digit payment cards ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Person paid with Amex - 378734493671000", "378734493671000"),
        ("card 3787 344936 71000.", "3787 344936 71000"),
        ("Amex 3782-822463-10005, exp 12/27", "3782-822463-10005"),
        ("American Express 371449635398431", "371449635398431"),
        ("Diners 30569309025904", "30569309025904"),
        ("Diners 3056 930902 5904", "3056 930902 5904"),
        ("Diners 38520000023237.", "38520000023237"),
        ("Visa 4222222222222", "4222222222222"),
        ("Visa 4222 222 222 222", "4222 222 222 222"),
        ("信用卡号378734493671000，持卡人", "378734493671000"),
        ("卡号３７８７ ３４４９３６ ７１０００", "３７８７ ３４４９３６ ７１０００"),
    ],
)
def test_cards_found(text: str, expected: str) -> None:
    assert spans(CreditCardRecognizer(), text) == span_of(text, expected)


@pytest.mark.parametrize(
    "text",
    [
        "Amex 378734493671001",  # Luhn fails
        "Amex 3787 344936 71001",
        f"card {_with_check_digit('35123456789012')}",  # 15 digits, no 15-digit network starts with 35
        f"card {_with_check_digit('3061234567890')}",  # 14 digits, 306 is no Diners prefix
        f"card {_with_check_digit('512345678901')}",  # 13 digits, only Visa issued 13
        "card 4111111111111111",  # 16 digits: CN_BANK_CARD's
        "card 3333333333333",
        "Amex 3787344936710000",  # longer run
        "No. A378734493671000",  # letters touch the match
        "工单GD2026100100012345",
        "日期20261001，时间20261001120000，金额12345.00元",
        "手机13812345678，8613812345678",
        "Boston MA 02115, case 101004113403",
        *(f"身份证{number}" for number in RESIDENT_ID_15_LIKE_AMEX),
    ],
)
def test_card_lookalikes_not_found(text: str) -> None:
    assert spans(CreditCardRecognizer(), text) == []


@pytest.mark.parametrize("number", RESIDENT_ID_15_LIKE_AMEX)
def test_a_15_digit_resident_id_passing_luhn_gets_one_entity(number: str) -> None:
    assert luhn.is_valid(number) and number.startswith(("34", "37"))
    assert CnResidentIdRecognizer().is_valid(number)
    text = f"身份证{number}，已核实"
    assert [(f.type, text[f.start : f.end]) for f in find_entities(text)] == [("CN_RESIDENT_ID", number)]


# --- what the column scanner relies on --------------------------------------------------------

POSITIVES: dict[type[NormalisedPatternRecognizer], list[str]] = {
    UsPhoneRecognizer: [
        "call 212-555-1234",
        "(212) 555-1234",
        "+1 212.555.1234",
        "1-800-555-1234",
        "美国电话（２１２）５５５－１２３４。",
    ],
    UsSsnRecognizer: ["SSN - 987-65-4320", "ssn 536 22 1234", "号码５３６－２２－１２３４。"],
    CreditCardRecognizer: [
        "Amex - 378734493671000",
        "3787 344936 71000",
        "Diners 3056-930902-5904",
        "Visa 4222 222 222 222",
        "卡号４２２２２２２２２２２２２",
    ],
}

NEGATIVES = [
    "工单GD2026100100012345，热线12345，报警110",
    "日期20261001，2026-10-01 10:06:33，金额12345.00元",
    "手机13812345678，138 1234 5678，身份证11010519491231002X",
    "Boston MA 02115, Closed date : 2022-01-03 10:06:33.717",
    "Python 3.10.12，版本1.2.3",
]


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
def test_fast_paths_agree_with_presidio(recognizer_class: type[NormalisedPatternRecognizer]) -> None:
    """The screening regex matches exactly when a pattern does (Presidio's engine, no validation), and
    ``find_valid_spans`` (with its ``STARTS`` look-ahead) gives Presidio's spans, near the positives."""
    recognizer = recognizer_class()
    seeds = [text for texts in POSITIVES.values() for text in texts]
    alphabet = "0123456789０１ x.-－()（）+＋" + "5" * 5
    tokens = seeds + mutations(seeds, alphabet, 3000, random.Random(7), " -.(")
    assert_fast_paths_agree(recognizer, tokens)


def test_scanner_agrees_with_presidio_on_mixed_texts() -> None:
    texts = [
        *_all_texts(),
        "Call 212-555-1234 or mail joeblows@aol.com; SSN 536-22-1234, Amex 378734493671000",
    ]
    for text in texts:
        assert find_entities(text) == analyzer_findings(text), text


def test_chinese_complaints_hold_no_us_identifiers() -> None:
    """The labelled Chinese corpus (what ``benchmarks/pii_eval.py`` scores) gives them nothing."""
    texts = pl.Series([sample.text for sample in generate(3000, seed=20261122)])
    assert scan_texts(texts, US_ENTITIES) == {}


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("call 212-555-1234 today", "call ***-***-1234 today"),
        ("SSN - 987-65-4320 ", "SSN - ***-**-4320 "),
        ("Amex - 378734493671000", "Amex - ***********1000"),
    ],
)
def test_us_identifiers_keep_their_last_four_digits(text: str, masked: str) -> None:
    assert scan_text_column(pl.Series([text]))[0].to_list() == [masked]
    assert presidio_mask_text(text) == masked


# --- Boston 311 with planted fake personal data -----------------------------------------------


def _boston_flags() -> dict[int, set[str]]:
    """Per 1-based data row of the extract, the entity types planted in it (from the search set)."""
    with BOSTON_SEARCHSET.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    flags = {}
    for row in rows:
        number, kinds = row["flagged"].split(";")
        flags[int(number)] = {FLAG_ENTITY[kind] for kind in kinds.split(",")}
    return flags


def test_boston_search_set_rows_are_the_data_rows_it_names() -> None:
    data = pl.read_csv(BOSTON_DATA, infer_schema_length=0)
    with BOSTON_SEARCHSET.open(encoding="utf-8", newline="") as handle:
        listed = list(csv.DictReader(handle))
    assert len(listed) == 5
    for row in listed:
        number = int(row["flagged"].split(";")[0])
        assert data["case_enquiry_id"][number - 1] == row["case_enquiry_id"]


def test_boston_planted_identifiers_are_found_in_exactly_the_listed_rows() -> None:
    data = pl.read_csv(BOSTON_DATA, infer_schema_length=0)
    assert data.height == 100
    found: dict[int, set[str]] = {}
    for column in data.columns:
        values = data[column].to_list()
        findings = scan_texts(pl.Series(values, dtype=pl.String), BOSTON_ENTITIES)
        for number, value in enumerate(values, start=1):
            if value in findings:
                found.setdefault(number, set()).update(f.type for f in findings[value])
    assert found == _boston_flags()

"""The Chinese recognizers: what they must find, what they must leave alone, and the offline analyzer."""

from __future__ import annotations

import csv
import itertools
import random
from pathlib import Path

import polars as pl
import pytest
import regex
from faker import Faker
from hypothesis import given, settings
from hypothesis import strategies as st
from presidio_analyzer.nlp_engine import NoOpNlpEngine

from datahub.privacy.analyzer import build_analyzer
from datahub.privacy.recognizers import (
    ALL_RECOGNIZERS,
    CnMobileRecognizer,
    CnResidentIdRecognizer,
    NormalisedPatternRecognizer,
)
from datahub.privacy.recognizers.person_recognizer import _outermost

ID_VECTORS = Path(__file__).resolve().parents[2].parent / "shared/data/idvectors/cn_id_vectors.csv"

# stdnum.cn.ric also requires the county to have been registered in the birth year. The recognizer
# deliberately does not (see its docstring): a number keeps the county code it was issued under.
COUNTY_YEAR_RULE_NOT_APPLIED = {"110111198012010078", "110201199312010077"}


def _id_vectors() -> list[tuple[str, bool, str]]:
    with ID_VECTORS.open(encoding="utf-8") as handle:
        rows = [row for row in csv.DictReader(handle) if row["kind"] == "cn_ric"]
    return [
        (
            row["value"],
            row["expected_by_source"] == "valid" or row["value"] in COUNTY_YEAR_RULE_NOT_APPLIED,
            row["source_reason"],
        )
        for row in rows
    ]


def _found(recognizer: NormalisedPatternRecognizer, text: str) -> list[str]:
    return [text[r.start : r.end] for r in recognizer.analyze(text, [recognizer.ENTITY])]


@pytest.mark.parametrize(("value", "valid", "reason"), _id_vectors(), ids=lambda v: str(v)[:40])
def test_resident_id_vectors_from_published_test_suites(value: str, valid: bool, reason: str) -> None:
    assert CnResidentIdRecognizer().validate_result(value) is valid, reason


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("11010519491231002X", "11010519491231002X"),  # GB 11643's own example (female)
        ("440524188001010014", "440524188001010014"),  # GB 11643's example (male); county newer than 1880
        ("身份证号：11010519491231002x。", "11010519491231002x"),  # lowercase x, inside Chinese text
        ("证件１１０１０５１９４９１２３１００２Ｘ号", "１１０１０５１９４９１２３１００２Ｘ"),  # full width
        ("830000199001010020", "830000199001010020"),  # residence permit of a Taiwan resident
        ("620201199003071239", "620201199003071239"),  # county code missing from stdnum's table
        ("老身份证110105491231002", "110105491231002"),  # 15-digit id issued before 1999
    ],
)
def test_resident_ids_found(text: str, expected: str) -> None:
    assert _found(CnResidentIdRecognizer(), text) == [expected]


@pytest.mark.parametrize(
    "text",
    [
        "110105194912310021",  # wrong check character (X expected)
        "990426199112010074",  # 99 is no province
        "360426199113010079",  # month 13
        "110105194902290010",  # 1949-02-29 does not exist (the check character is right)
        "1101051949123100211",  # 19 digits: part of a longer number
        "11010519491231002",  # 17 digits
        "11010519491231002XX",  # a letter run, not an id
        "工单GD20261001000123",  # work-order number, 14 digits
        "990105491231002",  # 15 digits with no province 99
        "119999491231002",  # 15 digits, county 9999 unknown
        "110105491331002",  # 15 digits, month 13
        "12345",  # hotline
    ],
)
def test_resident_id_lookalikes_not_found(text: str) -> None:
    assert _found(CnResidentIdRecognizer(), text) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("13812345678", "13812345678"),
        ("联系电话13812345678谢谢", "13812345678"),  # no word boundary next to Chinese characters
        ("138 1234 5678", "138 1234 5678"),
        ("138-1234-5678", "138-1234-5678"),
        ("+86 138 1234 5678", "86 138 1234 5678"),  # the + stays outside the match
        ("+8613812345678", "8613812345678"),
        ("86-138-1234-5678", "86-138-1234-5678"),
        ("１３８１２３４５６７８", "１３８１２３４５６７８"),  # full-width digits
        ("手机：１３８－１２３４－５６７８", "１３８－１２３４－５６７８"),  # full-width hyphens
        ("19912345678", "19912345678"),  # China Telecom 199
        ("16612345678", "16612345678"),  # China Unicom 166
        ("（13812345678）", "13812345678"),
    ],
)
def test_mobile_numbers_found(text: str, expected: str) -> None:
    assert _found(CnMobileRecognizer(), text) == [expected]


@pytest.mark.parametrize(
    "text",
    [
        "12345",  # city hotline
        "110",  # police
        "20261001",  # a date
        "工单GD20261001000123",  # work-order number: 14 digits contain 13812… shapes, never a match
        "流水号213812345678",  # a digit before the number: part of a longer number
        "138123456789",  # 12 digits
        "1381234567",  # 10 digits
        "12812345678",  # 12x is no mobile segment
        "15412345678",  # 154 is unassigned
        "14012345678",  # 140 is a 13-digit IoT segment
        "010-12345678",  # Beijing landline
        "0755-86123456",  # Shenzhen landline
        "金额13812.50元",  # an amount
    ],
)
def test_mobile_lookalikes_not_found(text: str) -> None:
    assert _found(CnMobileRecognizer(), text) == []


def test_two_numbers_in_a_row_are_two_matches() -> None:
    assert _found(CnMobileRecognizer(), "13812345678 13912345678") == ["13812345678", "13912345678"]


@pytest.mark.parametrize("recognizer_class", ALL_RECOGNIZERS)
def test_recognizers_declare_their_constants(recognizer_class: type[NormalisedPatternRecognizer]) -> None:
    recognizer = recognizer_class()
    assert recognizer.supported_entities == [recognizer_class.ENTITY]
    assert recognizer.supported_language == "zh"
    assert recognizer.context == list(recognizer_class.CONTEXT)
    assert recognizer_class.__doc__ and "False-positive risks" in recognizer_class.__doc__


def _random_token(rng: random.Random) -> str:
    """A digit-ish run: what the column scanner hands the recognizers."""
    alphabet = "0123456789" * 3 + "１３８６" + " -－Xx"
    length = rng.choice([rng.randint(1, 25), 11, 13, 15, 18])
    return rng.choice("1１") + "".join(rng.choice(alphabet) for _ in range(length - 1))


@pytest.mark.parametrize(
    "recognizer_class", [r for r in ALL_RECOGNIZERS if issubclass(r, NormalisedPatternRecognizer)]
)
def test_fast_paths_agree_with_presidio(recognizer_class: type[NormalisedPatternRecognizer]) -> None:
    """The regexes polars runs and the lean span finder must agree with Presidio's own matching."""
    recognizer = recognizer_class()
    rng = random.Random(7)
    tokens = [_random_token(rng) for _ in range(10_000)]
    fake = Faker("zh_CN")
    fake.seed_instance(7)
    real = [fake.ssn() if i % 2 else fake.phone_number() for i in range(600)]
    tokens += real + [f"{a} {b}" for a, b in itertools.pairwise(real)] + [f"{a}-1" for a in real]
    tokens += ["86 138 1234 5678", "11010519491231002x", "110105491231002", "1381234567８"]
    screened = pl.Series(tokens).str.contains(recognizer.screening_regex).to_list()
    for token, is_screened in zip(tokens, screened, strict=True):
        # Presidio's engine (the `regex` package) and flags, without validation
        matches = [
            regex.search(p.regex, token, flags=recognizer.global_regex_flags) for p in recognizer.patterns
        ]
        assert is_screened == any(matches), token
        valid = sorted((r.start, r.end) for r in recognizer.analyze(token, [recognizer.ENTITY]))
        assert sorted(recognizer.find_valid_spans(token)) == valid, token


def test_analyzer_is_offline_and_holds_only_our_recognizers() -> None:
    analyzer = build_analyzer()
    assert isinstance(analyzer.nlp_engine, NoOpNlpEngine)
    assert analyzer.supported_languages == ["zh"]
    assert [type(r) for r in analyzer.registry.recognizers] == list(ALL_RECOGNIZERS)
    assert build_analyzer() is analyzer


def test_analyzer_finds_both_entities_in_a_complaint() -> None:
    text = "市民来电+86 138-1234-5678反映噪音，身份证11010519491231002X，工单GD20261001000123，热线12345"
    results = sorted(build_analyzer().analyze(text, language="zh"), key=lambda r: r.start)
    assert [(r.entity_type, text[r.start : r.end]) for r in results] == [
        ("CN_MOBILE", "86 138-1234-5678"),
        ("CN_RESIDENT_ID", "11010519491231002X"),
    ]
    assert all(r.score == 1.0 for r in results)


@settings(max_examples=200, deadline=None)
@given(st.sets(st.tuples(st.integers(0, 40), st.integers(1, 12)).map(lambda t: (t[0], t[0] + t[1]))))
def test_outermost_keeps_exactly_the_spans_no_other_contains(spans: set[tuple[int, int]]) -> None:
    """The sweep agrees with the definition (a long text has thousands of candidates: the pairwise
    comparison it replaces took minutes on a 1 MB complaint)."""
    expected = {s for s in spans if not any(o != s and o[0] <= s[0] and s[1] <= o[1] for o in spans)}
    assert set(_outermost(spans)) == expected

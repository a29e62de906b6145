"""Recognizer for PRC resident identity card numbers (CN_RESIDENT_ID)."""

from __future__ import annotations

import datetime
import functools
from typing import ClassVar

from presidio_analyzer import Pattern
from stdnum import numdb
from stdnum.cn import ric

from datahub.privacy.recognizers.base import (
    CHECK_X,
    DIGIT,
    NOT_AFTER_DIGIT,
    NormalisedPatternRecognizer,
)

_NOT_BEFORE_ID_CHAR = f"(?![{DIGIT}{CHECK_X}])"


@functools.lru_cache(maxsize=65536)
def _is_date(yyyymmdd: str) -> bool:
    """Whether the date exists (cached: a column holds a few tens of thousands of birth dates)."""
    try:
        datetime.date(int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:]))
    except ValueError:
        return False
    return True


@functools.lru_cache(maxsize=8192)
def _county_known(region: str) -> bool:
    """Whether python-stdnum's GB/T 2260 table names this six-digit county code, in any year."""
    return any("county" in props for _, props in numdb.get("cn/loc").info(region))


class CnResidentIdRecognizer(NormalisedPatternRecognizer):
    """PRC resident identity numbers, GB 11643-1999, and the 15-digit numbers issued before it.

    18 characters: a six-digit GB/T 2260 region code, the birth date ``YYYYMMDD``, a three-digit
    sequence number and an ISO 7064 MOD 11-2 check character (``0-9`` or ``X``), computed with
    ``stdnum.cn.ric.calc_check_digit``. The birth date must exist and the region must start with a
    province-level code (``PROVINCE_CODES``, which includes 81/82/83 used by residence permits for
    Hong Kong, Macao and Taiwan residents).

    ``stdnum.cn.ric.validate`` also requires the county to have been registered in the birth year;
    that rule is deliberately not applied. A number keeps the county code it was first issued under,
    which is often newer than the birth year or since abolished, and the county table is incomplete,
    so the rule rejects real numbers (including GB 11643's own example ``440524188001010014``), and
    a missed number is a leak.

    15 digits (issued until 1999): region, birth date ``YYMMDD`` in the 1900s and a sequence number,
    with no check character; the county must appear in stdnum's region table because nothing else
    separates these from other 15-digit numbers.

    Full-width digits and a lowercase or full-width ``x`` are accepted (checked after NFKC).

    False-positive risks: about one 18-digit run in eleven has a matching check character, so an
    order or account number with a plausible date at positions 7-14 and a province prefix can
    match; 15-digit numbers (some IMEIs, bank references) can pass the date and county checks.
    Longer runs such as ``GD20261001000123`` never match, since digits may not touch the match.
    """

    ENTITY: ClassVar[str] = "CN_RESIDENT_ID"

    STARTS: ClassVar[str | None] = DIGIT

    PATTERNS: ClassVar[tuple[Pattern, ...]] = (
        Pattern(
            "cn_resident_id_18",
            rf"{NOT_AFTER_DIGIT}[{DIGIT}]{{17}}[{DIGIT}{CHECK_X}]{_NOT_BEFORE_ID_CHAR}",
            0.5,
        ),
        Pattern("cn_resident_id_15", rf"{NOT_AFTER_DIGIT}[{DIGIT}]{{15}}{_NOT_BEFORE_ID_CHAR}", 0.3),
    )

    CONTEXT: ClassVar[tuple[str, ...]] = (
        "身份证",
        "身份证号",
        "身份证号码",
        "公民身份号码",
        "证件号",
        "证件号码",
        "居民身份证",
        "id",
    )

    PROVINCE_CODES: ClassVar[frozenset[str]] = frozenset(
        {
            # GB/T 2260 provinces, autonomous regions and municipalities
            *("11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37"),
            *("41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64", "65"),
            # Taiwan, Hong Kong, Macao; 83 is used by residence permits of Taiwan residents
            *("71", "81", "82", "83"),
        }
    )

    def is_valid(self, normalised: str) -> bool:
        number = normalised.upper()
        if len(number) == 18:
            return self._is_valid_18(number)
        if len(number) == 15:
            return self._is_valid_15(number)
        return False

    def _is_valid_18(self, number: str) -> bool:
        body = number[:17]
        return (
            number[:2] in self.PROVINCE_CODES
            and body.isascii()
            and body.isdigit()
            and _is_date(number[6:14])
            and number[17] == ric.calc_check_digit(number)
        )

    def _is_valid_15(self, number: str) -> bool:
        return (
            number[:2] in self.PROVINCE_CODES
            and number.isascii()
            and number.isdigit()
            and _is_date("19" + number[6:12])
            and _county_known(number[:6])
        )

"""Recognizer for mainland China fixed-line numbers written with their area code (CN_LANDLINE)."""

from __future__ import annotations

import functools
import re
from typing import ClassVar

import phonenumbers
from phonenumbers import PhoneNumberType
from presidio_analyzer import Pattern

from datahub.privacy.recognizers.base import DIGIT, SEPARATOR, NormalisedPatternRecognizer

_ALNUM = f"{DIGIT}A-Za-zＡ-Ｚａ-ｚ"
_NOT_AFTER_ALNUM = f"(?<![{_ALNUM}])"
_NOT_BEFORE_ALNUM = f"(?![{_ALNUM}])"

_ZERO = "0０"
# Area code without the trunk 0: two digits after 1 or 2 (010, 020-029), three after 3-9 (0311, 0755).
_AREA = f"(?:[1-2１-２][{DIGIT}]|[3-9３-９][{DIGIT}]{{2}})"
# Subscriber number: 7 or 8 digits, never starting with 0 or 1, optionally split before the last four.
_SUBSCRIBER = f"[2-9２-９][{DIGIT}]{{2,3}}[{SEPARATOR}]?[{DIGIT}]{{4}}"
_NON_DIGIT = re.compile(r"[^0-9]")


_SUBSCRIBER_FIRST = frozenset("23456789")


_FIXED = (PhoneNumberType.FIXED_LINE, PhoneNumberType.FIXED_LINE_OR_MOBILE)


@functools.lru_cache(maxsize=65536)
def _is_fixed_line(national: str) -> bool:
    """Whether libphonenumber's CN metadata knows ``national`` (without trunk 0) as a fixed line."""
    try:
        number = phonenumbers.parse("+86" + national)
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.is_valid_number(number) and phonenumbers.number_type(number) in _FIXED


@functools.lru_cache(maxsize=4096)
def _is_area_code(area: str) -> bool:
    """Whether libphonenumber's CN metadata has fixed-line numbers under ``area`` (without trunk 0),
    with either subscriber length: a number written with one digit more or less than its city now
    uses (an old 7-digit number, a typo) still identifies a line, so only the area code is checked."""
    samples = ("2345678", "23456789", "6234567", "62345678", "8234567", "82345678")
    return any(_is_fixed_line(area + subscriber) for subscriber in samples)


class CnLandlineRecognizer(NormalisedPatternRecognizer):
    """Mainland China fixed-line numbers with an area code, on MIIT's numbering plan (电信网编号计划).

    Area codes have a trunk ``0`` and are three digits long for Beijing (``010``) and the ``02X``
    cities (``THREE_DIGIT_AREA_CODES``; ``026`` is reserved for Taiwan and unused), four digits long
    for every other area (``03XX``-``09XX``). Which first digit after the ``0`` is the only thing that
    decides the length, so an unseparated run splits in exactly one way: ``01062345678`` is 010 and
    8 digits, ``075588886666`` is 0755 and 8 digits. Subscriber numbers have 8 digits after a
    three-digit area code and 7 or 8 after a four-digit one, and never start with ``0`` or ``1``
    (those are trunk, service and special-number prefixes).

    Which four-digit area codes exist comes from the CN metadata of the ``phonenumbers`` package
    (libphonenumber): :meth:`is_valid` requires that it knows fixed-line numbers under the area code.
    The subscriber length it knows for each city is deliberately not required: a number written
    with a digit more or less than its city uses today (an old 7-digit number, a slip) still points
    at a line, and for a leak scanner a miss costs more than a false alarm. An unseparated 11- or
    12-digit run starting with ``0`` is ambiguous (it may be an order or account number); it is
    accepted when it passes these checks, like every other shape, with a lower score.

    Accepted shapes: ``010-62345678``, ``0571 87654321``, ``01062345678``, ``(021)5432 1234``,
    ``（０２１）５４３２１２３４``, ``0755 8888 6666``, ``0755-8888-6666``, and with the country code
    instead of the trunk 0 and a separator after it, ``+86 10 6234 5678`` or ``86-755-88886666``
    (the ``+`` stays outside the match). Extensions (``转8001``, ``-8001``) stay outside the match.
    ``+86 010 …`` (country code and trunk 0) is found without its ``+86``.

    False-positive risks: fixed-line numbers carry no check digit; any 11- or 12-digit run starting
    with a real area code followed by a digit from 2 to 9 matches, such as an order number that
    happens to start with ``0``. Not matched: mobile numbers (``138…`` has no trunk 0, ``0138…``
    no real area code), hotlines (``12345``, ``110``), dates (``20261001``, ``2026-10-01``) and
    digit runs glued to letters or longer digit runs (``GD2026100100012345``), because letters and
    digits may not touch the match.
    """

    ENTITY: ClassVar[str] = "CN_LANDLINE"

    PATTERNS: ClassVar[tuple[Pattern, ...]] = (
        Pattern(
            "cn_landline_separated",
            rf"{_NOT_AFTER_ALNUM}[{_ZERO}]{_AREA}[{SEPARATOR}]{_SUBSCRIBER}{_NOT_BEFORE_ALNUM}",
            0.5,
        ),
        Pattern(
            "cn_landline_parenthesised",
            rf"{_NOT_AFTER_ALNUM}[(（][{_ZERO}]{_AREA}[)）][{SEPARATOR}]?{_SUBSCRIBER}{_NOT_BEFORE_ALNUM}",
            0.5,
        ),
        Pattern(
            "cn_landline_country_code",
            rf"{_NOT_AFTER_ALNUM}[8８][6６][{SEPARATOR}]{_AREA}[{SEPARATOR}]?{_SUBSCRIBER}{_NOT_BEFORE_ALNUM}",
            0.5,
        ),
        Pattern(
            "cn_landline_unseparated",
            rf"{_NOT_AFTER_ALNUM}[{_ZERO}]{_AREA}{_SUBSCRIBER}{_NOT_BEFORE_ALNUM}",
            0.3,
        ),
    )

    CONTEXT: ClassVar[tuple[str, ...]] = (
        "电话",
        "座机",
        "固话",
        "固定电话",
        "联系电话",
        "办公电话",
        "传真",
        "区号",
        "tel",
        "phone",
        "fax",
    )

    THREE_DIGIT_AREA_CODES: ClassVar[frozenset[str]] = frozenset(
        # Beijing; Guangzhou, Shanghai, Tianjin, Chongqing, Shenyang, Nanjing, Wuhan, Chengdu, Xi'an
        ["010", "020", "021", "022", "023", "024", "025", "027", "028", "029"]
    )

    def is_valid(self, normalised: str) -> bool:
        digits = _NON_DIGIT.sub("", normalised)
        if digits.startswith("0"):
            national = digits[1:]
        elif digits.startswith("86"):
            national = digits[2:]
        else:
            return False
        if national[:1] in ("1", "2"):
            area, subscriber = "0" + national[:2], national[2:]
            if area not in self.THREE_DIGIT_AREA_CODES or len(subscriber) != 8:
                return False
            return subscriber[:1] in _SUBSCRIBER_FIRST
        subscriber = national[3:]
        if len(subscriber) not in (7, 8) or subscriber[:1] not in _SUBSCRIBER_FIRST:
            return False
        return _is_area_code(national[:3])

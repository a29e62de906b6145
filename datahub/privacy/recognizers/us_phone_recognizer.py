"""Recognizer for North American telephone numbers written with separators (PHONE_NUMBER)."""

from __future__ import annotations

import re
from typing import ClassVar

from presidio_analyzer import Pattern

from datahub.privacy.recognizers.base import (
    DIGIT,
    NOT_AFTER_DIGIT,
    NOT_BEFORE_DIGIT,
    SEPARATOR,
    NormalisedPatternRecognizer,
)

_SEP = f"{SEPARATOR}.．"
"""Space, hyphen or dot (ASCII or full width): what may stand between the groups of a number."""

_AREA = f"[2-9２-９][{DIGIT}]{{2}}"
_COUNTRY = "[+＋]?[1１]"
_OPEN = "[(（]"
_CLOSE = "[)）]"
_REST = f"[{DIGIT}]{{3}}[{_SEP}][{DIGIT}]{{4}}"
_NON_DIGIT = re.compile(r"[^0-9]")


class UsPhoneRecognizer(NormalisedPatternRecognizer):
    """North American Numbering Plan (NANP, ITU-T E.164 country code 1) numbers written with separators.

    Ten digits: a three-digit area code ``NXX`` (``N`` = 2-9), a three-digit exchange and a
    four-digit line number, optionally after the country code ``1`` or ``+1``. Area codes of the
    form ``N11`` (211, 311, …, 911) are service codes, never area codes, and are rejected; so is
    ``400``, which the NANP has not assigned and which is the prefix of China's nationwide business
    hotlines (``400-810-8888``). The exchange may be any three digits: the plan requires ``NXX``
    there too, but made-up numbers in real exports (``212-123-5432``) still point at a person.

    Accepted shapes: ``212-555-1234``, ``212.555.1234``, ``212 555 1234``, ``(212) 555-1234``,
    ``(212)555-1234``, ``+1 212 555 1234``, ``1-800-555-1234``, ``+1 (212) 555-1234``, and the same
    with full-width digits, brackets, hyphens or dots (checked after NFKC). The country code and an
    opening bracket are part of the match. The line number must be separated from the exchange by a
    space, dot or hyphen, and the area code from the exchange by one of these or a closing bracket;
    unseparated digit runs (``2125551234``, Chinese mobiles ``13812345678``) are never looked at.

    False-positive risks: NANP numbers carry no check digit, so any ``NXX-XXX-XXXX`` group of digits
    matches: part numbers, reference numbers and Chinese ``800`` hotlines (``800-820-8820``, which
    are also US toll-free codes). Digits may not touch the match, so longer digit runs, dates
    (``2026-10-01``), times (``10:06:33``), zip codes (``02115``) and Chinese numbers with a trunk or
    country-code digit glued to them (``0755 888 6666``) do not match; a longer hyphenated code
    that ends in ``-NXX-XXX-XXXX`` or continues with ``-12`` can still yield a match inside it.
    """

    ENTITY: ClassVar[str] = "PHONE_NUMBER"

    STARTS: ClassVar[str | None] = f"{DIGIT}(（+＋"

    PATTERNS: ClassVar[tuple[Pattern, ...]] = (
        Pattern(
            "us_phone",
            rf"{NOT_AFTER_DIGIT}(?:{_COUNTRY}[{_SEP}])?{_AREA}[{_SEP}]{_REST}{NOT_BEFORE_DIGIT}",
            0.4,
        ),
        Pattern(
            "us_phone_bracketed",
            rf"{NOT_AFTER_DIGIT}(?:{_COUNTRY}[{_SEP}]?)?{_OPEN}{_AREA}{_CLOSE}[{_SEP}]?{_REST}{NOT_BEFORE_DIGIT}",
            0.5,
        ),
    )

    CONTEXT: ClassVar[tuple[str, ...]] = (
        "phone",
        "call",
        "tel",
        "telephone",
        "cell",
        "mobile",
        "fax",
        "contact",
        "电话",
    )

    UNASSIGNED_AREA_CODES: ClassVar[frozenset[str]] = frozenset({"400"})

    def is_valid(self, normalised: str) -> bool:
        digits = _NON_DIGIT.sub("", normalised)
        if len(digits) == 11 and digits.startswith("1"):
            digits = digits[1:]
        if len(digits) != 10 or not digits.isascii():
            return False
        area = digits[:3]
        return area[0] in "23456789" and area[1:] != "11" and area not in self.UNASSIGNED_AREA_CODES

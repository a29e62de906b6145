"""Recognizer for US Social Security numbers written in groups (US_SSN)."""

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

_NON_DIGIT = re.compile(r"[^0-9]")


class UsSsnRecognizer(NormalisedPatternRecognizer):
    """US Social Security numbers (SSA, 20 CFR 422.103): ``AAA-GG-SSSS``, area, group and serial.

    Accepted shapes: groups of three, two and four digits separated by hyphens or spaces
    (``987-65-4320``, ``987 65 4320``, mixed), in ASCII or full-width characters (checked after
    NFKC). Nine digits written without separators are not looked for: too many other numbers have
    nine digits.

    :meth:`is_valid` rejects what the SSA never issues: area ``000`` or ``666``, group ``00``, serial
    ``0000``, and well-known placeholders (``PLACEHOLDERS``: ``123-45-6789``, the Woolworth wallet
    card ``078-05-1120``, the 1940 SSA leaflet's ``219-09-9999``). Areas ``900``-``999`` are accepted
    on purpose: the SSA issues none, but the IRS uses them for individual taxpayer identification
    numbers (ITINs), and ``987-65-4320``-``4329`` are reserved for advertisements; to a leak scanner
    an ITIN is as personal as an SSN, and a number written as an SSN is worth a look either way.
    Since randomisation (2011) the area no longer encodes a state, so no other area is rejected.

    False-positive risks: SSNs carry no check digit, so any other ``3-2-4`` digit group matches,
    such as part or case numbers. Digits may not touch the match on either side, so dates
    (``2026-10-01``), phone numbers (``212-555-1234``) and longer hyphenated codes whose groups have
    other lengths do not match.
    """

    ENTITY: ClassVar[str] = "US_SSN"

    STARTS: ClassVar[str | None] = DIGIT

    PATTERNS: ClassVar[tuple[Pattern, ...]] = (
        Pattern(
            "us_ssn",
            rf"{NOT_AFTER_DIGIT}[{DIGIT}]{{3}}[{SEPARATOR}][{DIGIT}]{{2}}[{SEPARATOR}][{DIGIT}]{{4}}"
            rf"{NOT_BEFORE_DIGIT}",
            0.5,
        ),
    )

    CONTEXT: ClassVar[tuple[str, ...]] = (
        "ssn",
        "social security",
        "social",
        "security",
        "ssa",
        "itin",
        "taxpayer",
    )

    PLACEHOLDERS: ClassVar[frozenset[str]] = frozenset({"123456789", "078051120", "219099999"})

    def is_valid(self, normalised: str) -> bool:
        digits = _NON_DIGIT.sub("", normalised)
        if len(digits) != 9 or not digits.isascii():
            return False
        area, group, serial = digits[:3], digits[3:5], digits[5:]
        return (
            area not in ("000", "666")
            and group != "00"
            and serial != "0000"
            and digits not in self.PLACEHOLDERS
        )

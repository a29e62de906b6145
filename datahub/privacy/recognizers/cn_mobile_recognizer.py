"""Recognizer for mainland China mobile numbers (CN_MOBILE)."""

from __future__ import annotations

from typing import ClassVar

from presidio_analyzer import Pattern

from datahub.privacy.recognizers.base import (
    DIGIT,
    NOT_AFTER_DIGIT,
    NOT_BEFORE_DIGIT,
    SEPARATOR,
    NormalisedPatternRecognizer,
)


class CnMobileRecognizer(NormalisedPatternRecognizer):
    """Mainland China mobile numbers: 11 digits, ``1[3-9]X`` + 8 digits, on the MIIT number plan.

    Accepted shapes: ``13812345678``, ``138 1234 5678``, ``138-1234-5678``, an ``86`` country code
    before any of them (``+86 138…``; the ``+`` stays outside the match so that the match never
    depends on the character before it), and full-width digits and hyphens.

    :meth:`is_valid` strips separators and the country code and checks the first three digits
    against the segments the Ministry of Industry and Information Technology has assigned to
    11-digit mobile service (``NUMBER_PLAN_PREFIXES``).

    False-positive risks: mobile numbers carry no check digit, so any 11-digit run that starts with
    an assigned segment matches, including a serial number that happens to look like one. What must
    not match, and does not: longer digit runs such as work-order numbers (``GD20261001000123``),
    because digits may not touch the match on either side; hotlines (``12345``, ``110``) and dates
    (``20261001``), which are too short; landlines (``010-12345678``) and 11-digit runs with an
    unassigned segment (``12…``, ``154…``), which fail the number plan.
    """

    ENTITY: ClassVar[str] = "CN_MOBILE"

    STARTS: ClassVar[str | None] = DIGIT

    PATTERNS: ClassVar[tuple[Pattern, ...]] = (
        Pattern(
            "cn_mobile",
            rf"{NOT_AFTER_DIGIT}(?:[8８][6６][{SEPARATOR}]?)?[1１][3-9３-９][{DIGIT}]"
            rf"(?:[{SEPARATOR}]?[{DIGIT}]{{4}}){{2}}{NOT_BEFORE_DIGIT}",
            0.5,
        ),
    )

    CONTEXT: ClassVar[tuple[str, ...]] = (
        "手机",
        "手机号",
        "电话",
        "联系电话",
        "联系方式",
        "来电",
        "号码",
        "mobile",
        "phone",
        "tel",
    )

    NUMBER_PLAN_PREFIXES: ClassVar[frozenset[str]] = frozenset(
        # 130-139: China Unicom 130-132, China Telecom 133, China Mobile 134-139 (1349 maritime satellite)
        [f"13{d}" for d in range(10)]
        # 145-149: data-card segments (140-144 are 13-digit IoT numbers, not 11-digit mobiles)
        + ["145", "146", "147", "148", "149"]
        # 150-159 except the unassigned 154
        + ["150", "151", "152", "153", "155", "156", "157", "158", "159"]
        # 162, 165, 167: mobile virtual network operators; 166: China Unicom
        + ["162", "165", "166", "167"]
        # 170-178: virtual operators 170/171, 174 satellite, the rest the three carriers
        + [f"17{d}" for d in range(9)]
        # 180-189
        + [f"18{d}" for d in range(10)]
        # 190-199 except the unassigned 194; 192 is China Broadnet
        + ["190", "191", "192", "193", "195", "196", "197", "198", "199"]
    )

    def is_valid(self, normalised: str) -> bool:
        digits = normalised.replace(" ", "").replace("-", "")
        if len(digits) == 13 and digits.startswith("86"):
            digits = digits[2:]
        return (
            len(digits) == 11
            and digits.isascii()
            and digits.isdigit()
            and digits[:3] in self.NUMBER_PLAN_PREFIXES
        )

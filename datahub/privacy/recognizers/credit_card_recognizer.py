"""Recognizer for 13- to 15-digit payment cards: American Express, Diners Club, old Visa (CREDIT_CARD)."""

from __future__ import annotations

from typing import ClassVar

from presidio_analyzer import Pattern
from stdnum import luhn

from datahub.privacy.recognizers.base import DIGIT, SEPARATOR, NormalisedPatternRecognizer
from datahub.privacy.recognizers.cn_resident_id_recognizer import CnResidentIdRecognizer

_ALNUM = f"{DIGIT}A-Za-zＡ-Ｚａ-ｚ"
_NOT_AFTER_ALNUM = f"(?<![{_ALNUM}])"
_NOT_BEFORE_ALNUM = f"(?![{_ALNUM}])"

_RESIDENT_ID = CnResidentIdRecognizer()
_DINERS_PREFIXES = ("36", "38", "300", "301", "302", "303", "304", "305")


class CreditCardRecognizer(NormalisedPatternRecognizer):
    """Payment card numbers of 13 to 15 digits, ISO/IEC 7812-1, ending in a Luhn check digit.

    Which card networks issue these lengths, by issuer identification number (IIN) prefix:
    American Express, 15 digits starting ``34`` or ``37``; Diners Club International, 14 digits
    starting ``36``, ``38`` or ``300``-``305``; Visa, 13 digits starting ``4`` (issued until the
    2000s and still used as test numbers). The last digit is the Luhn (ISO/IEC 7812-1 Annex B,
    mod 10) check digit, checked with ``stdnum.luhn``. Cards of 16 to 19 digits (UnionPay, Visa,
    Mastercard, JCB) are CN_BANK_CARD (:mod:`.cn_bank_card_recognizer`); the two never overlap.

    Accepted shapes: the digits unseparated (``378734493671000``), grouped as embossed, 4-6-5 for
    American Express (``3787 344936 71000``) and 4-6-4 for Diners Club (``3056 930902 5904``), or
    4-3-3-3 for 13-digit Visa (``4222 222 222 222``), with spaces or hyphens; full-width digits and
    hyphens (checked after NFKC).

    Rejected although Luhn-valid: numbers whose length and prefix fit none of the networks above,
    one digit repeated, and 15-digit numbers that are valid pre-1999 PRC resident ids (region codes
    ``34`` Anhui and ``37`` Shandong start like American Express cards; the resident-id
    recognizer's check decides), so that one span gets one entity.

    False-positive risks: one random digit run in ten passes Luhn, so any 13-digit number starting
    with ``4``, 14-digit number starting with ``30``/``36``/``38`` or 15-digit number starting with
    ``34``/``37`` may match: order, waybill (some 13-digit courier numbers) and account numbers.
    Letters or digits may not touch the match on either side, so longer digit runs and digit runs
    glued to letters (work orders ``GD2026100100012345``) never match.
    """

    ENTITY: ClassVar[str] = "CREDIT_CARD"

    STARTS: ClassVar[str | None] = DIGIT

    PATTERNS: ClassVar[tuple[Pattern, ...]] = (
        Pattern("credit_card", rf"{_NOT_AFTER_ALNUM}[{DIGIT}]{{13,15}}{_NOT_BEFORE_ALNUM}", 0.3),
        Pattern(
            "credit_card_4_6_5",
            rf"{_NOT_AFTER_ALNUM}[{DIGIT}]{{4}}[{SEPARATOR}][{DIGIT}]{{6}}[{SEPARATOR}][{DIGIT}]{{4,5}}"
            rf"{_NOT_BEFORE_ALNUM}",
            0.4,
        ),
        Pattern(
            "credit_card_4_3_3_3",
            rf"{_NOT_AFTER_ALNUM}[{DIGIT}]{{4}}(?:[{SEPARATOR}][{DIGIT}]{{3}}){{3}}{_NOT_BEFORE_ALNUM}",
            0.4,
        ),
    )

    CONTEXT: ClassVar[tuple[str, ...]] = (
        "credit card",
        "card",
        "amex",
        "american express",
        "diners",
        "visa",
        "paid",
        "信用卡",
        "卡号",
    )

    def is_valid(self, normalised: str) -> bool:
        digits = normalised.replace(" ", "").replace("-", "")
        if not (13 <= len(digits) <= 15 and digits.isascii() and digits.isdigit()):
            return False
        if len(digits) == 15:
            network = digits.startswith(("34", "37"))
        elif len(digits) == 14:
            network = digits.startswith(_DINERS_PREFIXES)
        else:
            network = digits.startswith("4")
        if not network or len(set(digits)) == 1 or not luhn.is_valid(digits):
            return False
        return len(digits) != 15 or not _RESIDENT_ID.is_valid(digits)

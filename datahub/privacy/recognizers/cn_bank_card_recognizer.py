"""Recognizer for payment card numbers, China UnionPay and international (CN_BANK_CARD)."""

from __future__ import annotations

from typing import ClassVar

from presidio_analyzer import Pattern
from stdnum import luhn
from stdnum.cn import uscc

from datahub.privacy.recognizers.base import DIGIT, SEPARATOR, NormalisedPatternRecognizer
from datahub.privacy.recognizers.cn_uscc_recognizer import is_resident_id

_ALNUM = f"{DIGIT}A-Za-zＡ-Ｚａ-ｚ"
_NOT_AFTER_ALNUM = f"(?<![{_ALNUM}])"
_NOT_BEFORE_ALNUM = f"(?![{_ALNUM}])"


class CnBankCardRecognizer(NormalisedPatternRecognizer):
    """Payment card numbers (bank cards), ISO/IEC 7812-1: 16 to 19 digits ending in a Luhn check digit.

    The first six to eight digits are the issuer identification number; China UnionPay cards (银联卡,
    debit and credit cards of the mainland banks) start with ``62`` and have 16 to 19 digits, most
    debit cards 19; Visa (``4``), Mastercard (``51-55``, ``2221-2720``) and JCB (``35``) cards issued
    in China have 16. The last digit is the Luhn (ISO/IEC 7812-1 Annex B, mod 10) check digit,
    checked with ``stdnum.luhn``. 15-digit American Express numbers are not looked for.

    Accepted shapes: the digits unseparated (``6222021234567890123``) or in groups of four with
    spaces or hyphens (``6222 0212 3456 7890 123``, the last group one to three digits long);
    full-width digits and hyphens (checked after NFKC).

    Rejected although Luhn-valid: numbers starting with ``0`` (major industry identifier 0 is no
    card issuer), one digit repeated (``0000 0000 0000 0000`` placeholders), and 18-digit numbers
    that are valid resident ids (``stdnum.cn.ric.is_valid`` or the resident-id recognizer's wider
    rule) or valid all-digit unified social credit codes: those are left to their own recognizers,
    so that one span gets one entity.

    False-positive risks: one random digit run in ten passes Luhn, so order, waybill and account
    numbers of 16 to 19 digits often match. Letters or digits may not touch the match on either
    side, so digit runs glued to letters (work orders ``GD2026100100012345``, waybills ``SF…``) and
    longer runs never match. A
    longer number written in groups of four (``… 0000 1234 5678``) can yield a match on its first
    four or five groups.
    """

    ENTITY: ClassVar[str] = "CN_BANK_CARD"

    STARTS: ClassVar[str | None] = DIGIT

    PATTERNS: ClassVar[tuple[Pattern, ...]] = (
        Pattern("cn_bank_card", rf"{_NOT_AFTER_ALNUM}[{DIGIT}]{{16,19}}{_NOT_BEFORE_ALNUM}", 0.3),
        Pattern(
            "cn_bank_card_grouped",
            rf"{_NOT_AFTER_ALNUM}[{DIGIT}]{{4}}(?:[{SEPARATOR}][{DIGIT}]{{4}}){{3}}"
            rf"(?:[{SEPARATOR}][{DIGIT}]{{1,3}})?{_NOT_BEFORE_ALNUM}",
            0.4,
        ),
    )

    CONTEXT: ClassVar[tuple[str, ...]] = (
        "银行卡",
        "银行卡号",
        "卡号",
        "账号",
        "银行账号",
        "信用卡",
        "借记卡",
        "开户行",
        "card",
    )

    def is_valid(self, normalised: str) -> bool:
        digits = normalised.replace(" ", "").replace("-", "")
        if not (16 <= len(digits) <= 19 and digits.isascii() and digits.isdigit()):
            return False
        if digits[0] == "0" or len(set(digits)) == 1 or not luhn.is_valid(digits):
            return False
        return len(digits) != 18 or not (is_resident_id(digits) or uscc.is_valid(digits))

"""Recognizer for unified social credit codes of organisations (CN_USCC)."""

from __future__ import annotations

import functools
from typing import ClassVar

from presidio_analyzer import Pattern
from stdnum.cn import ric, uscc

from datahub.privacy.recognizers.base import DIGIT, SEPARATOR, NormalisedPatternRecognizer
from datahub.privacy.recognizers.cn_resident_id_recognizer import CnResidentIdRecognizer

_ALNUM = f"{DIGIT}A-Za-zＡ-Ｚａ-ｚ"
_NOT_AFTER_ALNUM = f"(?<![{_ALNUM}])"
_NOT_BEFORE_ALNUM = f"(?![{_ALNUM}])"

# GB 32100's character set: digits and the capital letters except I, O, Z, S and V (the pattern runs
# case-insensitively, so lowercase letters match too and are upper-cased before the check).
_CODE_CHAR = f"{DIGIT}A-HJ-NPQRTUWXYＡ-ＨＪ-ＮＰＱＲＴＵＷＸＹ"
_AUTHORITY = f"{DIGIT}ANYＡＮＹ"
_CHARSET = frozenset("0123456789ABCDEFGHJKLMNPQRTUWXY")


@functools.cache
def _resident_id_recognizer() -> CnResidentIdRecognizer:
    return CnResidentIdRecognizer()


def is_resident_id(number: str) -> bool:
    """Whether an 18-character ASCII ``number`` is a valid PRC resident id.

    Valid for ``stdnum.cn.ric`` or for :class:`CnResidentIdRecognizer`, whose rule is the wider one
    (it does not require the county to have existed in the birth year; python-stdnum 2.2 raises
    ``KeyError`` for ``620201…``, whose prefecture has no county entries). The USCC and bank-card
    recognizers leave such numbers to the resident-id recognizer, so one span gets one entity.
    """
    return _resident_id_recognizer().is_valid(number) or _stdnum_ric_is_valid(number)


def _stdnum_ric_is_valid(number: str) -> bool:
    """``stdnum.cn.ric.is_valid``, which raises ``KeyError`` for a prefecture without county entries."""
    try:
        return ric.is_valid(number)
    except KeyError:
        return False


class CnUsccRecognizer(NormalisedPatternRecognizer):
    """Unified social credit codes (统一社会信用代码) of organisations, GB 32100-2015.

    18 characters over ``0-9A-HJ-NPQRTUWXY`` (no I, O, Z, S, V): a registration-authority code
    (``9`` market regulation, ``5`` civil affairs, ``1`` public-sector staffing, ...), an
    organisation-type digit, a six-digit GB/T 2260 region code, the nine-character organisation code
    (GB 11714) and a check character, ``31 - (sum of value × weight) mod 31`` over the first 17
    characters with the weights ``3^i mod 31``. Validated with ``stdnum.cn.uscc.is_valid``.

    ``stdnum`` wants the first eight characters to be digits, but GB 32100's table of registration
    authorities also has letters: ``A`` (Central Military Commission's staffing office), ``N``
    (agriculture and rural affairs: rural collective economic organisations) and ``Y`` (other). Codes
    starting with one of those letters are accepted when the other seven of the first eight characters
    are digits and ``stdnum.cn.uscc.calc_check_digit`` gives their check character.

    Accepted shapes: ``91110000600037341L``; groups ``91 110000 600037341L`` (authority and type,
    region, organisation code and check character, separated by a space or hyphen); lowercase
    letters and full-width characters (NFKC and ``upper()`` before the check).

    Not found: real codes from the early pilot regions (some Xiamen codes ``91350211M0000XUF46``)
    that were issued before GB 32100 and fail its check; without the check any 18-character run of
    letters and digits would match.

    False-positive risks: one random 18-character run in 31 has a matching check character, so an
    alphanumeric serial of this length whose first eight characters are digits can match. All-digit
    runs that are valid resident ids (about one in 31 of them also passes this check) are left to
    the resident-id recognizer. Letters or digits may not touch the match on either side, so longer
    codes (``GD2026100100012345…``) never match.
    """

    ENTITY: ClassVar[str] = "CN_USCC"

    PATTERNS: ClassVar[tuple[Pattern, ...]] = (
        Pattern(
            "cn_uscc",
            rf"{_NOT_AFTER_ALNUM}[{_AUTHORITY}][{DIGIT}][{SEPARATOR}]?[{DIGIT}]{{6}}[{SEPARATOR}]?"
            rf"[{_CODE_CHAR}]{{10}}{_NOT_BEFORE_ALNUM}",
            0.5,
        ),
    )

    CONTEXT: ClassVar[tuple[str, ...]] = (
        "统一社会信用代码",
        "社会信用代码",
        "信用代码",
        "纳税人识别号",
        "税号",
        "营业执照",
        "uscc",
    )

    AUTHORITY_LETTERS: ClassVar[frozenset[str]] = frozenset("ANY")

    def is_valid(self, normalised: str) -> bool:
        code = normalised.upper().replace(" ", "").replace("-", "")
        if len(code) != 18 or not code.isascii() or is_resident_id(code):
            return False
        if uscc.is_valid(code):
            return True
        return (
            code[0] in self.AUTHORITY_LETTERS
            and code[1:8].isdigit()
            and all(c in _CHARSET for c in code[8:])
            and code[17] == uscc.calc_check_digit(code)
        )

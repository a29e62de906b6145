"""Recognizer for mainland China motor-vehicle number plates (CN_LICENSE_PLATE)."""

from __future__ import annotations

from typing import ClassVar

from presidio_analyzer import Pattern

from datahub.privacy.recognizers.base import DIGIT, NormalisedPatternRecognizer
from datahub.privacy.recognizers.lexicon import fold

PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
"""The 31 province-level abbreviations that start a GA 36 plate."""

TRADITIONAL_PROVINCES = "滬雲遼魯蘇贛晉陝閩貴粵寧瓊"
"""Their traditional forms (滬 for 沪…), as texts typed in traditional characters write them."""

SUFFIXES = "警学挂港澳"
"""Last characters of the special plates recognised: police, driving school, trailer, Hong Kong, Macao."""

_ALNUM = f"{DIGIT}A-Za-zＡ-Ｚａ-ｚ"
_NOT_AFTER_ALNUM = f"(?<![{_ALNUM}])"
_NOT_BEFORE_ALNUM = f"(?![{_ALNUM}])"
# Letters of plates: A-Z without I and O (the pattern runs case-insensitively).
_LETTER = "A-HJ-NP-ZＡ-ＨＪ-ＮＰ-Ｚ"
_SERIAL = f"{DIGIT}{_LETTER}"
# What people write between the authority letter and the serial number: middle dots, a space, a hyphen.
_DOT = "·•・･ \\-－"
_HEAD = f"{_NOT_AFTER_ALNUM}[{PROVINCES}{TRADITIONAL_PROVINCES}][{_LETTER}][{_DOT}]?"

_ASCII_LETTERS = frozenset("ABCDEFGHJKLMNPQRSTUVWXYZ")
_SERIAL_CHARS = _ASCII_LETTERS | frozenset("0123456789")


class CnLicensePlateRecognizer(NormalisedPatternRecognizer):
    """Mainland China motor-vehicle plates, GA 36-2018 (机动车号牌), with new-energy plates.

    A plate starts with the province abbreviation (``PROVINCES``) and the issuing-authority letter
    (A-Z except I and O; which letters each province uses is not checked), optionally followed by a
    middle dot (``·``, ``•``, ``・``), a space or a hyphen, then the serial number, in which letters
    never include I or O:

    * ordinary plates (blue and yellow): five letters or digits with at most two letters
      (``京A·12345``, ``沪B·AB123``, ``粤B·1A23B``), the formats sequential issue and the
      self-selection rules use;
    * small new-energy plates (green): six characters, the first a letter from ``A-H``, ``J``, ``K``
      (D and F from 2016, ``D``/``A``/``B``/``C``/``E`` for battery-electric and
      ``F``/``G``/``H``/``J``/``K`` for other new-energy cars since the series were widened), then a
      letter or digit, then four digits (``粤B·D12345``, ``京A·FB1234``);
    * large new-energy plates: five digits followed by ``D`` or ``F`` (``粤B·12345D``);
    * special plates ending in a character of ``SUFFIXES``: four letters or digits (at most two
      letters) and ``警`` (police), ``学`` (driving school), ``挂`` (trailer), or ``港``/``澳`` on
      ``粤Z`` cross-boundary plates (``粤Z·A123港``).

    Not looked for: military and armed-police plates (their own standards), embassy and consulate
    plates (``使``/``领``) and temporary plates.

    Lowercase letters and full-width letters and digits are accepted (checked after NFKC and
    ``upper()``).

    Look-arounds: no ASCII or full-width letter or digit may touch the plate on either side, so a
    plate is never cut out of a longer code and an ordinary plate is never the first seven characters
    of a new-energy plate. The character before the plate is typically Chinese (``车牌粤B12345``),
    and it must stay allowed, so ``进京粤B12345`` finds ``粤B12345``; letters and digits are the
    only characters the look-arounds inspect.

    False-positive risks: any province character followed by an allowed letter and five letters or
    digits matches, such as a product model glued to a place name (``川A12345型``). ICP licence
    numbers (``粤ICP备…``) do not match, I being no authority letter.
    """

    ENTITY: ClassVar[str] = "CN_LICENSE_PLATE"

    PATTERNS: ClassVar[tuple[Pattern, ...]] = (
        Pattern("cn_plate", rf"{_HEAD}[{_SERIAL}]{{5}}{_NOT_BEFORE_ALNUM}", 0.5),
        Pattern(
            "cn_plate_new_energy",
            rf"{_HEAD}(?:[A-HJKＡ-ＨＪＫ][{_SERIAL}][{DIGIT}]{{4}}|[{DIGIT}]{{5}}[DFＤＦ]){_NOT_BEFORE_ALNUM}",
            0.5,
        ),
        Pattern("cn_plate_special", rf"{_HEAD}[{_SERIAL}]{{4}}[{SUFFIXES}]{_NOT_BEFORE_ALNUM}", 0.5),
    )

    CONTEXT: ClassVar[tuple[str, ...]] = (
        "车牌",
        "车牌号",
        "车牌号码",
        "号牌",
        "号牌号码",
        "车辆",
        "机动车",
        "plate",
    )

    MAX_SERIAL_LETTERS: ClassVar[int] = 2
    NEW_ENERGY_SMALL_FIRST: ClassVar[frozenset[str]] = frozenset("ABCDEFGHJK")
    NEW_ENERGY_LARGE_LAST: ClassVar[frozenset[str]] = frozenset("DF")

    def is_valid(self, normalised: str) -> bool:
        plate = "".join(c for c in fold(normalised).upper() if c not in _DOT)
        if len(plate) < 7 or plate[0] not in PROVINCES or plate[1] not in _ASCII_LETTERS:
            return False
        serial = plate[2:]
        if serial[-1] in SUFFIXES:
            if serial[-1] in "港澳" and plate[:2] != "粤Z":
                return False
            return len(serial) == 5 and self._is_ordinary_serial(serial[:-1])
        if len(serial) == 5:
            return self._is_ordinary_serial(serial)
        if len(serial) == 6:
            small = (
                serial[0] in self.NEW_ENERGY_SMALL_FIRST
                and serial[1] in _SERIAL_CHARS
                and serial[2:].isdigit()
            )
            large = serial[:5].isdigit() and serial[5] in self.NEW_ENERGY_LARGE_LAST
            return serial.isascii() and (small or large)
        return False

    def _is_ordinary_serial(self, serial: str) -> bool:
        return all(c in _SERIAL_CHARS for c in serial) and (
            sum(c in _ASCII_LETTERS for c in serial) <= self.MAX_SERIAL_LETTERS
        )

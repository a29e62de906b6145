"""Street-level Chinese addresses anchored on their numbers (CN_ADDRESS): rules the model-based one keeps."""

from __future__ import annotations

import functools
import re
from typing import ClassVar

from datahub.privacy.recognizers.base import HAN, Span, TextRecognizer
from datahub.privacy.recognizers.lexicon import (
    ADDRESS_PARTS,
    ADMIN_UNITS,
    DIRECTIONS,
    PLACE_UNITS,
    STOP,
    any_form,
    fold,
    place_words,
)

_HAN_RUN = re.compile(f"[{HAN}]+$")
_NUMBER = "[0-9]+(?:-[0-9]+)*"
_PHASE = re.compile("(?:[一二三四五六七八九十0-9]{1,2}期|[东西南北中]区)$")
_ROADS = frozenset(("大道", "大街", "路", "街"))
_PLACES = frozenset(PLACE_UNITS)
_PLACES_AND_AREAS = frozenset(PLACE_UNITS + ADMIN_UNITS)
_UNIT_LENGTHS = sorted({len(u) for u in _PLACES_AND_AREAS}, reverse=True)
_MAX_NAME = 5  # characters of a place name before its unit (中山北 of 中山北路, 阳光 of 阳光花园)


def _joins(gap: str) -> bool:
    """Whether the text between two numbered parts is a place name (all Han, no stop character)."""
    return bool(_HAN_RUN.fullmatch(gap)) and STOP.isdisjoint(gap)


@functools.lru_cache(maxsize=65536)  # place names repeat: 建国路 is looked up once
def _name_length(before: str, unit: str) -> int | None:
    """How many characters at the end of ``before`` name the place whose unit follows: the longest
    two-to-five-character ending that the dictionary knows as a place word (alone or with its unit),
    else two characters unless they hold punctuation or a function word; a direction before a road
    unit belongs to the name (兰州北路, 重庆东大道). ``before`` is the six characters before the unit."""
    end = len(before)
    if before[-1:] in DIRECTIONS and unit in _ROADS:
        length = _name_length(before[:-1], unit)
        return None if length is None else length + 1
    words = place_words()
    han = _HAN_RUN.search(before, max(end - _MAX_NAME, 0))  # the Han characters ending the text
    best = None
    for start in range(end - 2, han.start() - 1 if han else end, -1):
        if before[start:] in words or before[start:] + unit in words:
            best = start
    if best is None and han and han.start() <= end - 2 and STOP.isdisjoint(before[-2:]):
        best = end - 2
    return None if best is None else end - best


class CnNumberedAddressRecognizer(TextRecognizer):
    """Street-level addresses: a road, lane or compound with a house number, building, unit or room.

    Standards: GB/T 23705 (data element for Chinese addresses: administrative area, street or road,
    house number, building, unit, room) and GB/T 37964, which counts a precise address as a
    quasi-identifier. Shape found: an optional run of administrative areas (``北京市朝阳区``,
    ``上海市浦东新区花木街道``), a place name ending in a road or compound word (``建国路``,
    ``中山北路``, ``阳光花园小区``, ``李家村``: :data:`~lexicon.PLACE_UNITS`), then at least one
    number with its part (``88号``, ``3号楼``, ``2单元``, ``502室``, ``3组``, ``A座``) and optionally a
    bare room number (``5栋1201``).

    The address is anchored on its numbers; where a name starts is decided backwards from its unit:
    the longest two-to-five-character ending that jieba's dictionary knows as a noun or place name
    (``人民`` in ``市民反映人民路8号``, never the verb ``反映``), else two characters, and never
    across punctuation or words like 住, 在, 位于. A district or city alone, or a road without a
    number, is not an address and is not reported (it locates no one).

    False-positive risks: anything shaped like a place word followed by a numbered part, such as
    ``地铁站3号口``; names of two characters that are not in the dictionary may lose or gain a
    character at their start.
    """

    ENTITY: ClassVar[str] = "CN_ADDRESS"
    CONTEXT: ClassVar[tuple[str, ...]] = ("地址", "住址", "家住", "住在", "位于", "事发地", "地点")
    SCORE: ClassVar[float] = 0.8

    @functools.cached_property
    def _numbers(self) -> re.Pattern[str]:
        parts = "|".join(sorted(ADDRESS_PARTS, key=len, reverse=True))
        part = f"(?:{_NUMBER}|[A-Za-z])(?:{parts})"
        # The look-ahead first lets the engine skip to the next digit or letter at once.
        return re.compile(f"(?=[0-9A-Za-z])(?<![0-9A-Za-z])(?:{part})+(?:{_NUMBER}(?![0-9]))?")

    @property
    def prefilter(self) -> str:
        firsts = dict.fromkeys(part[0] for part in ADDRESS_PARTS)
        return "[0-9０-９A-Za-zＡ-Ｚａ-ｚ](?:" + "|".join(any_form(c) for c in firsts) + ")"

    @staticmethod
    def _unit_before(text: str, end: int, units: frozenset[str]) -> str | None:
        """The longest of ``units`` ending at ``end``."""
        for length in _UNIT_LENGTHS:
            if length <= end and (unit := text[end - length : end]) in units:
                return unit
        return None

    @classmethod
    def _name_start(cls, text: str, end: int, unit: str) -> int | None:
        """Where the name of the place whose unit starts at ``end`` starts, or None.

        A name that is a unit itself (花园 of 阳光花园小区) has a name of its own before it."""
        start = cls._word_start(text, end, unit)
        while start is not None and text[start:end] in _PLACES:
            before = cls._word_start(text, start, text[start:end])
            if before is None:
                break
            start, end = before, start
        return start

    @staticmethod
    def _word_start(text: str, end: int, unit: str) -> int | None:
        length = _name_length(text[max(end - _MAX_NAME - 1, 0) : end], unit)
        return None if length is None else end - length

    def _start(self, text: str, numbers: int) -> int | None:
        if phase := _PHASE.search(text, max(numbers - 3, 0), numbers):  # 丽景雅苑二期13号, 嘉园东区22栋
            numbers = phase.start()
        unit = self._unit_before(text, numbers, _PLACES)
        if unit is None:
            return None
        start = self._name_start(text, numbers - len(unit), unit)
        if start is None:
            return None
        for _ in range(6):  # areas and compounds before: 北京市朝阳区, 阳光花园小区
            unit = self._unit_before(text, start, _PLACES_AND_AREAS)
            if unit is None:
                break
            before = self._name_start(text, start - len(unit), unit)
            if before is None:
                break
            start = before
        return start

    def find(self, text: str) -> list[Span]:
        folded = fold(text)
        spans: list[Span] = []
        for numbers in self._numbers.finditer(folded):
            start = self._start(folded, numbers.start())
            if start is None:
                continue
            gap = folded[spans[-1].end : start] if spans else None
            if gap is not None and (not gap or (len(gap) <= _MAX_NAME and _joins(gap))):
                start = spans.pop().start  # 文三路478号华星时代广场A座: one address
            spans.append(Span(start, numbers.end(), self.SCORE))
        return spans

"""Recognizer for street-level Chinese addresses (CN_ADDRESS): numbered addresses, and the places a model
reads in the text down to a road, village or compound."""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from typing import ClassVar

from datahub.privacy.lexical import PERSON_BIAS, Word, lexical_model
from datahub.privacy.recognizers.base import Span, TextRecognizer
from datahub.privacy.recognizers.cn_numbered_address_recognizer import CnNumberedAddressRecognizer
from datahub.privacy.recognizers.lexicon import ADDRESS_PARTS, ADMIN_UNITS, PLACE_UNITS, any_form, fold

STREET_UNITS: tuple[str, ...] = tuple(sorted(PLACE_UNITS, key=len, reverse=True))
"""Words that end a place below a district: roads, lanes, villages, compounds (longest first)."""

VILLAGES = ("村", "屯")
"""Units whose place may have a one-character name (宏村, 顾村); a road's may not (封路 is a verb)."""

_NUMBERED = re.compile("[0-9一二三四五六七八九十百]+(?:" + "|".join(ADDRESS_PARTS) + ")$")
_JOINING = frozenset({"n", "s", "nz", "f"})
"""Word classes that continue a place the model named (余家头/LOC 小区/n, 泗水/LOC 街/n)."""


class CnAddressRecognizer(TextRecognizer):
    """Street-level addresses: what :class:`CnNumberedAddressRecognizer` finds (a road or compound with
    a house number, building, unit or room), joined with the places the model (:mod:`datahub.privacy.lexical`)
    tags ``LOC`` that reach below a district.

    Standards: GB/T 23705 (address data element: area, road, house number, building, unit, room) and
    GB/T 37964 (a precise address is a quasi-identifier). A run of the model's place words, with the
    nouns and numbered parts that continue it (``余家头`` ``小区`` ``3栋``; ``湖南省`` ``邵阳县``
    ``黄亭市镇`` ``李家村`` ``3组``), is an address when a word of it ends in a road, village,
    compound or landmark unit (:data:`STREET_UNITS`) or it holds a numbered part: rural addresses
    (…村…组, 社区), roads and landmarks without a house number. A run of administrative areas alone
    (``北京市海淀区``, ``邵阳县``) locates no one and is not reported. Where the model and the rules
    overlap, the address is their union, so neither loses a first character the other has
    (``桃花塅路58号``).

    False-positive risks: famous landmarks and streets named in news (``金融街``, ``中关村``) are
    reported too, as are place names the model reads into words ending like a road (``商业街``).
    """

    ENTITY: ClassVar[str] = "CN_ADDRESS"
    CONTEXT: ClassVar[tuple[str, ...]] = CnNumberedAddressRecognizer.CONTEXT
    SCORE: ClassVar[float] = 0.8

    @functools.cached_property
    def _numbered(self) -> CnNumberedAddressRecognizer:
        return CnNumberedAddressRecognizer()

    @property
    def prefilter(self) -> str:
        """A unit of a place below a district, or what the numbered rules screen for."""
        units = "|".join(any_form(unit) for unit in STREET_UNITS)
        return f"(?:{units})|{self._numbered.prefilter}"

    def find(self, text: str) -> list[Span]:
        return self.find_many([text])[0]

    def find_many(self, texts: Sequence[str]) -> list[list[Span]]:
        analysed = lexical_model().words(texts, PERSON_BIAS)  # the name recognizer's analysis
        return [self._addresses(text, words) for text, words in zip(texts, analysed, strict=True)]

    def _addresses(self, text: str, words: list[Word]) -> list[Span]:
        folded = fold(text)
        spans = [(s.start, s.end) for s in self._numbered.find(text)]
        spans += _places(folded, words)
        return [Span(start, end, self.SCORE) for start, end in _union(spans)]


def _places(text: str, words: list[Word]) -> list[tuple[int, int]]:
    """Runs of place words that reach below a district (see :class:`CnAddressRecognizer`)."""
    found = []
    i = 0
    while i < len(words):
        if words[i].tag != "LOC":
            i += 1
            continue
        j = i + 1
        while j < len(words) and _continues(text, words[j]):
            j += 1
        parts = [text[w.start : w.end] for w in words[i:j]]
        while len(parts) > 1 and not _street_level(parts[-1]) and words[j - 1].tag != "LOC":
            parts.pop()
            j -= 1
        if any(_street_level(part) for part in parts):
            found.append((words[i].start, words[j - 1].end))
        i = j
    return found


def _continues(text: str, word: Word) -> bool:
    part = text[word.start : word.end]
    if word.tag == "LOC":
        return True
    if word.tag == "m":
        return bool(_NUMBERED.search(part))
    return word.tag in _JOINING and part.endswith(STREET_UNITS)


def _street_level(part: str) -> bool:
    """Whether a place word reaches below a district: it holds a numbered part, or a road, village or
    compound unit after a name (南京东路和平饭店, 松坪村三期, 宏村; not 封路, a verb, nor 街道, an area)."""
    if _NUMBERED.search(part):
        return True
    if part.endswith(ADMIN_UNITS):
        return False
    for unit in STREET_UNITS:
        at = part.find(unit, 1)
        if at >= 2 or (at == 1 and unit in VILLAGES):
            return True
    return False


def _union(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Overlapping or touching spans as one."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged

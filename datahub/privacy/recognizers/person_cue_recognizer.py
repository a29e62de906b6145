"""Chinese person names found by their cues (PERSON): the rules that the model-based recognizer keeps."""

from __future__ import annotations

import functools
import itertools
import re
from typing import ClassVar

from datahub.privacy.recognizers.base import HAN, Span, TextRecognizer
from datahub.privacy.recognizers.lexicon import (
    ADMIN_UNITS,
    COMPOUND_SURNAMES,
    CUE_JOINERS,
    FOLLOWERS,
    HONORIFICS,
    NAME_ENDS,
    PERSON_CUES,
    PLACE_UNITS,
    SURNAMES,
    WEAK_CUES,
    any_form,
    common_words,
    fold,
    given_name_characters,
    known_words,
)

PLACE_ENDS = (*PLACE_UNITS, *ADMIN_UNITS, "附近", "一带", "沿线", "周边", "门口")
_BEFORE_NAME = frozenset("和与及跟同向对给让叫找请被把将由据为是的在有")
_PUNCTUATION = "，。；：,;:！!？?"


def _alternatives(words: tuple[str, ...]) -> str:
    """The words as one regex, longest first."""
    return f"(?:{'|'.join(sorted(words, key=len, reverse=True))})"


class PersonCueRecognizer(TextRecognizer):
    """Chinese person names: a surname and one or two given-name characters, found by their cues.

    Standards: GB/T 35273 and GB/T 37964 count a name as a direct identifier; names follow the
    surname-then-given-name order of GB/T 28039 (romanisation aside). A name is reported when

    - a cue comes first (``市民张伟``, ``联系人：赵敏``, ``来电人为李强``: :data:`~lexicon.PERSON_CUES`,
      optionally joined by ``：``, ``为``, ``是``, ``叫``), or
    - an honorific follows (``王建国先生``, ``欧阳娜娜女士``: :data:`~lexicon.HONORIFICS`), or
    - with a lower score, a weak cue comes first or a sentence starts (``与王强发生纠纷``, ``对李楠的
      处理``, ``，桂军长期…``: :data:`~lexicon.WEAK_CUES`) and the name also ends where a frequent
      word starts or at punctuation, 的 or 家, and is no word of jieba's dictionary.

    The surname is one of the common single surnames or a compound surname (:mod:`.lexicon`); each
    given-name character must be one that follows a common surname in at least two names of jieba's
    dictionary, and a given name stops before the words that follow names in complaints (``反映``,
    ``来电``, ``称``, ``先生``…), so ``市民张伟反映`` gives ``张伟``. A surname alone with an honorific
    (``王先生``) names no one and is not reported; nor is ``张某`` (某 is how names are withheld).
    Traditional characters and full-width forms are folded first (``來電人李強``), offsets unchanged.

    False-positive risks: a cue followed by a surname-like word (``业主高度关注``) is refused when the
    candidate is one of jieba's frequent non-name words, but rarer words can still pass, and more
    so after weak cues. Missed: names in the middle of a clause with no cue at all (``看到王强在``).
    """

    ENTITY: ClassVar[str] = "PERSON"
    CONTEXT: ClassVar[tuple[str, ...]] = PERSON_CUES
    SCORE: ClassVar[float] = 0.85
    WEAK_SCORE: ClassVar[float] = 0.6

    @functools.cached_property
    def _cue(self) -> re.Pattern[str]:
        return re.compile(f"(?:{_alternatives(PERSON_CUES)})[{re.escape(CUE_JOINERS)}]{{0,2}}")

    @functools.cached_property
    def _weak_cue(self) -> re.Pattern[str]:
        # Only where a surname follows: most clauses start otherwise, and are not looked at.
        starts = re.escape("".join(sorted(SURNAMES | {s[0] for s in COMPOUND_SURNAMES})))
        return re.compile(f"(?:{_alternatives(WEAK_CUES)}|[{_PUNCTUATION}\\s])(?=[{starts}])")

    @functools.cached_property
    def _honorific(self) -> re.Pattern[str]:
        return re.compile(_alternatives(HONORIFICS))

    @functools.cached_property
    def _follower(self) -> re.Pattern[str]:
        return re.compile(_alternatives(FOLLOWERS))

    @property
    def prefilter(self) -> str:
        """A surname and a Han character after a cue, weak cue or sentence start, or up to three Han
        characters after a surname before an honorific: every name :meth:`find` reports is one of
        these (a masked name, 张*, is none)."""

        def words(group: tuple[str, ...]) -> str:
            return "|".join(any_form(word) for word in group)

        surname = (
            "["
            + "".join(sorted({any_form(c).strip("[]") for c in SURNAMES | {s[0] for s in COMPOUND_SURNAMES}}))
            + "]"
        )
        joiners = re.escape(CUE_JOINERS)
        return (
            f"(?:{words(PERSON_CUES)})[{joiners}]{{0,2}}{surname}[{HAN}]"
            f"|(?:{words(WEAK_CUES)}|^|[{_PUNCTUATION}\\s]){surname}[{HAN}]"
            f"|{surname}[{HAN}]{{1,3}}(?:{words(HONORIFICS)})"
        )

    def _given(self, char: str) -> bool:
        return char in given_name_characters()  # Han characters only, none of NOT_GIVEN

    @staticmethod
    def _starts_word(text: str, at: int) -> bool:
        """Whether a word starts at ``at`` that does not also end at it (for a second given character:
        拖欠 in 邵东拖欠 starts a word, 建国 in 王建国 is a name)."""
        words = known_words()
        return text[at : at + 2] in words and text[at - 1 : at + 1] not in words

    def _ends_name(self, text: str, end: int) -> bool:
        if self._before_place(text, end):
            return False
        return end >= len(text) or text[end] in NAME_ENDS or text[end : end + 2] in common_words()

    def _is_name(self, name: str, surname: int) -> bool:
        given = name[surname:]
        return (
            1 <= len(given) <= 2
            and all(self._given(c) for c in given)
            and name not in common_words()
            and name[: surname + 1] not in common_words()
            and not name.endswith(PLACE_ENDS)
        )

    @staticmethod
    def _before_place(text: str, end: int) -> bool:
        """Whether a place word follows (石景山附近 is a place, 康桥花园 a compound, 金林区 an area)."""
        return text.startswith(PLACE_ENDS, end)

    def _name_after(self, text: str, start: int) -> int:
        """The length of the name starting at ``start`` (after a cue), or 0."""
        if text[start : start + 2] in COMPOUND_SURNAMES:
            surname = 2
        elif text[start : start + 1] in SURNAMES:
            surname = 1
        else:
            return 0
        length = surname
        for _ in range(2):
            if start + length >= len(text) or not self._given(text[start + length]):
                break
            if self._follower.match(text, start + length):
                break
            if length > surname and self._starts_word(text, start + length):
                break  # 邵东拖欠: 拖欠 is a word, 东拖 is not
            length += 1
        if length == surname or not self._is_name(text[start : start + length], surname):
            return 0
        return length

    def _name_before(self, text: str, end: int) -> int | None:
        """Where the name ending at ``end`` (before an honorific) starts, or None."""
        for start in range(max(end - 4, 0), end - 1):
            name = text[start:end]
            if name[:2] in COMPOUND_SURNAMES:
                if len(name) > 2 and self._is_name(name, 2):
                    return start
                continue  # 诸葛女士: a compound surname alone
            if name[0] in SURNAMES and len(name) <= 3 and self._is_name(name, 1):
                if len(name) == 3 and name[0] in _BEFORE_NAME and name[1] in SURNAMES:
                    continue  # 和张伟先生: 和 joins, 张伟 is the name
                return start
        return None

    def find(self, text: str) -> list[Span]:
        folded = fold(text)
        spans: set[tuple[int, int]] = set()
        weak: set[tuple[int, int]] = set()
        for cue in self._cue.finditer(folded):
            if length := self._name_after(folded, cue.end()):
                spans.add((cue.end(), cue.end() + length))
        weak_cues = self._weak_cue.finditer(folded)
        for start in itertools.chain((0,), (cue.end() for cue in weak_cues)):  # the text starts a sentence
            if folded[start - 1 : start + 1] in known_words():
                continue  # 对方, 和平, 向阳: the cue and the surname are one word
            length = self._name_after(folded, start)
            name = folded[start : start + length]
            if length and self._ends_name(folded, start + length) and name not in known_words():
                weak.add((start, start + length))
        for honorific in self._honorific.finditer(folded):
            before = self._name_before(folded, honorific.start())
            if before is not None:
                spans.add((before, honorific.start()))
        found = [Span(start, end, self.SCORE) for start, end in spans]
        found += [Span(start, end, self.WEAK_SCORE) for start, end in weak - spans]
        return sorted(found)

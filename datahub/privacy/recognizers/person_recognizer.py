"""Recognizer for person names (PERSON): a statistical model's names, checked and completed by rules."""

from __future__ import annotations

import bisect
import functools
import re
from collections.abc import Sequence
from typing import ClassVar

from datahub.privacy.lexical import PERSON_BIAS, SENSITIVE_PERSON_BIAS, Word, lexical_model
from datahub.privacy.recognizers.base import HAN, Span, TextRecognizer
from datahub.privacy.recognizers.lexicon import (
    COMPOUND_SURNAMES,
    HONORIFICS,
    PERSON_CUES,
    SURNAMES,
    TITLES,
    fold,
)
from datahub.privacy.recognizers.person_cue_recognizer import PersonCueRecognizer

ADDRESS_WORDS: tuple[str, ...] = tuple(sorted({*HONORIFICS, *TITLES}, key=len, reverse=True))
"""Honorifics and titles after a surname (王先生, 李局长), longest first."""

NOT_NAMES = frozenset({"ORG", "LOC", "TIME", "nw", "nz", "w", "m", "q", "v", "vd", "vn", "a", "ad"})
"""Word classes a name found after a cue may not overlap (中华人民共和国环境保护法 is ``nw``, the 明白
of 群众明白 a verb)."""

NOT_NAMES_AFTER_WEAK_CUES = NOT_NAMES | {"d"}
"""After a weak cue (让, 和, 对…) nor adverbs; after a strong one (本人, 市民, 来电人…) the model may
read a rare surname as an adverb (本人连春花: 连)."""


_HAN_PAIR = re.compile(f"[{HAN}][{HAN}]")
_LETTER = re.compile(f"[{HAN}A-Za-z]")
_HAN_CHAR = re.compile(f"[{HAN}]")
_NOT_IN_NAMES = re.compile(r"[\s0-9０-９]")
_ROADS = ("路", "街", "巷", "弄")


def surname_length(name: str) -> int:
    """Characters of the surname ``name`` starts with (2 for a compound surname), or 0."""
    if name[:2] in COMPOUND_SURNAMES:
        return 2
    return 1 if name[:1] in SURNAMES else 0


class PersonRecognizer(TextRecognizer):
    """Person names, from Baidu's LAC model (:mod:`datahub.privacy.lexical`) and the cue rules.

    Standards: GB/T 35273 and GB/T 37964 count a name as a direct identifier. A name is reported when

    - the model tags a word as a person (``PER``): names at a sentence start (``谭雅玲说``), after a
      job title (``本报记者翟启运``), in lists (``胡德风、徐新、刘云厚``), with or without a cue;
    - the cue rules (:class:`PersonCueRecognizer`: ``市民张伟``, ``联系人：赵敏``, ``王建国先生``)
      find a name whose ends fall on the model's word boundaries and that overlaps no word the model
      calls an organisation, a place, a work title, a number or a verb (``中华人民共和国环境保护法``
      holds no name; ``让群众明白``: 明白 is a verb; ``季羡林老先生``: the name is 季羡林, not 林老);
    - a surname stands before an honorific or a title (``王先生``, ``慕容女士``, ``王局长``): the
      surname alone is reported, so that it is masked and the honorific stays (``*先生``).

    A model name that ends in an honorific or a title (the model reads ``吴小姐`` as one name) is cut
    before it. Scores: 0.85 for every name. ``person_bias`` lowers the model's threshold for names:
    :attr:`BIAS` when masking, :attr:`SENSITIVE_BIAS` in the leak audit.

    Names in Latin letters are reported in Chinese text only (two Han characters in a row): in English
    text the model reads words as names (``Boston``).

    Missed: names the model does not know as names and no cue marks (nicknames of social media,
    transliterated foreign names written with common words); a surname alone without a title.

    False-positive risks: sports clubs and brands written like transliterated names (维拉, 桑普);
    a character name of fiction or a historical figure is reported like anyone's.
    """

    ENTITY: ClassVar[str] = "PERSON"
    CONTEXT: ClassVar[tuple[str, ...]] = PERSON_CUES
    SCORE: ClassVar[float] = 0.85
    LATIN_NAMES: ClassVar[bool] = True
    BIAS: ClassVar[float] = PERSON_BIAS
    SENSITIVE_BIAS: ClassVar[float] = SENSITIVE_PERSON_BIAS

    def __init__(self, supported_language: str = "zh", person_bias: float | None = None) -> None:
        super().__init__(supported_language=supported_language)
        self.person_bias = self.BIAS if person_bias is None else person_bias

    @functools.cached_property
    def _cues(self) -> PersonCueRecognizer:
        return PersonCueRecognizer()

    @property
    def prefilter(self) -> str:
        """Two Han characters in a row: the recognizer reads Chinese text only (see the class docstring)."""
        return f"[{HAN}][{HAN}]"

    def find(self, text: str) -> list[Span]:
        return self.find_many([text])[0]

    def find_many(self, texts: Sequence[str]) -> list[list[Span]]:
        analysed = lexical_model().words(texts, self.person_bias)
        return [self._names(text, words) for text, words in zip(texts, analysed, strict=True)]

    def _names(self, text: str, words: list[Word]) -> list[Span]:
        if not _HAN_PAIR.search(text):
            return []  # not Chinese text: the model reads English words as names (Boston)
        folded = fold(text)
        spans: set[tuple[int, int]] = set()
        for start, end in _model_names(folded, words):
            spans.update(self._name(folded, start, end))
        ordered = [w.start for w in words]
        starts, ends = set(ordered), {w.end for w in words}
        for start, end, score in self._cues.find(folded):
            others = NOT_NAMES if score >= self._cues.SCORE else NOT_NAMES_AFTER_WEAK_CUES
            if start in starts and end in ends and not _overlaps(words, ordered, start, end, others):
                spans.update(self._name(folded, start, end))
        spans.update(self._titled_surnames(folded, words, ends))
        return [Span(start, end, self.SCORE) for start, end in sorted(_outermost(spans))]

    def _name(self, text: str, start: int, end: int) -> list[tuple[int, int]]:
        """The name in a candidate: cut before an honorific or title it ends with (吴小姐 → 吴,
        王局长 → 王, 张伟先生 → 张伟); a word of one character and a title is a nickname and stays
        whole (舟哥, 星爷); at least two characters, or a surname before a title."""
        name = text[start:end]
        if "*" in name or "＊" in name:
            return []  # masked already (张*): the leak scan reads masked text
        if name[:1] in "小老" and len(name) == 2 and surname_length(name[1]) == 1:
            return [(start + 1, end)]  # 小王, 老李: the surname, as with a title
        if name.endswith("家") and len(name) > 2 and text.startswith("的", end):
            name = name[:-1]  # 张兵家的狗
        if name.strip("某")[surname_length(name) :] == "":
            return []  # 张某, 李某某: withheld already
        for suffix in ADDRESS_WORDS:
            if name.endswith(suffix) and len(name) > len(suffix):
                given = name[: -len(suffix)]
                if len(given) <= 2 and surname_length(given) == len(given):
                    return [(start, start + len(given))]
                if len(given) >= 2:
                    name = given
                break  # 舟哥, 星爷: a nickname with its title is the name
        if len(name) < 2 or not _LETTER.search(name) or _NOT_IN_NAMES.search(name) or name.endswith(_ROADS):
            return []  # 陈街142号: no name holds a digit; 侯街, 秦路: a road named after a family
        if not self.LATIN_NAMES and not _HAN_CHAR.search(name):
            return []
        return [(start, start + len(name))]

    @staticmethod
    def _titled_surnames(text: str, words: list[Word], ends: set[int]) -> list[tuple[int, int]]:
        """A surname that starts a word and is followed by an honorific or title ending a word
        (王先生, 李局长; not 李总结)."""
        found = []
        for word in words:
            if word.tag in NOT_NAMES:
                continue
            for length in (2, 1):
                at = word.start + length
                if surname_length(text[word.start : at]) == length and any(
                    text.startswith(title, at) and at + len(title) in ends for title in ADDRESS_WORDS
                ):
                    found.append((word.start, at))
                    break
        return found


_JOINED = frozenset("·•・‧.．")
"""Dots between the parts of a transliterated name (奥普拉·温弗利)."""


class SecondLookPersonRecognizer(PersonRecognizer):
    """Names at the model's lowered threshold (:data:`~datahub.privacy.lexical.SENSITIVE_PERSON_BIAS`)
    that the masking pass masks besides what :class:`PersonRecognizer` finds (its second look), as
    ``PERSON_SECOND_LOOK`` with a lower score, so that where both find a name the first one wins and
    what only the second look finds is counted apart. It reads the same model encoding as the first
    (the model decodes every text at both thresholds), so it costs a decoding, not a model pass.

    It is not registered with the analyzer (``datahub pii scan`` reports what is certain enough to
    name); the masking pass asks the scanner for it by its entity.

    False-positive risks: at this threshold, words next to names and rare words read as names (on
    CLUENER about half of its findings are not labelled names); they are masked like names.
    """

    ENTITY: ClassVar[str] = "PERSON_SECOND_LOOK"
    SCORE: ClassVar[float] = 0.4
    LATIN_NAMES: ClassVar[bool] = False  # at this threshold any run of capitals is a name

    def __init__(self, supported_language: str = "zh") -> None:
        super().__init__(supported_language=supported_language, person_bias=SENSITIVE_PERSON_BIAS)


def _model_names(text: str, words: list[Word]) -> list[tuple[int, int]]:
    """The words the model tags ``PER``; adjacent ones, and a name's parts joined by a dot, are one
    name (练丽娟 read as 练 and 丽娟; 奥普拉·温弗利)."""
    names: list[tuple[int, int]] = []
    for i, word in enumerate(words):
        if word.tag != "PER":
            continue
        adjacent = bool(names) and names[-1][1] == word.start
        dotted = (
            bool(names)
            and i >= 2
            and names[-1][1] == words[i - 2].end
            and text[words[i - 1].start : words[i - 1].end] in _JOINED
        )
        if adjacent or dotted:
            names[-1] = (names[-1][0], word.end)
        else:
            names.append((word.start, word.end))
    return names


def _overlaps(words: list[Word], starts: list[int], start: int, end: int, tags: frozenset[str]) -> bool:
    """Whether a word of ``tags`` overlaps [start, end). ``words`` are a segmentation in text order
    (``starts`` their starts), so only the words before ``end`` back to ``start`` are looked at."""
    i = bisect.bisect_left(starts, end)
    while i > 0 and words[i - 1].end > start:
        i -= 1
        if words[i].tag in tags:
            return True
    return False


def _outermost(spans: set[tuple[int, int]]) -> list[tuple[int, int]]:
    """The spans no other contains (a cue's 张伟 inside the model's 张伟华 is one name).

    One sweep in start order, longest first: a span is inside another exactly when an earlier span
    reaches as far as it does (linear after the sort; a long text has many candidates)."""
    kept: list[tuple[int, int]] = []
    reach = -1
    for start, end in sorted(spans, key=lambda span: (span[0], -span[1])):
        if end > reach:
            kept.append((start, end))
            reach = end
    return kept

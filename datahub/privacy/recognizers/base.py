"""What the Chinese recognizers share: character classes and validation on NFKC-normalised text.

Department data mixes ASCII and full-width digits (``１３８…``), so every pattern accepts both and
every check runs on the NFKC form of the match. Boundaries are digit look-arounds rather than word
boundaries: Chinese characters count as word characters, so there is no word boundary between the
``话`` and the ``1`` of ``电话13812345678``.
"""

from __future__ import annotations

import re
import unicodedata
from abc import abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar, NamedTuple, Protocol

from presidio_analyzer import EntityRecognizer, Pattern, PatternRecognizer, RecognizerResult

DIGIT = "0-9０-９"
"""ASCII and full-width digits, for use inside a character class."""

CHECK_X = "XxＸｘ"
"""The resident-id check character in every width and case, for use inside a character class."""

SEPARATOR = " \\-－"
"""Space, hyphen and full-width hyphen: what people put between the groups of a phone number."""

NOT_AFTER_DIGIT = f"(?<![{DIGIT}])"
NOT_BEFORE_DIGIT = f"(?![{DIGIT}])"

HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
"""CJK ideographs (extension A, the unified block, compatibility ideographs), inside a character class."""


class Span(NamedTuple):
    """What a recognizer found: Python string offsets (end exclusive) and Presidio's score."""

    start: int
    end: int
    score: float


class Scanning(Protocol):
    """What the column scanner of :mod:`datahub.privacy.scanner` needs of a recognizer.

    ``find`` must report exactly what the recognizer's Presidio ``analyze`` reports for the same
    text; ``prefilter`` is a regex polars can run (no look-arounds) that matches every text in which
    ``find`` can find anything, so texts it does not match are never looked at in Python.
    """

    ENTITY: ClassVar[str]

    def find(self, text: str) -> list[Span]: ...

    def find_many(self, texts: Sequence[str]) -> list[list[Span]]: ...

    @property
    def prefilter(self) -> str: ...


class TextRecognizer(EntityRecognizer):
    """A recognizer written as Python code over the text rather than as patterns (names, addresses).

    Subclasses set ``ENTITY`` and ``CONTEXT`` and implement :meth:`find` and :attr:`prefilter`;
    Presidio's :meth:`analyze` is :meth:`find`, so the analyzer and the column scanner share it.
    """

    ENTITY: ClassVar[str]
    CONTEXT: ClassVar[tuple[str, ...]] = ()

    def __init__(self, supported_language: str = "zh") -> None:
        super().__init__(
            supported_entities=[self.ENTITY],
            name=type(self).__name__,
            supported_language=supported_language,
            context=list(self.CONTEXT),
        )

    def load(self) -> None:
        """Nothing to load: every resource ships with the package and is read on first use."""

    @abstractmethod
    def find(self, text: str) -> list[Span]:
        """Every span of this entity in ``text``."""

    def find_many(self, texts: Sequence[str]) -> list[list[Span]]:
        """:meth:`find` of each text; recognizers that run a model over batches of texts override it
        (and then :meth:`find` is ``find_many([text])[0]``)."""
        return [self.find(text) for text in texts]

    @property
    @abstractmethod
    def prefilter(self) -> str:
        """A polars regex matching every text in which :meth:`find` can find anything."""

    def analyze(self, text: str, entities: list[str], nlp_artifacts: Any = None) -> list[RecognizerResult]:
        if self.ENTITY not in entities:
            return []
        return [RecognizerResult(self.ENTITY, start, end, score) for start, end, score in self.find(text)]


_LOOKBEHIND = re.compile(r"\(\?<!\[([^\]]*)\]\)")
_LOOKAHEAD = re.compile(r"\(\?!\[([^\]]*)\]\)")


class NormalisedPatternRecognizer(PatternRecognizer):
    """A pattern recognizer whose matches are validated on their NFKC form.

    Subclasses set ``ENTITY``, ``PATTERNS`` and ``CONTEXT`` and implement :meth:`is_valid`. Each
    pattern is bounded by single-class look-arounds (digits may not touch a match), which polars
    cannot run but :attr:`screening_regex` can stand in for, so the column scanner of
    :mod:`datahub.privacy.scanner` screens texts in polars and then calls the very checks Presidio
    calls (:meth:`find`: the patterns and :meth:`validate_result`).
    """

    ENTITY: ClassVar[str]
    PATTERNS: ClassVar[tuple[Pattern, ...]]
    CONTEXT: ClassVar[tuple[str, ...]]
    STARTS: ClassVar[str | None] = None  # every character a match can start with, as a class body

    name: str
    patterns: list[Pattern]

    def __init__(
        self,
        patterns: list[Pattern] | None = None,
        context: list[str] | None = None,
        supported_language: str = "zh",
    ) -> None:
        super().__init__(
            supported_entity=self.ENTITY,
            name=type(self).__name__,
            patterns=patterns if patterns is not None else list(self.PATTERNS),
            context=context if context is not None else list(self.CONTEXT),
            supported_language=supported_language,
        )
        # The standard library's engine runs these patterns about twice as fast per call as the
        # `regex` package Presidio uses, and they use no syntax on which the two differ. A pattern
        # that opens with a look-behind gives the engine nothing to skip ahead with: a look-ahead of
        # the characters a match can start with (``STARTS``) lets it jump to the next candidate.
        flags = self.global_regex_flags or 0
        ahead = f"(?=[{self.STARTS}])" if self.STARTS else ""
        self._compiled = tuple(re.compile(ahead + p.regex, flags=flags) for p in self.patterns)

    @abstractmethod
    def is_valid(self, normalised: str) -> bool:
        """Whether an NFKC-normalised match is a real identifier of this kind."""

    def validate_result(self, pattern_text: str) -> bool:
        """Whether the match is valid once NFKC has turned full-width digits and letters into ASCII."""
        return self.is_valid(unicodedata.normalize("NFKC", pattern_text))

    def find(self, text: str) -> list[Span]:
        """The spans Presidio's ``analyze`` reports: validated matches, scored as Presidio scores them."""
        return [Span(start, end, EntityRecognizer.MAX_SCORE) for start, end in self.find_valid_spans(text)]

    def find_many(self, texts: Sequence[str]) -> list[list[Span]]:
        return [self.find(text) for text in texts]

    @property
    def prefilter(self) -> str:
        return self.screening_regex

    def find_valid_spans(self, text: str) -> list[tuple[int, int]]:
        """The spans :meth:`analyze` would report for ``text``, without Presidio's result objects.

        ``analyze`` builds an explanation and a result per match; the column scanner calls this on
        hundreds of thousands of candidates, where that bookkeeping would dominate.
        """
        return [
            match.span()
            for compiled in self._compiled
            for match in compiled.finditer(text)
            if self.validate_result(match.group())
        ]

    def _without_lookarounds(self, behind: str, ahead: str) -> list[str]:
        bodies = []
        for pattern in self.patterns:
            body = _LOOKAHEAD.sub(ahead, _LOOKBEHIND.sub(behind, pattern.regex))
            if any(mark in body for mark in ("(?<", "(?=", "(?!")):
                raise ValueError(f"{self.name}: pattern {pattern.name!r} has a look-around polars cannot run")
            bodies.append(f"(?:{body})")
        return bodies

    @property
    def screening_regex(self) -> str:
        """A regex for polars (which has no look-arounds) matching a text when a pattern matches in it.

        A single-class look-behind ``(?<![C])`` becomes ``(?:^|[^C])`` and a look-ahead ``(?![C])``
        becomes ``(?:[^C]|$)``: they consume the character they inspect, which moves where matches
        end but not whether one exists.
        """
        return "(?i)" + "|".join(self._without_lookarounds(r"(?:^|[^\1])", r"(?:[^\1]|$)"))

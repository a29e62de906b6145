"""Personal data in free text: what the analyzer's recognizers find, in one text or in a million.

:func:`find_entities` asks every recognizer of :func:`~datahub.privacy.analyzer.build_analyzer` about
one text and removes duplicates exactly as Presidio's ``AnalyzerEngine.analyze`` does (the same
``EntityRecognizer.remove_duplicates``), so the two report the same findings; tests hold them equal.

:func:`scan_texts` does the same for a whole column without calling Presidio per text:

1. Distinct texts only: a column repeats itself (templates, copied texts), and each distinct text
   is looked at once.
2. Screening, in polars, on every core: each recognizer's :attr:`~base.Scanning.prefilter` (a regex
   without look-arounds that matches every text in which the recognizer can find anything) marks the
   texts worth its time. Most recognizers screen out most texts: no 11-digit run, no ``@``, no
   house number.
3. Finding, in Python, for the screened texts and their screened recognizers only, with the
   recognizers' own :meth:`~base.Scanning.find` (what their Presidio ``analyze`` runs), then
   Presidio's duplicate removal.

Findings carry Python string offsets (end exclusive) into the text as given: nothing is normalised
before finding (the recognizers accept full-width forms themselves), so offsets are never shifted.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection
from dataclasses import dataclass

import polars as pl
from presidio_analyzer import EntityRecognizer, RecognizerResult

from datahub.privacy.analyzer import build_analyzer
from datahub.privacy.recognizers.base import Scanning

_ROWS_PER_SLICE = 50_000


@dataclass(frozen=True, slots=True)
class Finding:
    """One entity in a text: its type, Python string offsets (end exclusive) and score."""

    type: str
    start: int
    end: int
    score: float

    def as_dict(self, text: str) -> dict[str, object]:
        return {
            "type": self.type,
            "start": self.start,
            "end": self.end,
            "text": text[self.start : self.end],
            "score": round(self.score, 4),
        }


@functools.cache
def recognizers() -> tuple[Scanning, ...]:
    """The analyzer's own recognizer instances, so that every path shares patterns and checks."""
    found = tuple(build_analyzer().registry.recognizers)
    for recognizer in found:
        if not (hasattr(recognizer, "find") and hasattr(recognizer, "prefilter")):
            raise TypeError(f"{type(recognizer).__name__} cannot be used by the column scanner")
    return found  # type: ignore[return-value]


def entity_types() -> tuple[str, ...]:
    """Every entity type the recognizers find, in the order they are registered."""
    return tuple(dict.fromkeys(r.ENTITY for r in recognizers()))


def _selected(entities: Collection[str] | None) -> tuple[Scanning, ...]:
    if entities is None:
        return recognizers()
    unknown = set(entities) - set(entity_types())
    if unknown:
        raise ValueError(f"unknown entity types {sorted(unknown)}; known: {', '.join(entity_types())}")
    return tuple(r for r in recognizers() if r.ENTITY in entities)


def _findings(text: str, chosen: Collection[Scanning]) -> list[Finding]:
    results = [RecognizerResult(r.ENTITY, *span) for r in chosen for span in r.find(text)]
    if len(results) > 1:
        results = EntityRecognizer.remove_duplicates(results)
    return sorted(
        (Finding(r.entity_type, r.start, r.end, r.score) for r in results),
        key=lambda f: (f.start, f.end, f.type),
    )


def find_entities(text: str, entities: Collection[str] | None = None) -> list[Finding]:
    """Every entity in ``text`` (of the given types, or all), ordered by position."""
    return _findings(text, _selected(entities))


def analyzer_findings(text: str, entities: Collection[str] | None = None) -> list[Finding]:
    """What Presidio's ``AnalyzerEngine.analyze`` reports for ``text``: the reference for the scanner."""
    chosen = list(entities) if entities is not None else list(entity_types())
    results = build_analyzer().analyze(text=text, language="zh", entities=chosen)
    return sorted(
        (Finding(r.entity_type, r.start, r.end, r.score) for r in results),
        key=lambda f: (f.start, f.end, f.type),
    )


def in_slices(frame: pl.DataFrame, query: Callable[[pl.LazyFrame], pl.LazyFrame]) -> pl.LazyFrame:
    """``query`` over row slices of ``frame``, run in parallel and concatenated in row order.

    polars runs a string kernel over a column on one thread; slices give every core a share.
    """
    count = max(1, min(pl.thread_pool_size(), frame.height // _ROWS_PER_SLICE))
    size = max(1, -(-frame.height // count))
    starts = range(0, max(frame.height, 1), size)
    return pl.concat([query(frame.slice(start, size).lazy()) for start in starts], parallel=True)


def scan_texts(texts: pl.Series, entities: Collection[str] | None = None) -> dict[str, list[Finding]]:
    """Every distinct text of ``texts`` that holds an entity, with its findings (see the module docstring)."""
    chosen = _selected(entities)
    strings = texts if texts.dtype == pl.String else texts.cast(pl.String)
    distinct = strings.drop_nulls().unique().to_frame("text")
    marks = [f"_{i}" for i in range(len(chosen))]
    screened = in_slices(
        distinct,
        lambda rows: rows.select(
            "text",
            *(pl.col("text").str.contains(r.prefilter).alias(m) for r, m in zip(chosen, marks, strict=True)),
        ).filter(pl.any_horizontal(marks)),
    ).collect()
    found: dict[str, list[Finding]] = {}
    for text, *hits in screened.iter_rows():
        findings = _findings(text, [r for r, hit in zip(chosen, hits, strict=True) if hit])
        if findings:
            found[text] = findings
    return found

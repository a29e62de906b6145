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
import gc
import itertools
import multiprocessing
import multiprocessing.forkserver
import operator
import os
import re
from collections.abc import Callable, Collection, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from typing import NamedTuple, TypeVar

import polars as pl
from presidio_analyzer import EntityRecognizer, RecognizerResult

from datahub.privacy.analyzer import build_analyzer
from datahub.privacy.recognizers import PersonRecognizer
from datahub.privacy.recognizers.base import Scanning
from datahub.privacy.recognizers.person_recognizer import SecondLookPersonRecognizer

_ROWS_PER_SLICE = 50_000
PARALLEL_TEXTS = 5_000
"""Screened texts from which finding is spread over one process per core (starting one costs ~2 s;
the name model reads about 1,500 sentences a second on one core)."""
CHUNK_TEXTS = 5_000
"""Texts a worker is given at a time at most: the model's cache holds what the name recognizer read
until the address recognizer and the second look read it too (``lexical.CACHED_PIECES``)."""
T = TypeVar("T")


class Finding(NamedTuple):
    """One entity in a text: its type, Python string offsets (end exclusive) and score (a tuple, so
    that the many a column holds are cheap to make and to send between processes)."""

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
def recognizers(sensitive: bool = False) -> tuple[Scanning, ...]:
    """The analyzer's own recognizer instances, so that every path shares patterns and checks;
    ``sensitive``: the same, with the name model's threshold lowered for the leak audit
    (:attr:`PersonRecognizer.SENSITIVE_BIAS`)."""
    found = tuple(build_analyzer().registry.recognizers)
    for recognizer in found:
        if not (hasattr(recognizer, "find") and hasattr(recognizer, "prefilter")):
            raise TypeError(f"{type(recognizer).__name__} cannot be used by the column scanner")
    if sensitive:
        found = tuple(
            PersonRecognizer(person_bias=r.SENSITIVE_BIAS) if isinstance(r, PersonRecognizer) else r
            for r in found
        )
    return found  # type: ignore[return-value]


def entity_types() -> tuple[str, ...]:
    """Every entity type the recognizers find, in the order they are registered."""
    return tuple(dict.fromkeys(r.ENTITY for r in recognizers()))


def _selected(entities: Collection[str] | None, sensitive: bool = False) -> tuple[Scanning, ...]:
    return _recognizers_of(None if entities is None else tuple(sorted(set(entities))), sensitive)


@functools.cache
def _recognizers_of(entities: tuple[str, ...] | None, sensitive: bool = False) -> tuple[Scanning, ...]:
    if entities is None:
        return recognizers(sensitive)
    unknown = set(entities) - set(entity_types()) - {SecondLookPersonRecognizer.ENTITY}
    if unknown:
        raise ValueError(f"unknown entity types {sorted(unknown)}; known: {', '.join(entity_types())}")
    chosen = tuple(r for r in recognizers(sensitive) if r.ENTITY in entities)
    if SecondLookPersonRecognizer.ENTITY in entities:  # asked for by name only (the masking pass)
        chosen += (SecondLookPersonRecognizer(),)
    return chosen


@functools.cache
def _screens(entities: tuple[str, ...] | None) -> tuple[tuple[Scanning, re.Pattern[str]], ...]:
    """The recognizers with their prefilters compiled for Python: a text one does not match, the
    recognizer cannot find anything in (the same regexes polars screens columns with)."""
    return tuple((r, re.compile(r.prefilter)) for r in _recognizers_of(entities))


by_position = operator.attrgetter("start", "end", "type")
"""The order findings are reported in."""


def disjoint(findings: list[Finding]) -> bool:
    """Whether no two of ``findings`` (ordered by start) overlap: the common case, with nothing to resolve."""
    return all(a.end <= b.start for a, b in itertools.pairwise(findings))


def _findings(text: str, chosen: Collection[Scanning]) -> list[Finding]:
    return _without_duplicates([Finding(r.ENTITY, *span) for r in chosen for span in r.find(text)])


def _without_duplicates(found: list[Finding]) -> list[Finding]:
    found.sort(key=by_position)
    if disjoint(found):
        return found
    # Presidio drops identical results and those another of their type contains (and scores no higher).
    results = [RecognizerResult(f.type, f.start, f.end, f.score) for f in found]
    kept = EntityRecognizer.remove_duplicates(results)
    return sorted((Finding(r.entity_type, r.start, r.end, r.score) for r in kept), key=by_position)


def find_entities(text: str, entities: Collection[str] | None = None) -> list[Finding]:
    """Every entity in ``text`` (of the given types, or all), ordered by position; recognizers whose
    prefilter does not match the text are not asked."""
    screens = _screens(None if entities is None else tuple(sorted(set(entities))))
    return _findings(text, [r for r, screen in screens if screen.search(text)])


def analyzer_findings(text: str, entities: Collection[str] | None = None) -> list[Finding]:
    """What Presidio's ``AnalyzerEngine.analyze`` reports for ``text``: the reference for the scanner."""
    chosen = list(entities) if entities is not None else list(entity_types())
    results = build_analyzer().analyze(text=text, language="zh", entities=chosen)
    return sorted((Finding(r.entity_type, r.start, r.end, r.score) for r in results), key=by_position)


def in_slices(frame: pl.DataFrame, query: Callable[[pl.LazyFrame], pl.LazyFrame]) -> pl.LazyFrame:
    """``query`` over row slices of ``frame``, run in parallel and concatenated in row order.

    polars runs a string kernel over a column on one thread; slices give every core a share.
    """
    count = max(1, min(pl.thread_pool_size(), frame.height // _ROWS_PER_SLICE))
    size = max(1, -(-frame.height // count))
    starts = range(0, max(frame.height, 1), size)
    return pl.concat([query(frame.slice(start, size).lazy()) for start in starts], parallel=True)


Transform = Callable[[str, list[Finding]], T]


def _findings_of(text: str, findings: list[Finding]) -> list[Finding]:
    return findings


def _scan_chunk(
    texts: list[str],
    hits: list[int],
    entities: tuple[str, ...] | None,
    transform: Transform[T],
    sensitive: bool = False,
) -> list[tuple[int, T]]:
    """``transform(text, findings)`` of each screened text with findings, by its position in ``texts``
    (``hits``: per text, bit i set when recognizer i's prefilter matched). Each recognizer gets all
    the texts it screened at once (:meth:`~base.Scanning.find_many`: the name model runs in batches)."""
    found: list[list[Finding]] = [[] for _ in texts]
    out = []
    with no_cycle_collection():
        for j, recognizer in enumerate(_selected(entities, sensitive)):
            mine = [i for i, bits in enumerate(hits) if bits >> j & 1]
            if not mine:
                continue
            entity = recognizer.ENTITY
            for i, spans in zip(mine, recognizer.find_many([texts[i] for i in mine]), strict=True):
                found[i] += [Finding(entity, *span) for span in spans]
        for i, (text, findings) in enumerate(zip(texts, found, strict=True)):
            if findings:
                out.append((i, transform(text, _without_duplicates(findings))))
    return out


@contextmanager
def no_cycle_collection() -> Iterator[None]:
    """The cycle collector off while results pile up: they hold no cycles, and with it on, every few
    thousand allocations it walks all of them again (a third of the time on a million texts).
    Nested uses keep it off until the outermost ends."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@functools.cache
def _fork_server() -> multiprocessing.context.BaseContext:
    """The fork-server context; the server starts (and loads :mod:`datahub.privacy.warm`) in the
    background from the first call, while this process screens the texts."""
    if "forkserver" not in multiprocessing.get_all_start_methods():  # not on Windows
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["datahub.privacy.warm"])
    multiprocessing.forkserver.ensure_running()
    return context


def _in_processes(
    texts: list[str],
    hits: list[int],
    entities: tuple[str, ...] | None,
    transform: Transform[T],
    workers: int,
    sensitive: bool = False,
) -> list[tuple[int, T]]:
    """:func:`_scan_chunk` on every core: finding is Python, which one process runs on one core only.

    Workers are forked from a fork server (never from this process: its polars thread pool does not
    survive a fork) that has loaded the analyzer and the lexicons once (:mod:`datahub.privacy.warm`),
    so they start at once; the texts go in chunks (a few per worker, at most :data:`CHUNK_TEXTS`),
    and only positions and transformed results come back.
    """
    size = min(-(-len(texts) // (4 * workers)), CHUNK_TEXTS)
    starts = range(0, len(texts), size)
    with ProcessPoolExecutor(max_workers=workers, mp_context=_fork_server()) as pool:
        parts = pool.map(
            _scan_chunk,
            [texts[i : i + size] for i in starts],
            [hits[i : i + size] for i in starts],
            itertools.repeat(entities),
            itertools.repeat(transform),
            itertools.repeat(sensitive),
        )
        return [(start + i, result) for start, part in zip(starts, parts, strict=True) for i, result in part]


def _scan(
    texts: pl.Series,
    entities: Collection[str] | None,
    transform: Transform[T],
    workers: int | None,
    sensitive: bool = False,
) -> list[tuple[str, T]]:
    chosen = _selected(entities, sensitive)
    selected = None if entities is None else tuple(r.ENTITY for r in chosen)
    strings = texts if texts.dtype == pl.String else texts.cast(pl.String)
    distinct = strings.drop_nulls().unique().to_frame("text")
    if (workers or 0) > 1 or (workers is None and distinct.height >= PARALLEL_TEXTS):
        _fork_server()
    bits = pl.sum_horizontal(
        pl.col("text").str.contains(r.prefilter).cast(pl.Int64) * (1 << i) for i, r in enumerate(chosen)
    )
    screened = in_slices(
        distinct, lambda rows: rows.select("text", bits.alias("hits")).filter(pl.col("hits") > 0)
    ).collect()
    screened_texts, hits = screened.get_column("text").to_list(), screened.get_column("hits").to_list()
    if workers is None:
        workers = (os.cpu_count() or 1) if len(screened_texts) >= PARALLEL_TEXTS else 1
    if workers > 1:
        found = _in_processes(screened_texts, hits, selected, transform, workers, sensitive)
    else:
        found = _scan_chunk(screened_texts, hits, selected, transform, sensitive)
    return [(screened_texts[i], result) for i, result in found]


def scan_texts(
    texts: pl.Series,
    entities: Collection[str] | None = None,
    *,
    workers: int | None = None,
    sensitive: bool = False,
) -> dict[str, list[Finding]]:
    """Every distinct text of ``texts`` that holds an entity, with its findings (see the module docstring).

    ``workers``: processes to find in (default: one per core once ``PARALLEL_TEXTS`` texts are to be
    looked at in Python, one otherwise). ``sensitive``: the name model's threshold lowered, for the
    leak audit (:func:`recognizers`).
    """
    with no_cycle_collection():
        return dict(_scan(texts, entities, _findings_of, workers, sensitive))


def transform_texts(
    texts: pl.Series,
    transform: Transform[T],
    entities: Collection[str] | None = None,
    *,
    workers: int | None = None,
) -> dict[str, T]:
    """``transform(text, findings)`` for every distinct text of ``texts`` with findings, computed where
    the findings are found (``transform`` must be a module-level function, as it may run in another
    process); what comes back is only what ``transform`` returns."""
    with no_cycle_collection():
        return dict(_scan(texts, entities, transform, workers))

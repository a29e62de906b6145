"""Masking of personal data: single values, whole columns, and identifiers inside free text.

The masks follow GB/T 35273's display restriction: enough stays to recognise a record, not a person.
Every value is NFKC-normalised (full-width digits become ASCII) and stripped first.

==============  ===================================================  ========================
kind            rule                                                 example
==============  ===================================================  ========================
mobile_phone    every digit but the last four becomes ``*``          ``*******5678``
resident_id     first six and last four kept                         ``110105********002X``
person_name     surname kept (two characters if compound)            ``张*``, ``欧阳**``
address         kept up to the first 街道/镇/路/街, else six characters  ``北京市朝阳区建国路***``
generic         first and last characters kept                       ``a****f``
==============  ===================================================  ========================

Where a rule would show the whole value, more is masked: ids of ten characters or fewer, generic
values of one or two characters and one-character names are masked whole; a two-character name keeps
one character even if it starts like a compound surname (欧阳 may be 欧 with the given name 阳); an
address without a unit keeps at most all but its last character. Two things stay as they are: a
phone value without digits, and an address that ends at its street unit (a street alone locates no
one). Phones with separators keep them (``+** ***-****-5678``); cards can use the phone rule.
``None`` stays ``None``.

:func:`mask_value` masks one value in Python; :func:`mask_column` is the same rules as polars
expressions for whole columns; tests hold the two equal.

How :func:`scan_text_column` masks identifiers in a million free texts in seconds:

1. Pieces, in polars: each text is cut into the maximal runs of ASCII or full-width digits (with check
   characters ``X`` and single spaces or hyphens between digit groups), called tokens, and the text
   between them. Every span a recognizer can match lies inside one token, and the recognizers'
   look-arounds only inspect characters a token absorbs, so a recognizer finds the same spans in a
   token as in the whole text.
2. Screening, in polars: the distinct tokens are counted, and each recognizer's
   :attr:`~NormalisedPatternRecognizer.screening_regex` (its patterns without look-arounds) drops
   the tokens none of its patterns can match: dates, amounts, hotlines, work-order numbers.
3. Validation, in Python, once per distinct screened token, by the analyzer's own recognizer
   instances, so patterns and checks live in one place: a token one pattern matches whole (most of
   them) is decided by :meth:`~NormalisedPatternRecognizer.validate_result` and masked with the column
   rules of :func:`mask_column`; any other token goes through
   :meth:`~NormalisedPatternRecognizer.find_valid_spans` and :func:`mask_value` span by span.
4. Replacement, in polars: every piece that is a valid token is swapped for its masked form and the
   pieces are joined again. Swapping whole pieces, rather than searching the texts for the tokens
   (``str.replace_many``), can never mask digits inside a longer number that failed validation, and
   does not build an Aho-Corasick automaton over up to a million distinct identifiers, which alone
   takes seconds.

Counts per entity are each token's occurrences times the identifiers it holds.
:func:`presidio_mask_text` masks one text through Presidio's analyzer and anonymizer with the same
recognizers and masks; tests hold the two paths equal.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable
from typing import Any

import polars as pl
from presidio_anonymizer import AnonymizerEngine
from presidio_anonymizer.entities import InvalidParamError, OperatorConfig, RecognizerResult
from presidio_anonymizer.operators import Operator, OperatorType

from datahub.privacy.analyzer import LANGUAGE, build_analyzer
from datahub.privacy.recognizers.base import CHECK_X, DIGIT, SEPARATOR, NormalisedPatternRecognizer

MASK_KINDS: tuple[str, ...] = ("mobile_phone", "resident_id", "person_name", "address", "generic")

ENTITY_MASK_KIND: dict[str, str] = {"CN_MOBILE": "mobile_phone", "CN_RESIDENT_ID": "resident_id"}
"""The mask each recognized entity gets inside free text."""

COMPOUND_SURNAMES: frozenset[str] = frozenset(
    ["欧阳", "司马", "诸葛", "上官", "司徒", "东方", "皇甫", "尉迟", "公孙", "慕容", "长孙", "宇文"]
)

ADDRESS_UNITS: tuple[str, ...] = ("街道", "镇", "路", "街")
"""An address is kept up to the first of these; 街道 is listed before 街 so that it is kept whole."""

ADDRESS_FALLBACK_CHARS = 6
"""Characters kept of an address without a street unit: about a province, city and district."""

_STRIP = " \t\r\n"
_ADDRESS_PREFIX = "(?s)^.*?(?:" + "|".join(ADDRESS_UNITS) + ")"
_ADDRESS_PREFIX_RE = re.compile(_ADDRESS_PREFIX)
_LAST_FOUR_DIGITS = "[0-9](?:[^0-9]*[0-9]){3}[^0-9]*$"
_CANDIDATE = f"[{DIGIT}](?:[{DIGIT}{CHECK_X}]|[{SEPARATOR}][{DIGIT}])*"
_PIECE = f"{_CANDIDATE}|[^{DIGIT}]+"
_ASCII_DIGITS = frozenset("0123456789")
_DIGITS_TO_STARS = str.maketrans(dict.fromkeys("0123456789", "*"))
_ROWS_PER_SLICE = 50_000


def _normalise(value: str) -> str:
    return unicodedata.normalize("NFKC", value).strip(_STRIP)


def _keep(value: str, head: int, tail: int = 0) -> str:
    return value[:head] + "*" * (len(value) - head - tail) + value[len(value) - tail :]


def _mask_phone(value: str) -> str:
    seen = 0
    for cut in range(len(value) - 1, -1, -1):
        if value[cut] in _ASCII_DIGITS:
            seen += 1
            if seen == 4:
                return value[:cut].translate(_DIGITS_TO_STARS) + value[cut:]
    return value.translate(_DIGITS_TO_STARS)


def _mask_resident_id(value: str) -> str:
    return _keep(value.replace("x", "X"), 6, 4) if len(value) > 10 else _keep(value, 0)


def _mask_person_name(value: str) -> str:
    if len(value) > 2 and value[:2] in COMPOUND_SURNAMES:
        return _keep(value, 2)
    return _keep(value, 1 if len(value) > 1 else 0)


def _mask_address(value: str) -> str:
    prefix = _ADDRESS_PREFIX_RE.match(value)
    return _keep(value, prefix.end() if prefix else max(min(ADDRESS_FALLBACK_CHARS, len(value) - 1), 0))


def _mask_generic(value: str) -> str:
    return _keep(value, 1, 1) if len(value) > 2 else _keep(value, 0)


_MASKERS: dict[str, Callable[[str], str]] = {
    "mobile_phone": _mask_phone,
    "resident_id": _mask_resident_id,
    "person_name": _mask_person_name,
    "address": _mask_address,
    "generic": _mask_generic,
}


def _check_kind(kind: str) -> None:
    if kind not in MASK_KINDS:
        raise ValueError(f"unknown mask kind {kind!r}; expected one of {', '.join(MASK_KINDS)}")


def mask_value(kind: str, value: str) -> str:
    """One value masked by the rule for ``kind`` (see the module docstring)."""
    _check_kind(kind)
    return _MASKERS[kind](_normalise(value))


def _stars(count: pl.Expr) -> pl.Expr:
    return pl.lit("").str.pad_end(count, "*")


def _keep_expr(value: pl.Expr, head: pl.Expr, tail: pl.Expr | None = None) -> pl.Expr:
    length = value.str.len_chars().cast(pl.Int64)
    if tail is None:
        return value.str.head(head) + _stars(length - head)
    return value.str.head(head) + _stars(length - head - tail) + value.str.tail(tail)


def _phone_expr(value: pl.Expr) -> pl.Expr:
    last_four = value.str.extract(f"({_LAST_FOUR_DIGITS})").fill_null("")
    head = value.str.head(value.str.len_chars().cast(pl.Int64) - last_four.str.len_chars().cast(pl.Int64))
    return head.str.replace_all("[0-9]", "*") + last_four


def _resident_id_expr(value: pl.Expr) -> pl.Expr:
    long_enough = value.str.len_chars() > 10
    return _keep_expr(
        value.str.replace_all("x", "X", literal=True),
        pl.when(long_enough).then(6).otherwise(0),
        pl.when(long_enough).then(4).otherwise(0),
    )


def _person_name_expr(value: pl.Expr) -> pl.Expr:
    length = value.str.len_chars()
    compound = (length > 2) & value.str.head(2).is_in(list(COMPOUND_SURNAMES))
    return _keep_expr(value, pl.when(compound).then(2).when(length > 1).then(1).otherwise(0))


def _address_expr(value: pl.Expr) -> pl.Expr:
    prefix_length = value.str.extract(f"({_ADDRESS_PREFIX})").str.len_chars().cast(pl.Int64)
    fallback = pl.min_horizontal(ADDRESS_FALLBACK_CHARS, value.str.len_chars().cast(pl.Int64) - 1).clip(0)
    return _keep_expr(value, pl.coalesce(prefix_length, fallback))


def _generic_expr(value: pl.Expr) -> pl.Expr:
    kept = pl.when(value.str.len_chars() > 2).then(1).otherwise(0)
    return _keep_expr(value, kept, kept)


_MASK_EXPRS: dict[str, Callable[[pl.Expr], pl.Expr]] = {
    "mobile_phone": _phone_expr,
    "resident_id": _resident_id_expr,
    "person_name": _person_name_expr,
    "address": _address_expr,
    "generic": _generic_expr,
}


def _as_strings(series: pl.Series) -> pl.Series:
    return series if series.dtype == pl.String else series.cast(pl.String)


def _in_slices(frame: pl.DataFrame, query: Callable[[pl.LazyFrame], pl.LazyFrame]) -> pl.LazyFrame:
    """``query`` over row slices of ``frame``, run in parallel and concatenated in row order.

    polars runs a string kernel over a column on one thread; slices give every core a share.
    """
    count = max(1, min(pl.thread_pool_size(), frame.height // _ROWS_PER_SLICE))
    size = max(1, -(-frame.height // count))
    starts = range(0, max(frame.height, 1), size)
    return pl.concat([query(frame.slice(start, size).lazy()) for start in starts], parallel=True)


def _mask_strings(strings: pl.Series, kind: str) -> pl.Series:
    value = pl.col("value").str.normalize("NFKC").str.strip_chars(_STRIP)
    query = _in_slices(
        strings.to_frame("value"),
        lambda rows: rows.with_columns(value).select(_MASK_EXPRS[kind](pl.col("value"))),
    )
    return query.collect().to_series()


def mask_column(series: pl.Series, kind: str) -> pl.Series:
    """Every value of ``series`` masked as :func:`mask_value` would, in polars expressions.

    A column that repeats its values (names, addresses) is masked once per distinct value and mapped
    back. Non-string columns (a phone number read as an integer) are masked as their text.
    """
    _check_kind(kind)
    strings = _as_strings(series)
    distinct = strings.drop_nulls().unique()
    if 2 * len(distinct) <= len(strings):
        masked = strings.replace(distinct, _mask_strings(distinct, kind))
    else:
        masked = _mask_strings(strings, kind)
    return masked.alias(series.name)


@functools.cache
def _recognizers() -> tuple[NormalisedPatternRecognizer, ...]:
    """The analyzer's own recognizer instances, so that both masking paths share patterns and checks."""
    return tuple(
        r for r in build_analyzer().registry.recognizers if isinstance(r, NormalisedPatternRecognizer)
    )


def _mask_identifiers(token: str, recognizers: list[NormalisedPatternRecognizer]) -> tuple[str, list[str]]:
    """``token`` with every valid identifier masked, and the entity of each identifier found."""
    found = sorted(
        (start, end, recognizer.ENTITY)
        for recognizer in recognizers
        for start, end in recognizer.find_valid_spans(token)
    )
    pieces: list[str] = []
    position = 0
    for start, end, entity in found:
        pieces += [token[position:start], mask_value(ENTITY_MASK_KIND[entity], token[start:end])]
        position = end
    pieces.append(token[position:])
    return "".join(pieces), [entity for _, _, entity in found]


def _mask_whole_tokens(
    candidates: pl.DataFrame, recognizer: NormalisedPatternRecognizer, counts: dict[str, int]
) -> pl.DataFrame:
    """Tokens one of ``recognizer``'s patterns matches whole, checked one by one and masked as a column.

    Returns the valid tokens with their masks, and adds their occurrences to ``counts``.
    """
    checks = list(map(recognizer.validate_result, candidates.get_column("token").to_list()))
    valid = candidates.filter(pl.Series(checks, dtype=pl.Boolean))
    counts[recognizer.ENTITY] += int(valid.get_column("count").sum())
    masked = _mask_strings(valid.get_column("token"), ENTITY_MASK_KIND[recognizer.ENTITY])
    return valid.select("token", masked.alias("masked"))


def _mask_other_tokens(
    candidates: pl.DataFrame, recognizers: tuple[NormalisedPatternRecognizer, ...], counts: dict[str, int]
) -> pl.DataFrame:
    """Tokens holding a match elsewhere than whole (or several recognizers' matches), searched span by span.

    Returns the tokens holding a valid identifier with their masks, and adds the identifiers to ``counts``.
    """
    valid: list[str] = []
    masked: list[str] = []
    tokens, occurrences = candidates.get_column("token").to_list(), candidates.get_column("count").to_list()
    hits = zip(
        *(candidates.get_column(f"screen_{i}").to_list() for i in range(len(recognizers))), strict=True
    )
    for token, times, screened in zip(tokens, occurrences, hits, strict=True):
        replacement, entities = _mask_identifiers(
            token, [r for r, hit in zip(recognizers, screened, strict=True) if hit]
        )
        if entities:
            valid.append(token)
            masked.append(replacement)
            for entity in entities:
                counts[entity] += times
    return pl.DataFrame({"token": valid, "masked": masked}, schema={"token": pl.String, "masked": pl.String})


def scan_text_column(series: pl.Series) -> tuple[pl.Series, dict[str, int]]:
    """Free texts with every valid mobile number and resident id masked, and how many of each.

    See the module docstring for how this stays vectorised.
    """
    texts = _as_strings(series)
    counts = dict.fromkeys(ENTITY_MASK_KIND, 0)
    recognizers = _recognizers()
    screens = [pl.col(f"screen_{i}") for i in range(len(recognizers))]
    wholes = [pl.col(f"whole_{i}") for i in range(len(recognizers))]
    pieces = _in_slices(
        texts.to_frame("text"), lambda rows: rows.select(pieces=pl.col("text").str.extract_all(_PIECE))
    ).collect()
    candidates = (
        _in_slices(
            pieces,
            lambda rows: rows.select(token=pl.col("pieces").explode()).filter(
                pl.col("token").str.contains(f"^[{DIGIT}]")
            ),
        )
        .group_by("token")
        .len("count")
        .with_columns(
            pl.col("token").str.contains(r.screening_regex).alias(f"screen_{i}")
            for i, r in enumerate(recognizers)
        )
        .filter(pl.any_horizontal(screens))
        .with_columns(
            pl.col("token").str.contains(r.whole_match_regex).alias(f"whole_{i}")
            for i, r in enumerate(recognizers)
        )
        .collect()
    )
    alone = pl.sum_horizontal(screens) == 1
    replacements = pl.concat(
        [
            *(
                _mask_whole_tokens(candidates.filter(alone & whole), r, counts)
                for r, whole in zip(recognizers, wholes, strict=True)
            ),
            _mask_other_tokens(candidates.filter(~(alone & pl.any_horizontal(wholes))), recognizers, counts),
        ]
    )
    if replacements.is_empty():
        return texts, counts
    old, new = replacements.get_column("token"), replacements.get_column("masked")
    # One pass rather than slices: each slice would build its own table of the replacements.
    masked = pieces.get_column("pieces").list.eval(pl.element().replace(old, new)).list.join("")
    return masked.alias(series.name), counts


class CnMaskOperator(Operator):
    """Presidio operator applying :func:`mask_value`; params: ``{"kind": one of MASK_KINDS}``."""

    NAME = "cn_mask"
    KIND = "kind"

    def validate(self, params: dict[str, Any] | None = None) -> None:
        if not params or params.get(self.KIND) not in MASK_KINDS:
            raise InvalidParamError(
                f"{self.NAME} needs a {self.KIND!r} parameter, one of {', '.join(MASK_KINDS)}"
            )

    def operate(self, text: str, params: dict[str, Any] | None = None) -> str:
        return mask_value((params or {}).get(self.KIND, ""), text)

    def operator_name(self) -> str:
        return self.NAME

    def operator_type(self) -> OperatorType:
        return OperatorType.Anonymize


@functools.cache
def _anonymizer() -> AnonymizerEngine:
    engine = AnonymizerEngine()
    engine.add_anonymizer(CnMaskOperator)
    return engine


def presidio_mask_text(text: str) -> str:
    """One text masked through Presidio's analyzer and anonymizer, as :func:`scan_text_column` masks it.

    Adjacent entities separated by spaces stay separate (``merge_entities_with_spaces=False``):
    Presidio would otherwise mask two phone numbers in a row as one value.
    """
    found = build_analyzer().analyze(text=text, language=LANGUAGE, entities=list(ENTITY_MASK_KIND))
    results = [RecognizerResult(r.entity_type, r.start, r.end, r.score) for r in found]
    operators = {
        entity: OperatorConfig(CnMaskOperator.NAME, {CnMaskOperator.KIND: kind})
        for entity, kind in ENTITY_MASK_KIND.items()
    }
    return _anonymizer().anonymize(text, results, operators=operators, merge_entities_with_spaces=False).text

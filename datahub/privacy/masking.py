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
email           first character of the local part and domain kept    ``z*******@163.com``
ip              kept to the second ``.`` or ``:``, then a ``*`` a group  ``192.168.*.*``
plate           province and issuing authority kept                  ``京A*****``
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

Free text is masked in place (:func:`scan_text_column`): the scanner of :mod:`datahub.privacy.scanner`
finds the entities of each distinct text, :func:`resolve` keeps the ones that do not overlap (higher
score, then longer, first), and each is masked with the rule of its entity (``ENTITY_MASK_KIND``).
:func:`presidio_mask_text` masks one text through Presidio's analyzer and anonymizer with the same
recognizers, resolution and masks; tests hold the two paths equal.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable, Iterable
from typing import Any

import polars as pl
from presidio_anonymizer import AnonymizerEngine
from presidio_anonymizer.entities import InvalidParamError, OperatorConfig, RecognizerResult
from presidio_anonymizer.operators import Operator, OperatorType

from datahub.privacy.analyzer import LANGUAGE, build_analyzer
from datahub.privacy.scanner import (
    Finding,
    by_position,
    disjoint,
    in_slices,
    no_cycle_collection,
    transform_texts,
)

MASK_KINDS: tuple[str, ...] = (
    "mobile_phone",
    "resident_id",
    "person_name",
    "address",
    "email",
    "ip",
    "plate",
    "generic",
)

ENTITY_MASK_KIND: dict[str, str] = {
    "CN_RESIDENT_ID": "resident_id",
    "CN_USCC": "generic",
    "CN_MOBILE": "mobile_phone",
    "CN_LANDLINE": "mobile_phone",  # the last four digits, like every number people dial
    "CN_BANK_CARD": "mobile_phone",  # the last four digits, as banks print them
    "EMAIL_ADDRESS": "email",
    "IP_ADDRESS": "ip",
    "CN_LICENSE_PLATE": "plate",
    "PERSON": "person_name",
    "CN_ADDRESS": "address",
    "PHONE_NUMBER": "mobile_phone",
    "US_SSN": "mobile_phone",
    "CREDIT_CARD": "mobile_phone",
}
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
_ASCII_DIGITS = frozenset("0123456789")
_DIGITS_TO_STARS = str.maketrans(dict.fromkeys("0123456789", "*"))
_EMAIL = "(?s)^(.*)(@[^@]*)$"
_EMAIL_RE = re.compile(_EMAIL)
_IP = "(?s)^([^.:]*[.:][^.:]*[.:])(.*)$"
_IP_RE = re.compile(_IP)
_ALNUM_RUN = "[0-9A-Za-z]+"
_ALNUM_RUN_RE = re.compile(_ALNUM_RUN)
_ALNUM_RE = re.compile("[0-9A-Za-z]")


def _normalise(value: str) -> str:
    if not unicodedata.is_normalized("NFKC", value):  # most values are: checking is cheaper
        value = unicodedata.normalize("NFKC", value)
    return value.strip(_STRIP)


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


def _mask_email(value: str) -> str:
    parts = _EMAIL_RE.match(value)
    if parts is None:
        return _mask_generic(value)
    local, domain = parts.groups()
    return _keep(local, 1 if len(local) > 1 else 0) + domain


def _mask_ip(value: str) -> str:
    parts = _IP_RE.match(value)
    if parts is None:
        return _mask_generic(value)
    head, rest = parts.groups()
    return head + _ALNUM_RUN_RE.sub("*", rest)


def _mask_plate(value: str) -> str:
    return value[:2] + _ALNUM_RE.sub("*", value[2:])


_MASKERS: dict[str, Callable[[str], str]] = {
    "mobile_phone": _mask_phone,
    "resident_id": _mask_resident_id,
    "person_name": _mask_person_name,
    "address": _mask_address,
    "email": _mask_email,
    "ip": _mask_ip,
    "plate": _mask_plate,
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


def _email_expr(value: pl.Expr) -> pl.Expr:
    local, domain = value.str.extract(_EMAIL, 1), value.str.extract(_EMAIL, 2)
    masked = _keep_expr(local, pl.when(local.str.len_chars() > 1).then(1).otherwise(0)) + domain
    return pl.when(local.is_null()).then(_generic_expr(value)).otherwise(masked)


def _ip_expr(value: pl.Expr) -> pl.Expr:
    head, rest = value.str.extract(_IP, 1), value.str.extract(_IP, 2)
    masked = head + rest.str.replace_all(_ALNUM_RUN, "*")
    return pl.when(head.is_null()).then(_generic_expr(value)).otherwise(masked)


def _plate_expr(value: pl.Expr) -> pl.Expr:
    return value.str.head(2) + value.str.slice(2).str.replace_all("[0-9A-Za-z]", "*")


_MASK_EXPRS: dict[str, Callable[[pl.Expr], pl.Expr]] = {
    "mobile_phone": _phone_expr,
    "resident_id": _resident_id_expr,
    "person_name": _person_name_expr,
    "address": _address_expr,
    "email": _email_expr,
    "ip": _ip_expr,
    "plate": _plate_expr,
    "generic": _generic_expr,
}


def _as_strings(series: pl.Series) -> pl.Series:
    return series if series.dtype == pl.String else series.cast(pl.String)


def _mask_strings(strings: pl.Series, kind: str) -> pl.Series:
    value = pl.col("value").str.normalize("NFKC").str.strip_chars(_STRIP)
    query = in_slices(
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


def resolve(findings: Iterable[Finding]) -> list[Finding]:
    """The findings to mask: where two overlap, the higher score wins, then the longer, then the first."""
    ordered = sorted(findings, key=by_position)
    if disjoint(ordered):
        return ordered
    kept: list[Finding] = []
    for finding in sorted(ordered, key=lambda f: (-f.score, f.start - f.end, f.start)):
        if all(finding.end <= other.start or other.end <= finding.start for other in kept):
            kept.append(finding)
    return sorted(kept, key=by_position)


def _mask_spans(text: str, kept: list[Finding]) -> str:
    pieces: list[str] = []
    position = 0
    for finding in kept:
        masker = _MASKERS[ENTITY_MASK_KIND[finding.type]]
        pieces += [text[position : finding.start], masker(_normalise(text[finding.start : finding.end]))]
        position = finding.end
    pieces.append(text[position:])
    return "".join(pieces)


def mask_text(text: str, findings: Iterable[Finding]) -> str:
    """``text`` with every resolved finding masked by the rule of its entity."""
    return _mask_spans(text, resolve(findings))


def _masked(text: str, findings: list[Finding]) -> tuple[str, tuple[str, ...]]:
    """The text masked, and the type of each entity masked in it (module level: it runs in workers)."""
    kept = resolve(findings)
    return _mask_spans(text, kept), tuple(f.type for f in kept)


def scan_text_column(series: pl.Series) -> tuple[pl.Series, dict[str, int]]:
    """Free texts with every entity the recognizers find masked in place, and how many of each type."""
    texts = _as_strings(series)
    counts = dict.fromkeys(ENTITY_MASK_KIND, 0)
    with no_cycle_collection():
        found = transform_texts(texts, _masked)
        if not found:
            return texts, counts
        old = pl.Series(list(found), dtype=pl.String)
        new = pl.Series([masked for masked, _ in found.values()], dtype=pl.String)
        # Most texts occur once; those that repeat count as often as they occur.
        repeated = texts.value_counts().filter(pl.col("count") > 1)
        occurrences = dict(zip(repeated.to_series(0).to_list(), repeated.to_series(1).to_list(), strict=True))
        for text, (_, entities) in found.items():
            times = occurrences.get(text, 1)
            for entity in entities:
                counts[entity] += times
    return texts.replace(old, new).alias(series.name), counts


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

    The analyzer's results are resolved as :func:`resolve` does before the anonymizer sees them, and
    adjacent entities separated by spaces stay separate (``merge_entities_with_spaces=False``):
    Presidio would otherwise mask two phone numbers in a row as one value.
    """
    found = build_analyzer().analyze(text=text, language=LANGUAGE, entities=list(ENTITY_MASK_KIND))
    kept = resolve(Finding(r.entity_type, r.start, r.end, r.score) for r in found)
    results = [RecognizerResult(f.type, f.start, f.end, f.score) for f in kept]
    operators = {
        entity: OperatorConfig(CnMaskOperator.NAME, {CnMaskOperator.KIND: kind})
        for entity, kind in ENTITY_MASK_KIND.items()
    }
    return _anonymizer().anonymize(text, results, operators=operators, merge_entities_with_spaces=False).text

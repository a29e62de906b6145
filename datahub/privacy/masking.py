"""Masking of personal data: single values, whole columns, and identifiers inside free text.

The masks follow GB/T 35273's display restriction: enough stays to recognise a record, not a person.
Every value is NFKC-normalised (full-width digits become ASCII) and stripped first.

==============  ===================================================  ========================
kind            rule                                                 example
==============  ===================================================  ========================
mobile_phone    every digit but the last four becomes ``*``          ``*******5678``
resident_id     first six and last four kept                         ``110105********002X``
person_name     surname kept (two characters if compound)            ``张*``, ``欧阳**``
address         kept up to the first 街道/镇/路/街, else its areas       ``北京市朝阳区建国路***``
email           first character of the local part and domain kept    ``z*******@163.com``
ip              kept to the second ``.`` or ``:``, then a ``*`` a group  ``192.168.*.*``
plate           province and issuing authority kept                  ``京A*****``
generic         first and last characters kept                       ``a****f``
==============  ===================================================  ========================

Where a rule would show the whole value, more is masked: ids of ten characters or fewer, generic
values of one or two characters, one-character names and a compound surname alone (慕容 of 慕容女士)
are masked whole; other two-character names keep one character; an
address without a street unit keeps its administrative areas (``北京市朝阳区*******``), at most all but
its last character, and nothing when it names none (``余家头小区3栋`` → ``*******``). Two things
stay as they are: a phone value without digits, and an address that ends at its street unit (a
street alone locates no one). Phones with separators keep them (``+** ***-****-5678``); cards can
use the phone rule. ``None`` stays ``None``.

:func:`mask_value` masks one value in Python; :func:`mask_column` is the same rules as polars
expressions for whole columns; tests hold the two equal.

Free text is masked in place (:func:`scan_text_column`): the scanner of :mod:`datahub.privacy.scanner`
finds the entities of each distinct text, :func:`resolve` keeps the ones that do not overlap (higher
score, then longer, first), and each is masked with the rule of its entity (``ENTITY_MASK_KIND``).
:func:`presidio_mask_text` masks one text through Presidio's analyzer and anonymizer with the same
recognizers, resolution and masks; tests hold the two paths equal.

**Consistency.** A name (``PERSON``) or address (``CN_ADDRESS``) found once is masked wherever the
same string occurs again in the text (:func:`consistent`, on both paths): the detector may find
冯辉金 after a cue once and miss the sixteen other mentions. Only strings of at least
``MIN_CONSISTENT_CHARS`` characters are propagated (a surname alone, 王 of 王先生, would mask every 王),
and only where they overlap no kept finding. Across the columns of one row,
:mod:`datahub.privacy.policy` does the same with :func:`mask_in_rows` (from the names and addresses
:func:`scan_free_text` reports found), and masks the row's own personal values in its free text.
"""

from __future__ import annotations

import functools
import itertools
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import polars as pl
from presidio_anonymizer import AnonymizerEngine
from presidio_anonymizer.entities import InvalidParamError, OperatorConfig, RecognizerResult
from presidio_anonymizer.operators import Operator, OperatorType

from datahub.privacy.analyzer import LANGUAGE, build_analyzer
from datahub.privacy.recognizers import SecondLookPersonRecognizer
from datahub.privacy.recognizers.lexicon import COMPOUND_SURNAMES
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
    "PERSON_SECOND_LOOK": "person_name",
    "CN_ADDRESS": "address",
    "PHONE_NUMBER": "mobile_phone",
    "US_SSN": "mobile_phone",
    "CREDIT_CARD": "mobile_phone",
}
"""The mask each recognized entity gets inside free text."""

ADDRESS_UNITS: tuple[str, ...] = ("街道", "镇", "路", "街")
"""An address is kept up to the first of these; 街道 is listed before 街 so that it is kept whole."""

_ADMIN_PREFIX = "^(?:[^小社园校景片库，,。 ]{1,4}?(?:省|自治区|市|州|盟|区|县|旗))+"
"""What is kept of an address without a street unit: its administrative areas (北京市朝阳区 of
北京市朝阳区某某小区5号楼), nothing when it names none (余家头小区3栋, 幸福里5号). An area's name holds no
小, 社, 园… (so 小区, 社区, 园区 end no area) and at most four characters."""

_STRIP = " \t\r\n"
_ADDRESS_PREFIX = "(?s)^.*?(?:" + "|".join(ADDRESS_UNITS) + ")"
_ADDRESS_PREFIX_RE = re.compile(_ADDRESS_PREFIX)
_ADMIN_PREFIX_RE = re.compile(_ADMIN_PREFIX)
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
    if value in COMPOUND_SURNAMES:
        return _keep(value, 0)  # 慕容 of 慕容女士: a surname alone is masked whole
    return _keep(value, 1 if len(value) > 1 else 0)


def _mask_address(value: str) -> str:
    if street := _ADDRESS_PREFIX_RE.match(value):
        return _keep(value, street.end())
    areas = _ADMIN_PREFIX_RE.match(value)
    return _keep(value, min(areas.end(), len(value) - 1) if areas else 0)


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
    surnames = list(COMPOUND_SURNAMES)
    compound = (length > 2) & value.str.head(2).is_in(surnames)
    alone = value.is_in(surnames)
    return _keep_expr(
        value, pl.when(compound).then(2).when(alone).then(0).when(length > 1).then(1).otherwise(0)
    )


def _address_expr(value: pl.Expr) -> pl.Expr:
    prefix_length = value.str.extract(f"({_ADDRESS_PREFIX})").str.len_chars().cast(pl.Int64)
    areas = value.str.extract(f"({_ADMIN_PREFIX})").str.len_chars().cast(pl.Int64)
    length = value.str.len_chars().cast(pl.Int64)
    kept_areas = pl.when(areas.is_not_null()).then(pl.min_horizontal(areas, (length - 1).clip(0)))
    return _keep_expr(value, pl.coalesce(prefix_length, kept_areas, 0))


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
    """The findings to mask: where two overlap, the higher score wins, then the longer, then the first.
    A name of the second look that starts before a name of the first and reaches into it extends it to
    its start (秀英 first, 成秀英 on the second look: 成秀英 is masked, the surname included)."""
    ordered = _joined_names(sorted(findings, key=by_position))
    if disjoint(ordered):
        return ordered
    kept: list[Finding] = []
    for finding in sorted(ordered, key=lambda f: (-f.score, f.start - f.end, f.start)):
        if all(finding.end <= other.start or other.end <= finding.start for other in kept):
            kept.append(finding)
    return sorted(kept, key=by_position)


CONSISTENT_ENTITIES: frozenset[str] = frozenset({"PERSON", "PERSON_SECOND_LOOK", "CN_ADDRESS"})
"""Entities whose string, once found, is masked at every other occurrence in the text and the row."""

MIN_CONSISTENT_CHARS = 2
"""Shortest string propagated: one character (a surname alone) would mask every use of it."""


def consistent(text: str, kept: list[Finding]) -> list[Finding]:
    """``kept`` (resolved findings, by position) and every other occurrence in ``text`` of the string of a
    kept ``PERSON`` or ``CN_ADDRESS`` finding of ``MIN_CONSISTENT_CHARS`` characters or more, as a
    finding of the same entity and score, where it overlaps no finding already there.

    Longer strings go first (冯辉金 before 冯辉), and each string's occurrences from left to right.
    """
    strings: dict[str, Finding] = {}
    for finding in kept:
        if finding.type in CONSISTENT_ENTITIES and finding.end - finding.start >= MIN_CONSISTENT_CHARS:
            strings.setdefault(text[finding.start : finding.end], finding)
    if not strings:
        return kept
    taken = list(kept)
    added = False
    for string, finding in sorted(strings.items(), key=lambda item: (-len(item[0]), item[1].start)):
        position = text.find(string)
        while position >= 0:
            end = position + len(string)
            if all(end <= other.start or other.end <= position for other in taken):
                taken.append(Finding(finding.type, position, end, finding.score))
                added = True
                position = text.find(string, end)
            else:
                position = text.find(string, position + 1)
    return sorted(taken, key=by_position) if added else kept


def _joined_names(ordered: list[Finding]) -> list[Finding]:
    second = [f for f in ordered if f.type == "PERSON_SECOND_LOOK"]
    if not second:
        return ordered
    out = []
    for f in ordered:
        if f.type == "PERSON":
            for s in second:
                if s.start < f.start < s.end:  # the first look missed the surname: never a word after
                    f = Finding("PERSON", s.start, f.end, f.score)
        out.append(f)
    return sorted(out, key=by_position)


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
    """``text`` with every resolved finding masked by the rule of its entity, names and addresses
    wherever they occur (:func:`consistent`)."""
    return _mask_spans(text, consistent(text, resolve(findings)))


Found = tuple[tuple[str, str, str], ...]
"""Per text, the (entity, string, mask) of each name or address found that :func:`consistent` propagates."""


def _masked(text: str, findings: list[Finding]) -> tuple[str, tuple[str, ...], Found]:
    """The text masked, the type of each entity masked in it, and the names and addresses found in it
    that are propagated (module level: it runs in workers)."""
    kept = consistent(text, resolve(findings))
    found: dict[str, tuple[str, str, str]] = {}
    for f in kept:
        string = text[f.start : f.end]
        if f.type in CONSISTENT_ENTITIES and len(string) >= MIN_CONSISTENT_CHARS and string not in found:
            found[string] = (f.type, string, _MASKERS[ENTITY_MASK_KIND[f.type]](_normalise(string)))
    return _mask_spans(text, kept), tuple(f.type for f in kept), tuple(found.values())


@dataclass(frozen=True)
class ScannedText:
    """A free-text column masked (:func:`scan_free_text`)."""

    masked: pl.Series
    counts: dict[str, int]  # entity type -> entities masked, each text counted as often as it occurs
    found: pl.DataFrame  # text, entity, value, mask: the names and addresses found in each distinct text


FOUND_SCHEMA = {"text": pl.String, "entity": pl.String, "value": pl.String, "mask": pl.String}


def scan_free_text(series: pl.Series) -> ScannedText:
    """Free texts with every entity the recognizers find masked in place (names and addresses wherever
    they occur in the text), how many of each type, and the names and addresses found."""
    texts = _as_strings(series)
    counts = dict.fromkeys(ENTITY_MASK_KIND, 0)
    with no_cycle_collection():
        scanned = transform_texts(texts, _masked, tuple(ENTITY_MASK_KIND))
        if not scanned:
            return ScannedText(texts, counts, pl.DataFrame(schema=FOUND_SCHEMA))
        old = pl.Series(list(scanned), dtype=pl.String)
        new = pl.Series([masked for masked, _, _ in scanned.values()], dtype=pl.String)
        # Most texts occur once; those that repeat count as often as they occur.
        repeated = texts.value_counts().filter(pl.col("count") > 1)
        occurrences = dict(zip(repeated.to_series(0).to_list(), repeated.to_series(1).to_list(), strict=True))
        for text, (_, entities, _) in scanned.items():
            times = occurrences.get(text, 1)
            for entity in entities:
                counts[entity] += times
        found = pl.DataFrame(
            [(text, *entry) for text, (_, _, names) in scanned.items() for entry in names],
            schema=FOUND_SCHEMA,
            orient="row",
        )
    return ScannedText(texts.replace(old, new).alias(series.name), counts, found)


def scan_text_column(series: pl.Series) -> tuple[pl.Series, dict[str, int]]:
    """Free texts with every entity the recognizers find masked in place, and how many of each type."""
    scanned = scan_free_text(series)
    return scanned.masked, scanned.counts


_FULL_WIDTH = [chr(c) for c in range(0xFF01, 0xFF5F)]
_ASCII = [chr(c) for c in range(0x21, 0x7F)]


def full_width(values: pl.Expr) -> pl.Expr:
    """``values`` with printable ASCII written full width (``138…`` as ``１３８…``): NFKC folds it back."""
    return values.str.replace_many(_ASCII, _FULL_WIDTH)


_MAY_CHANGE = r"[^\x21-\x7e\x{4e00}-\x{9fff}]"
"""A character NFKC or stripping may change: not printable ASCII nor a CJK Unified Ideograph."""


def normalised_values(values: pl.Series) -> pl.Series:
    """``values`` as text, NFKC-normalised and stripped as every value is before it is masked; only the
    values that may change pay for it (delivered values have been normalised by conformity already)."""
    strings = _as_strings(values)
    todo = strings.str.contains(_MAY_CHANGE).fill_null(False).arg_true()
    if todo.len() == 0:
        return strings
    changed = strings.gather(todo).str.normalize("NFKC").str.strip_chars(_STRIP)
    return strings.clone().scatter(todo, changed)


def _literal_hits(texts: pl.Series, literals: pl.DataFrame) -> pl.DataFrame:
    """The rows of ``literals`` (at least ``row``, a position in ``texts``, and ``value``) whose value
    occurs in that row's text, each as often as it occurs, with the text (column ``text``)."""
    rows = texts.to_frame("text").with_row_index("row")
    return (
        literals.with_columns(pl.col("row").cast(pl.UInt32))
        .join(rows, on="row", how="inner")
        .filter(pl.col("text").str.contains(pl.col("value"), literal=True))
    )


def _hide(raw: str, masked: str, value: str, mask: str) -> tuple[str, int]:
    """``masked`` (``raw`` as the recognizers masked it) with each occurrence of ``value`` in ``raw``
    hidden as ``mask`` hides it, character by character: a character either hides stays hidden, so a
    finding over part of the value (秋白 of 司徒秋白) does not leave the rest in clear; and how many
    occurrences it hid something of. Where masking changed the text's length, positions no longer
    line up: the value is then replaced wherever it is still verbatim."""
    if len(raw) != len(masked) or len(value) != len(mask):
        return masked.replace(value, mask), masked.count(value)
    chars = list(masked)
    hidden = 0
    start = raw.find(value)
    while start >= 0:
        changed = False
        for i, kept in enumerate(mask, start):
            if kept != raw[i] and chars[i] == raw[i]:
                chars[i], changed = kept, True
        hidden += changed
        start = raw.find(value, start + len(value))
    return ("".join(chars) if hidden else masked), hidden


def mask_in_rows(
    raw: pl.Series, masked: pl.Series, literals: pl.DataFrame
) -> tuple[pl.Series, dict[str, int]]:
    """``masked`` (``raw`` as the recognizers masked it) with every occurrence in ``raw`` of each of
    its row's ``literals`` (``row``: a position in ``raw``, ``value``, ``mask``, ``label``) hidden by
    the literal's mask too (:func:`_hide`), and the occurrences hidden per label.

    The rows whose raw text holds a value are found in polars, and so are those where the recognizers
    already masked its one occurrence exactly as its mask would (a name found by a cue); the rest go
    through :func:`_hide`, a row's values longer first.
    """
    hits = _literal_hits(raw, literals)
    if hits.height == 0:
        return masked, {}
    value, text, now = pl.col("value"), pl.col("text"), pl.col("masked")
    first = text.str.split(value).list.first().str.len_chars()
    done = (
        (text.str.count_matches(value, literal=True) == 1)
        & (text.str.len_chars() == now.str.len_chars())
        & (now.str.slice(first, value.str.len_chars()) == pl.col("mask"))
    )
    todo = (
        hits.unique(["row", "value"], keep="first", maintain_order=True)
        .join(masked.to_frame("masked").with_row_index("row"), on="row", how="left")
        .filter(~done)
        .sort("row", value.str.len_chars(), descending=[False, True], maintain_order=True)
    )
    rows: list[int] = []
    texts: list[str] = []
    counts: dict[str, int] = {}
    for row, group in itertools.groupby(
        todo.select("row", "value", "mask", "label", "text", "masked").iter_rows(), key=lambda r: r[0]
    ):
        current = None
        for _, found, mask, label, before, after in group:
            current, n = _hide(before, after if current is None else current, found, mask)
            if n:
                counts[label] = counts.get(label, 0) + n
        if current is not None:
            rows.append(row)
            texts.append(current)
    if not rows:
        return masked, {}
    out = masked.clone().scatter(pl.Series(rows, dtype=pl.UInt32), pl.Series(texts, dtype=pl.String))
    return out, counts


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


@functools.cache
def _second_look() -> SecondLookPersonRecognizer:
    return SecondLookPersonRecognizer()


def presidio_mask_text(text: str) -> str:
    """One text masked through Presidio's analyzer and anonymizer, as :func:`scan_text_column` masks it.

    The analyzer's results and the names of the second look (:class:`SecondLookPersonRecognizer`, which
    the analyzer does not hold) are resolved as :func:`resolve` does, and names and addresses propagated as
    :func:`consistent` does, before the anonymizer sees them, and adjacent entities separated by
    spaces stay separate (``merge_entities_with_spaces=False``): Presidio would otherwise mask two
    phone numbers in a row as one value.
    """
    entities = [e for e in ENTITY_MASK_KIND if e != SecondLookPersonRecognizer.ENTITY]
    found = build_analyzer().analyze(text=text, language=LANGUAGE, entities=entities)
    found += _second_look().analyze(text, [SecondLookPersonRecognizer.ENTITY])
    kept = consistent(text, resolve(Finding(r.entity_type, r.start, r.end, r.score) for r in found))
    results = [RecognizerResult(f.type, f.start, f.end, f.score) for f in kept]
    operators = {
        entity: OperatorConfig(CnMaskOperator.NAME, {CnMaskOperator.KIND: kind})
        for entity, kind in ENTITY_MASK_KIND.items()
    }
    return _anonymizer().anonymize(text, results, operators=operators, merge_entities_with_spaces=False).text

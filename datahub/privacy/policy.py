"""Per-column desensitisation policy from the contract, and k-anonymity of what is shared.

The contract's ``desensitise`` property (or the default from the dictionary's personal-data class:
free text is scanned, direct identifiers masked, quasi-identifiers generalised) chooses the method:

==========  =========================================================================================
keep        shared as it is
mask        the shape stays, the middle goes (:mod:`datahub.privacy.masking`; phones and cards keep
            their last four digits)
pseudonym   a keyed token, HMAC-SHA256 of the value under the platform's secret key: the same value
            gives the same token in every dataset and run, so consumers can link events without
            seeing the value, and nobody without the key can compute or reverse it
generalise  coarser: an address to its street, a birth date to its year, an age to a five-year band
redact      the value is dropped
scan        free text: every entity the recognizers find is masked in place
==========  =========================================================================================

Free text is made consistent within each row: a name or address found in one scanned column is
masked in the row's other scanned columns too, and the row's own personal values (the caller's name,
phone, id, address: :func:`cross_column_sources`) are masked wherever they occur verbatim in its free
text, whatever the recognizers say (:func:`cross_column_literals`; docs/privacy.md, "Consistency and
the cross-column rule").

Then k-anonymity (GB/T 37964): the quasi-identifiers that are shared (kept or generalised) must put
every row among at least ``k`` alike (the contract's ``kAnonymity``, default 5).
:func:`~datahub.privacy.kanonymity.enforce_k_anonymity` generalises them further, starting from the
level the policy chose, and withholds the rows of the classes still too small; the caller accounts
for them, so rows in = shared + withheld + quarantined.
"""

from __future__ import annotations

import hashlib
import hmac
import unicodedata
from dataclasses import dataclass

import polars as pl

from datahub.contracts import Column, Dataset, Desensitise
from datahub.dictionary import ElementType, PersonalClass, Validator
from datahub.privacy.kanonymity import (
    Generaliser,
    KAnonymityResult,
    address_generaliser,
    age_generaliser,
    date_generaliser,
    enforce_k_anonymity,
    suppress_generaliser,
)
from datahub.privacy.masking import (
    MIN_CONSISTENT_CHARS,
    ScannedText,
    full_width,
    mask_column,
    mask_in_rows,
    normalised_values,
    scan_free_text,
    scan_text_column,
)

_KIND_BY_VALIDATOR = {Validator.cn_mobile: "mobile_phone", Validator.cn_resident_id: "resident_id"}
_KIND_BY_ELEMENT = {
    "person_name": "person_name",
    "address": "address",
    "email": "email",
    "license_plate": "plate",
}

PSEUDONYM_LENGTH = 20
"""Characters of a pseudonym: 80 bits of the HMAC, so two people share a token with odds of 1 in 10^24."""

_HEX_AS_LETTERS = str.maketrans("0123456789abcdef", "abcdefghijklmnop")

# The generaliser of each quasi-identifier element and the level ``generalise`` means for it.
_GENERALISERS = {
    "address": (address_generaliser, 1),  # to the street
    "birth_date": (date_generaliser, 2),  # to the year
    "age": (age_generaliser, 1),  # to a five-year band
}

ROW = "__row__"
_TEXT = "__text__"


def mask_kind(column: Column) -> str:
    """The mask shape for a column: phones keep their last four digits, names their surname…"""
    element = column.element
    if element is None:
        return "generic"
    if element.validator in _KIND_BY_VALIDATOR:
        return _KIND_BY_VALIDATOR[element.validator]
    return _KIND_BY_ELEMENT.get(element.id, "generic")


def pseudonym(value: str, key: bytes) -> str:
    """The token of ``value`` (NFKC-normalised and stripped first, so ``１３８…`` and ``138…`` agree).

    Hex written with the letters a-p: a token holds no digit, so it can never look like a phone
    number, an id or any other identifier to the leak scanner.
    """
    normalised = unicodedata.normalize("NFKC", value).strip()
    digest = hmac.new(key, normalised.encode("utf-8"), hashlib.sha256).hexdigest()
    return digest[:PSEUDONYM_LENGTH].translate(_HEX_AS_LETTERS)


def pseudonym_column(series: pl.Series, key: bytes) -> pl.Series:
    """:func:`pseudonym` of every value, computed once per distinct value; ``None`` stays ``None``."""
    strings = series if series.dtype == pl.String else series.cast(pl.String)
    distinct = strings.drop_nulls().unique()
    tokens = pl.Series([pseudonym(v, key) for v in distinct.to_list()], dtype=pl.String)
    return strings.replace_strict(distinct, tokens, default=None, return_dtype=pl.String).alias(series.name)


class _From:
    """``base`` continued from level ``start``, over values already generalised to it.

    Level 0 is the values as given (what the policy made of them); level ``n`` is ``base`` at
    ``start + n`` of an original value behind each given one. Generalisation levels nest (values
    equal at one level are equal at every higher one), so any original behind a value will do.
    """

    def __init__(self, base: Generaliser, start: int, original: pl.Series) -> None:
        self.base, self.start = base, start
        self.name = base.name
        self.levels = base.levels - start
        self.given = base.apply(original, start) if start else original
        behind = pl.DataFrame({"given": self.given, "original": original})
        self._behind = behind.unique("given", keep="first", maintain_order=True)

    def apply(self, values: pl.Series, level: int) -> pl.Series:
        if level == 0:
            return values
        original = values.to_frame("given").join(
            self._behind, on="given", how="left", nulls_equal=True, maintain_order="left"
        )
        return self.base.apply(original.get_column("original"), self.start + level)


def _generaliser(column: Column) -> tuple[Generaliser, int]:
    factory, level = _GENERALISERS.get(column.element.id if column.element else "", (suppress_generaliser, 0))
    return factory(), level if column.desensitise is Desensitise.generalise else 0


def quasi_identifiers(dataset: Dataset) -> list[Column]:
    """The quasi-identifier columns that are shared in a recognisable form (kept or generalised)."""
    return [
        c
        for c in dataset.columns
        if c.personal_class is PersonalClass.quasi_identifier
        and c.desensitise in (Desensitise.keep, Desensitise.generalise)
    ]


@dataclass(frozen=True)
class Desensitised:
    """A frame as it may be shared, the input rows withheld for k-anonymity, and what was done."""

    frame: pl.DataFrame
    withheld: pl.Series  # row positions in the input
    counts: dict[str, int]
    k_anonymity: KAnonymityResult | None


def _k_anonymous(
    frame: pl.DataFrame, dataset: Dataset
) -> tuple[pl.DataFrame, pl.Series, pl.Series, KAnonymityResult | None]:
    """The frame k-anonymous, the input rows withheld, the input rows kept (in the frame's order)."""
    quasi = {
        c.name: _From(*_generaliser(c), frame.get_column(c.name))
        for c in quasi_identifiers(dataset)
        if c.name in frame.columns
    }
    rows = pl.int_range(frame.height, eager=True, dtype=pl.UInt32).alias(ROW)
    if not quasi:
        return frame, rows.clear(), rows, None
    given = frame.with_columns([g.given.alias(name) for name, g in quasi.items()] + [rows])
    result = enforce_k_anonymity(given, quasi, k=dataset.k_anonymity)
    kept = result.frame.get_column(ROW)
    return result.frame.drop(ROW), rows.filter(~rows.is_in(kept.implode())), kept, result


CROSS_COLUMN = "cross_column"
"""Counted per scanned column (``<column>:cross_column``): the row's personal values masked in its text."""

CROSS_COLUMN_LEAK = "CROSS_COLUMN"
"""Label of a personal value found in a row's text (``CROSS_COLUMN:<personal column>``), as a count
label here and as the entity of a leak in :mod:`datahub.privacy.leaks`."""


def cross_column_sources(dataset: Dataset) -> list[Column]:
    """The columns whose values the cross-column rule looks for in the row's free text: direct and
    quasi-identifiers held as strings (names, phones, ids, addresses, emails, plates). Not coded ones
    (a gender code), not dates or numbers (an age of 35 would hit every 35 of the text), not free text."""
    return [
        c
        for c in dataset.columns
        if c.personal_class in (PersonalClass.direct_identifier, PersonalClass.quasi_identifier)
        and c.type is ElementType.string
        and not (c.code_table or c.crosswalk)
        and c.desensitise is not Desensitise.scan
    ]


def personal_values(frame: pl.DataFrame, dataset: Dataset, withheld: pl.Series | None = None) -> pl.DataFrame:
    """The raw values of the :func:`cross_column_sources` of ``frame``, less the rows at the ``withheld``
    positions: aligned by row with what :func:`desensitise` shares of ``frame`` (the leak scan's
    ``personal``)."""
    rows = frame.select(c.name for c in cross_column_sources(dataset) if c.name in frame.columns)
    if withheld is not None and withheld.len():
        rows = rows.filter(~pl.int_range(pl.len()).is_in(withheld.implode()))
    return rows


_LITERALS_SCHEMA = {
    "row": pl.UInt32,
    "value": pl.String,
    "mask": pl.String,
    "label": pl.String,
    "text": pl.String,
}
_FULL_WIDTH_ALNUM = "[\uff10-\uff19\uff21-\uff3a\uff41-\uff5a]"
"""Full-width digits and letters (not the full-width punctuation every Chinese text uses)."""


def cross_column_literals(texts: pl.Series, personal: pl.DataFrame, dataset: Dataset) -> pl.DataFrame:
    """The personal values of each row (``personal``, aligned by row with ``texts``) that occur
    verbatim in the row's text and that their mask changes: ``row``, ``value`` (as the text spells it),
    ``mask`` (the column's, :func:`mask_kind`), ``label`` (``CROSS_COLUMN:<column>``), ``text``.

    Values are NFKC-normalised and stripped, and only those of ``MIN_CONSISTENT_CHARS`` characters or
    more count; a value's full-width spelling (``１３８…``) counts as the value. In polars: every
    row's values are looked for at once (one column of values per core), full-width spellings only in
    the texts that hold full-width digits or letters, and only the values found are masked.
    """
    sources = [c.name for c in cross_column_sources(dataset) if c.name in personal.columns]
    if not sources or texts.len() == 0:
        return pl.DataFrame(schema=_LITERALS_SCHEMA)
    if personal.height != texts.len():
        raise ValueError(f"personal values of {personal.height} rows for {texts.len()} texts")
    rows = (
        pl.DataFrame([normalised_values(personal.get_column(name)) for name in sources])
        .with_columns(pl.Series(_TEXT, texts, dtype=pl.String))
        .with_row_index("row")
    )
    text = pl.col(_TEXT)

    def occurs(name: str, spelled: pl.Expr) -> pl.Expr:
        long_enough = pl.col(name).str.len_chars() >= MIN_CONSISTENT_CHARS
        return (long_enough & text.str.contains(spelled, literal=True)).fill_null(False).alias(name)

    # One expression per personal column in one select: polars runs them in parallel.
    found_as_given = rows.select(occurs(name, pl.col(name)) for name in sources)
    wide = rows.filter(text.str.contains(_FULL_WIDTH_ALNUM).fill_null(False))
    found_wide = wide.select(
        occurs(name, full_width(pl.col(name))) & (full_width(pl.col(name)) != pl.col(name))
        for name in sources
    )
    found = []
    for column in (dataset.column(name) for name in sources):
        value = pl.col(column.name)
        hits = pl.concat(
            [
                rows.filter(found_as_given.get_column(column.name)).select(
                    "row", text, plain=value, value=value
                ),
                wide.filter(found_wide.get_column(column.name)).select(
                    "row", text, plain=value, value=full_width(value)
                ),
            ]
        )
        if hits.height == 0:
            continue
        masks = mask_column(hits.get_column("plain"), mask_kind(column)).alias("mask")
        found.append(
            hits.with_columns(masks, label=pl.lit(f"{CROSS_COLUMN_LEAK}:{column.name}"))
            .filter(pl.col("mask") != pl.col("plain"))
            .select("row", "value", "mask", "label", text.alias("text"))
        )
    return pl.concat(found) if found else pl.DataFrame(schema=_LITERALS_SCHEMA)


def _consistent_rows(
    raw: dict[str, pl.Series], scanned: dict[str, ScannedText], personal: pl.DataFrame, dataset: Dataset
) -> tuple[list[pl.Series], dict[str, int]]:
    """The scanned columns with, in each row, the row's personal values and the names and addresses
    found in its other scanned columns masked; and how many of each were."""
    out: list[pl.Series] = []
    counts: dict[str, int] = {}
    for name, result in scanned.items():
        literals = [cross_column_literals(raw[name], personal, dataset).drop("text")]
        for other, found in ((o, r.found) for o, r in scanned.items() if o != name and r.found.height):
            rows = raw[other].to_frame("text").with_row_index("row").join(found, on="text")
            literals.append(rows.select("row", "value", "mask", pl.col("entity").alias("label")))
        masked, occurrences = mask_in_rows(raw[name], result.masked, pl.concat(literals))
        for label, n in occurrences.items():
            key = f"{name}:{CROSS_COLUMN if label.startswith(CROSS_COLUMN_LEAK) else label}"
            counts[key] = counts.get(key, 0) + n
        out.append(masked.alias(name))
    return out, counts


def desensitise(frame: pl.DataFrame, dataset: Dataset, key: bytes) -> Desensitised:
    """The frame as it may be shared (see the module docstring), and how many values each method changed."""
    shared, withheld, kept, k_result = _k_anonymous(frame, dataset)
    counts: dict[str, int] = {}
    if k_result is not None:
        counts["k_anonymity:withheld"] = withheld.len()
        for name, level in k_result.levels.items():
            counts[f"{name}:generalised"] = int(shared.get_column(name).is_not_null().sum())
            counts[f"{name}:extra_levels"] = level
    replaced = []
    scanned: dict[str, ScannedText] = {}
    for column in dataset.columns:
        if column.name not in shared.columns:
            continue
        series = shared.get_column(column.name)
        present = int(series.is_not_null().sum())
        method = column.desensitise
        if method is Desensitise.redact:
            out = pl.Series(column.name, [None] * shared.height, dtype=series.dtype)
            counts[f"{column.name}:redacted"] = present
        elif method is Desensitise.mask:
            out = mask_column(series.cast(pl.String), mask_kind(column))
            counts[f"{column.name}:masked"] = present
        elif method is Desensitise.pseudonym:
            out = pseudonym_column(series, key)
            counts[f"{column.name}:pseudonymised"] = present
        elif method is Desensitise.scan:
            scanned[column.name] = scan_free_text(series.cast(pl.String))
            counts.update({f"{column.name}:{e}": n for e, n in scanned[column.name].counts.items() if n})
            continue  # made consistent across the row below
        else:  # keep, or generalise (done with k-anonymity above)
            continue
        replaced.append(out.alias(column.name))
    if scanned:
        personal = personal_values(frame, dataset)
        personal = pl.DataFrame([personal.get_column(name).gather(kept) for name in personal.columns])
        raw = {name: shared.get_column(name).cast(pl.String) for name in scanned}
        consistent, found = _consistent_rows(raw, scanned, personal, dataset)
        replaced += consistent
        for name, n in found.items():
            counts[name] = counts.get(name, 0) + n
    return Desensitised(shared.with_columns(replaced), withheld, counts, k_result)


def mask_for_quarantine(column: Column, values: pl.Series) -> pl.Series:
    """Values of personal columns as written into quarantine reasons: masked, never raw."""
    if column.personal_class in (PersonalClass.direct_identifier, PersonalClass.quasi_identifier):
        return mask_column(values, mask_kind(column))
    if column.element is not None and column.element.free_text:
        return scan_text_column(values)[0]
    return values

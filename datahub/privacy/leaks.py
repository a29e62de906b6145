"""The leak scanner: direct identifiers left in what is (or is about to be) shared.

Every text column of a frame is scanned with the recognizers (:func:`~datahub.privacy.scanner.scan_texts`)
for the entities GB/T 37964 counts as direct identifiers. Columns that cannot hold one are skipped:
codes of a code table or crosswalk (the dictionary decides their values) and the lineage columns the
platform adds. Anything found is a leak. The pipeline runs this on every snapshot before it is
published (a leak blocks the publication) and ``datahub pii audit`` on what is published.

Masked values never match (``张*``, ``*******5678``, ``110105********002X``), nor do pseudonyms (hex
written in letters); addresses and IP addresses are quasi-identifiers and are not leaks by themselves.

The gate should not share the blind spots of the masking pass it checks, so it looks in two more ways:

* **Cross-column.** Given the raw personal values of the rows (``personal``, from
  :func:`~datahub.privacy.policy.personal_values`, aligned by row with the frame), a row's own
  personal value (its caller's name, phone, id or address) left verbatim in one of its text columns
  that is not itself personal is a leak of entity ``CROSS_COLUMN:<personal column>``, whatever the
  recognizers say (the values looked for as the masking pass looks for them:
  :func:`~datahub.privacy.policy.cross_column_literals`); where a recognizer's finding overlaps it,
  that finding is the leak reported.
* **A second look at names.** Names are looked for with the model's threshold lowered
  (``scan_texts(..., sensitive=True)``: :data:`~datahub.privacy.lexical.SENSITIVE_PERSON_BIAS`
  against the masking pass's :data:`~datahub.privacy.lexical.PERSON_BIAS`), so that a name the
  masking pass would let through is caught. In free-text columns the masking pass itself takes this
  second look and masks what it finds (``PERSON_SECOND_LOOK``, from the same model encoding), so
  before a publication those columns (``looked``) are scanned for identifiers and personal values;
  every other text column is scanned for names at the lowered threshold, and a name there blocks.
  ``datahub pii audit`` (:func:`find_leaks` over what is published) reads every text column so.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING

import polars as pl

from datahub.contracts import Dataset
from datahub.dictionary import PersonalClass
from datahub.privacy.masking import mask_text
from datahub.privacy.policy import cross_column_literals
from datahub.privacy.scanner import Finding, scan_texts

if TYPE_CHECKING:
    from datahub.platform import Platform

LEAK_ENTITIES: tuple[str, ...] = (
    "CN_RESIDENT_ID",
    "CN_MOBILE",
    "CN_LANDLINE",
    "CN_BANK_CARD",
    "EMAIL_ADDRESS",
    "CN_LICENSE_PLATE",
    "PERSON",
    "PHONE_NUMBER",
    "US_SSN",
    "CREDIT_CARD",
)
"""Direct identifiers: each points at one person without anything else."""

LINEAGE_COLUMNS = frozenset({"_source_file", "_row_number", "_ingested_at", "_file_hash"})


@dataclass(frozen=True)
class Leak:
    """Rows of one column holding an entity; ``sample`` is one of those values, masked."""

    column: str
    entity: str
    rows: int
    sample: str

    def as_dict(self) -> dict[str, object]:
        return {"column": self.column, "entity": self.entity, "rows": self.rows, "sample": self.sample}


def scanned_columns(frame: pl.DataFrame, dataset: Dataset | None = None) -> list[str]:
    """The text columns that may hold a direct identifier."""
    coded = {c.name for c in dataset.columns if c.code_table or c.crosswalk} if dataset else set()
    return [
        name
        for name, dtype in frame.schema.items()
        if dtype == pl.String and name not in coded and name not in LINEAGE_COLUMNS
    ]


def _not_of_people(dataset: Dataset) -> frozenset[str]:
    """Columns not looked in for names: those whose dictionary element says what they hold, and it is
    no free text (an address generalised to its street, a category); their column policy governs
    them, and the model at the lowered threshold reads street names there as names."""
    return frozenset(c.name for c in dataset.columns if c.element is not None and not c.free_text)


def _sample(text: str, findings: list[Finding], hidden: list[tuple[str, str]]) -> str:
    """``text`` as a leak's sample: its findings masked, and the personal values of its row."""
    sample = mask_text(text, findings)
    for value, mask in hidden:
        sample = sample.replace(value, mask)
    return sample


def _cross_column_leaks(
    name: str, hits: pl.DataFrame, found: dict[str, list[Finding]], hidden: dict[str, list[tuple[str, str]]]
) -> list[Leak]:
    """Rows of column ``name`` holding a personal value of their own row (``hits``, from
    :func:`~datahub.privacy.policy.cross_column_literals`) that no finding covers."""
    rows: dict[str, set[int]] = {}
    samples: dict[str, str] = {}
    for row, value, _, label, text in hits.iter_rows():
        findings = found.get(text, [])
        position = text.find(value)
        while position >= 0:
            end = position + len(value)
            if all(end <= f.start or f.end <= position for f in findings):
                rows.setdefault(label, set()).add(row)
                samples.setdefault(label, _sample(text, findings, hidden[text]))
                break
            position = text.find(value, position + 1)
    return [Leak(name, label, len(at), samples[label]) for label, at in rows.items()]


def find_leaks(
    frame: pl.DataFrame,
    dataset: Dataset | None = None,
    personal: pl.DataFrame | None = None,
    *,
    looked: frozenset[str] = frozenset(),
) -> list[Leak]:
    """Every (column, entity) with rows holding a direct identifier, most rows first; names as the
    model finds them at its lowered threshold (``sensitive``).

    ``personal``: the raw personal values of the same rows (aligned by row with ``frame``; rows withheld
    for k-anonymity left out), for the cross-column check; it needs ``dataset``. Personal columns
    themselves are not looked in for other columns' values (a generalised address may hold a name's
    characters); the recognizers scan them as every text column. Names are looked for in free text
    and in columns the dictionary says nothing of (:func:`_not_of_people`), not in ``looked``: columns
    whose names the masking pass read at that threshold already (its second look over the free text).
    """
    if personal is not None and personal.width == 0:  # nothing personal to look for
        personal = None
    if personal is not None and personal.height != frame.height:
        raise ValueError(f"personal values of {personal.height} rows for a frame of {frame.height}")
    personal_columns = {
        c.name
        for c in (dataset.columns if dataset else ())
        if c.personal_class in (PersonalClass.direct_identifier, PersonalClass.quasi_identifier)
    }
    leaks: list[Leak] = []
    for name in scanned_columns(frame, dataset):
        values = frame.get_column(name)
        names = name not in looked and (dataset is None or name not in _not_of_people(dataset))
        entities = LEAK_ENTITIES if names else [e for e in LEAK_ENTITIES if e != "PERSON"]
        found = scan_texts(values, entities, sensitive=True)
        hidden: dict[str, list[tuple[str, str]]] = {}
        if personal is not None and dataset is not None and name not in personal_columns:
            hits = cross_column_literals(values, personal, dataset)
            longest_first = hits.sort(pl.col("value").str.len_chars(), descending=True, maintain_order=True)
            for value, mask, text in longest_first.select("value", "mask", "text").iter_rows():
                hidden.setdefault(text, []).append((value, mask))
            leaks += _cross_column_leaks(name, hits, found, hidden)
        if not found:
            continue
        texts = pl.Series(list(found), dtype=pl.String)
        occurrences = dict(values.filter(values.is_in(texts.implode())).value_counts().iter_rows())
        rows: Counter[str] = Counter()
        samples: dict[str, str] = {}
        for text, findings in found.items():
            for entity in {f.type for f in findings}:
                rows[entity] += occurrences[text]
                samples.setdefault(entity, _sample(text, findings, hidden.get(text, [])))
        leaks += [Leak(name, entity, n, samples[entity]) for entity, n in rows.items()]
    return sorted(leaks, key=lambda leak: (-leak.rows, leak.column, leak.entity))


@dataclass(frozen=True)
class Audit:
    """The leak scan of one dataset's current published snapshot."""

    dataset: str
    version: str | None
    rows: int
    leaks: list[Leak]

    def as_dict(self) -> dict[str, object]:
        return {
            "dataset": self.dataset,
            "version": self.version,
            "rows": self.rows,
            "leaks": [leak.as_dict() for leak in self.leaks],
        }


def audit_published(platform: Platform, datasets: list[Dataset]) -> list[Audit]:
    """:func:`find_leaks` over each dataset's current snapshot, one column at a time (memory stays
    that of the largest column); a dataset with nothing published is reported with no rows."""
    audits = []
    for dataset in datasets:
        published = platform.lake.current_version(dataset.name)
        if published is None:
            audits.append(Audit(dataset.name, None, 0, []))
            continue
        snapshot = pl.scan_pyarrow_dataset(platform.lake.rows(published))
        rows = snapshot.select(pl.len()).collect().item()
        schema = snapshot.collect_schema()
        leaks: list[Leak] = []
        for name in scanned_columns(pl.DataFrame(schema=schema), dataset):
            leaks += find_leaks(snapshot.select(name).collect(), dataset)
        audits.append(
            Audit(dataset.name, published.version, rows, sorted(leaks, key=lambda leak: -leak.rows))
        )
    return audits

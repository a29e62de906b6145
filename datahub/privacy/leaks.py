"""The leak scanner: direct identifiers left in what is (or is about to be) shared.

Every text column of a frame is scanned with the recognizers (:func:`~datahub.privacy.scanner.scan_texts`)
for the entities GB/T 37964 counts as direct identifiers. Columns that cannot hold one are skipped:
codes of a code table or crosswalk (the dictionary decides their values) and the lineage columns the
platform adds. Anything found is a leak. The pipeline runs this on every snapshot before it is
published (a leak blocks the publication) and ``datahub pii audit`` on what is published.

Masked values never match (``张*``, ``*******5678``, ``110105********002X``), nor do pseudonyms (hex
written in letters); addresses and IP addresses are quasi-identifiers and are not leaks by themselves.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING

import polars as pl

from datahub.contracts import Dataset
from datahub.privacy.masking import mask_text
from datahub.privacy.scanner import scan_texts

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


def find_leaks(frame: pl.DataFrame, dataset: Dataset | None = None) -> list[Leak]:
    """Every (column, entity) with rows holding a direct identifier, most rows first."""
    leaks: list[Leak] = []
    for name in scanned_columns(frame, dataset):
        values = frame.get_column(name)
        found = scan_texts(values, LEAK_ENTITIES)
        if not found:
            continue
        texts = pl.Series(list(found), dtype=pl.String)
        occurrences = dict(values.filter(values.is_in(texts.implode())).value_counts().iter_rows())
        rows: Counter[str] = Counter()
        samples: dict[str, str] = {}
        for text, findings in found.items():
            for entity in {f.type for f in findings}:
                rows[entity] += occurrences[text]
                samples.setdefault(entity, mask_text(text, findings))
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
        snapshot = platform.lake.scan_current(dataset.name)
        if snapshot is None:
            audits.append(Audit(dataset.name, None, 0, []))
            continue
        rows = snapshot.select(pl.len()).collect().item()
        schema = snapshot.collect_schema()
        leaks: list[Leak] = []
        for name in scanned_columns(pl.DataFrame(schema=schema), dataset):
            leaks += find_leaks(snapshot.select(name).collect(), dataset)
        manifest = platform.lake.current_manifest(dataset.name)
        version = manifest.version if manifest is not None else None
        audits.append(Audit(dataset.name, version, rows, sorted(leaks, key=lambda leak: -leak.rows)))
    return audits

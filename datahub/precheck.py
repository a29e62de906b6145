"""`datahub check`: validate a file against a contract before delivering it; nothing is landed or published.

A department runs its export through exactly the reader and conformity checks the pipeline uses, and
sees every row that would be quarantined, with its row number, column, reason and (masked) value.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from datahub.contracts import Dataset
from datahub.dictionary import Dictionary
from datahub.errors import UnreadableDelivery
from datahub.ingest.landing import name_problem, recorded
from datahub.ingest.readers import read_delivery
from datahub.ingest.refusals import refusal_counts, refused_rows
from datahub.privacy.policy import mask_for_quarantine
from datahub.quality.columns import differences
from datahub.quality.conformity import REASONS_COLUMN, conform
from datahub.quality.expectations import TABULAR_FORMATS


@dataclass
class FileCheck:
    file: str
    dataset: str
    rows_read: int
    rows_valid: int
    rows_invalid: int
    reasons: list[dict[str, Any]] = field(default_factory=list)
    problems: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # ignored columns; columns the checked stage warns of

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_file(path: Path, dataset: Dataset, dictionary: Dictionary) -> FileCheck:
    """Raises UnreadableDelivery when the file cannot be read as the dataset at all. Records the reader
    refuses (a line that is not JSON, a value too long) are problems like those conformity finds."""
    if problem := name_problem(Path(path).name):  # what ingest would refuse, check refuses too
        raise UnreadableDelivery(problem, file=recorded(path))
    read = read_delivery(path, dataset)
    result = conform(read.accepted(), dataset, dictionary, mask_value=mask_for_quarantine)
    refused = refused_rows(read, dataset).select("_row_number", REASONS_COLUMN)
    problems = [
        {"row": row["_row_number"], "column": r["column"], "reason": r["reason"], "value": r["value"]}
        for row in pl.concat([result.quarantine.select("_row_number", REASONS_COLUMN), refused])
        .sort("_row_number")
        .iter_rows(named=True)
        for r in row[REASONS_COLUMN]
    ]
    return FileCheck(
        file=str(path),
        dataset=dataset.name,
        rows_read=read.records,
        rows_valid=result.conformed.height,
        rows_invalid=result.quarantine.height + refused.height,
        reasons=[
            {"reason": r, "column": c, "rows": n}
            for r, c, n in [*result.reason_counts, *refusal_counts(refused)]
        ],
        problems=problems,
        notes=[*read.notes, *column_notes(read.frame.columns, dataset)],
    )


def column_notes(received: list[str], dataset: Dataset) -> list[str]:
    """What the ``columns_closed`` rule would warn of: optional columns missing, or another order."""
    ordered = (dataset.delivery.format or "").lower() in TABULAR_FORMATS
    found = differences([c.physical_name for c in dataset.columns], received, ordered=ordered)
    return [f"columns_closed would warn: {found.describe()}"] if found else []

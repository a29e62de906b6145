"""`datahub check`: validate a file against a contract before delivering it; nothing is landed or published.

A department runs its export through exactly the reader and conformity checks the pipeline uses, and
sees every row that would be quarantined, with its row number, column, reason and (masked) value.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from datahub.contracts import Dataset
from datahub.dictionary import Dictionary
from datahub.ingest.readers import read_delivery
from datahub.privacy.policy import mask_for_quarantine
from datahub.quality.conformity import REASONS_COLUMN, conform


@dataclass
class FileCheck:
    file: str
    dataset: str
    rows_read: int
    rows_valid: int
    rows_invalid: int
    reasons: list[dict[str, Any]] = field(default_factory=list)
    problems: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_file(path: Path, dataset: Dataset, dictionary: Dictionary) -> FileCheck:
    """Raises UnreadableDelivery when the file cannot be read as the dataset at all."""
    raw = read_delivery(path, dataset)
    raw = raw.with_row_index("_row_number", offset=1)
    result = conform(raw, dataset, dictionary, mask_value=mask_for_quarantine)
    problems = [
        {"row": row["_row_number"], "column": r["column"], "reason": r["reason"], "value": r["value"]}
        for row in result.quarantine.select("_row_number", REASONS_COLUMN).iter_rows(named=True)
        for r in row[REASONS_COLUMN]
    ]
    return FileCheck(
        file=str(path),
        dataset=dataset.name,
        rows_read=raw.height,
        rows_valid=result.conformed.height,
        rows_invalid=result.quarantine.height,
        reasons=[{"reason": r, "column": c, "rows": n} for r, c, n in result.reason_counts],
        problems=problems,
    )

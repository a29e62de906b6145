"""Records the reader refused, as quarantine rows: the record's readable values, its number and its
reasons, the delivered text masked as conformity masks a value. The pipeline adds them to the
delivery's quarantine (so rows in = published + quarantined counts them); `datahub check` lists them.
"""

from __future__ import annotations

from collections import Counter

import polars as pl

from datahub.contracts import Dataset
from datahub.ingest.readers import Delivered
from datahub.privacy.masking import scan_text_column
from datahub.privacy.policy import mask_for_quarantine
from datahub.quality.conformity import REASONS_COLUMN, REASONS_DTYPE

COLUMN_LENGTH = 100  # the longest column name a quarantine reason count records


def refused_rows(read: Delivered, dataset: Dataset) -> pl.DataFrame:
    """The refused records (``_row_number`` and the values read, without those at fault) with their
    reasons. The delivered text of a record as a whole, or of a column the contract lacks, is masked
    as free text is."""
    columns = {c.physical_name: c for c in dataset.columns}
    reasons: dict[int, list[dict[str, str]]] = {}
    for problem in read.problems:
        text = pl.Series([problem.value], dtype=pl.String)
        column = columns.get(problem.column)
        shown = mask_for_quarantine(column, text) if column else scan_text_column(text)[0]
        reasons.setdefault(problem.index, []).append(
            {"reason": problem.reason.value, "column": problem.column, "value": shown.item()}
        )
    listed = pl.Series(REASONS_COLUMN, [reasons[i] for i in sorted(reasons)], dtype=REASONS_DTYPE)
    return read.refused().with_columns(listed)


def refusal_counts(rows: pl.DataFrame) -> list[tuple[str, str, int]]:
    """(reason, column, rows) of refused rows, most rows first."""
    counts = Counter(
        (r["reason"], r["column"]) for reasons in rows.get_column(REASONS_COLUMN) for r in reasons
    )
    return [(reason, column[:COLUMN_LENGTH], n) for (reason, column), n in counts.most_common()]

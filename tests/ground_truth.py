"""Compare what the pipeline found with what the generator injected (its ground_truth.csv)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import polars as pl
from sqlalchemy import select

from datahub.metadata import Delivery, Finding
from datahub.platform import Platform
from datahub.quality.reasons import Reason

ROW_LEVEL = tuple(Reason)


def expected_quarantine(ground_truth: Path, dataset: str) -> set[tuple[str, int, str, str]]:
    truth = pl.read_csv(ground_truth, infer_schema=False).filter(
        (pl.col("dataset") == dataset) & pl.col("expected_reason").is_in(ROW_LEVEL)
    )
    return {
        (Path(r["file"]).name, int(r["row_number"]), r["expected_reason"], r["column"])
        for r in truth.iter_rows(named=True)
    }


def found_quarantine(platform: Platform, dataset: str) -> set[tuple[str, int, str, str]]:
    files = sorted((platform.lake.root / "quarantine" / dataset).glob("*.parquet"))
    if not files:
        return set()
    frame = pl.concat([pl.read_parquet(f).select("_source_file", "_row_number", "_reasons") for f in files])
    exploded = frame.explode("_reasons").unnest("_reasons")
    rows = exploded.iter_rows(named=True)
    return {(r["_source_file"], r["_row_number"], r["reason"], r["column"]) for r in rows}


def expected_findings(ground_truth: Path, dataset: str) -> Counter[str]:
    truth = pl.read_csv(ground_truth, infer_schema=False).filter(
        (pl.col("dataset") == dataset) & pl.col("expected_reason").is_in(["stale_delivery", "stuck_value"])
    )
    return Counter(truth.get_column("expected_reason").to_list())


def found_findings(platform: Platform, dataset: str) -> Counter[str]:
    """Rows flagged per finding kind (a stale delivery counts once)."""
    out: Counter[str] = Counter()
    with platform.metadata.session() as s:
        query = select(Finding.kind, Finding.rows).join(Delivery).where(Delivery.dataset == dataset)
        rows = s.execute(query).all()
    for kind, n in rows:
        out[kind] += 1 if kind == "stale_delivery" else n
    return out

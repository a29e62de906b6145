"""Compare what the pipeline found with what the generator injected (its ground_truth.csv)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
from sqlalchemy import select

from datahub.metadata import Delivery, QualityRun, RuleResult
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


DELIVERY_LEVEL = ("stale_delivery",)
ROW_FLAGS = ("stuck_value", "missing_reference")


def expected_flags(ground_truth: Path, dataset: str) -> set[tuple[str, int, str]]:
    """Rows a quality rule (not conformity) must flag: (file, row number, check)."""
    truth = pl.read_csv(ground_truth, infer_schema=False).filter(
        (pl.col("dataset") == dataset) & pl.col("expected_reason").is_in(ROW_FLAGS)
    )
    return {
        (Path(r["file"]).name, int(r["row_number"]), r["expected_reason"])
        for r in truth.iter_rows(named=True)
    }


def found_flags(platform: Platform, dataset: str) -> set[tuple[str, int, str]]:
    files = sorted((platform.lake.root / "flags" / dataset).glob("*.parquet"))
    if not files:
        return set()
    frame = pl.concat([pl.read_parquet(f) for f in files]).filter(pl.col("check").is_in(ROW_FLAGS))
    return {(r["_source_file"], r["_row_number"], r["check"]) for r in frame.iter_rows(named=True)}


def expected_stale(ground_truth: Path, dataset: str) -> set[str]:
    truth = pl.read_csv(ground_truth, infer_schema=False).filter(
        (pl.col("dataset") == dataset) & (pl.col("expected_reason") == "stale_delivery")
    )
    return {Path(f).name for f in truth.get_column("file").to_list()}


def found_stale(platform: Platform, dataset: str) -> set[str]:
    """Files whose freshness rule failed."""
    with platform.metadata.session() as s:
        query = (
            select(Delivery.source_file)
            .join(QualityRun, QualityRun.delivery_id == Delivery.id)
            .join(RuleResult, RuleResult.run_id == QualityRun.id)
            .where(Delivery.dataset == dataset, RuleResult.check == "stale_delivery", ~RuleResult.success)
        )
        return set(s.scalars(query))

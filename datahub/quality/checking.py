"""The checked stage for one delivery: compile its suite, validate its conformed rows, keep the results.

Results go to three places: GX's own validation-result JSON (``lake/quality/<dataset>/<delivery>.json``,
with the suite beside it), the rows each failing row-level rule flagged (``lake/flags/…parquet``), and
the metadata database (a ``QualityRun`` with one ``RuleResult`` per rule and one ``QualityScore`` per
GB/T 36344 dimension). When a blocking rule fails, the delivery's conformed rows are moved into its
quarantine with reason ``blocked_by_rule`` so nothing is lost and rows in = published + quarantined.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl
import pyarrow.parquet as pq
from sqlalchemy import select

from datahub.citytime import city_time
from datahub.contracts import Dataset
from datahub.lake.store import Lake, write_parquet
from datahub.metadata import Delivery, QualityRun, QualityScore, RuleResult
from datahub.platform import Platform
from datahub.privacy.policy import mask_for_quarantine
from datahub.quality.conformity import LINEAGE, REASONS_COLUMN, REASONS_DTYPE
from datahub.quality.expectations import Rule, SuiteContext, build_suite
from datahub.quality.reasons import REASON_DIMENSIONS, Reason
from datahub.quality.scores import score_run
from datahub.quality.validation import Engine, Validation, validate

if TYPE_CHECKING:
    import pyarrow.dataset as ds


@dataclass(frozen=True)
class CheckOutcome:
    validation: Validation
    blocking_rules: list[str]

    @property
    def blocked(self) -> bool:
        return bool(self.blocking_rules)


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def null_counts(path: Path) -> tuple[int, dict[str, int]]:
    """Rows and nulls per column of a Parquet file, from its footer statistics."""
    meta = pq.ParquetFile(path).metadata
    nulls: dict[str, int] = {}
    for g in range(meta.num_row_groups):
        group = meta.row_group(g)
        for c in range(group.num_columns):
            chunk = group.column(c)
            stats = chunk.statistics
            if stats is None or not stats.has_null_count:  # no statistics: count them
                frame = pl.read_parquet(path)
                return frame.height, {col: frame.get_column(col).null_count() for col in frame.columns}
            nulls[chunk.path_in_schema] = nulls.get(chunk.path_in_schema, 0) + stats.null_count
    return meta.num_rows, nulls


def received_columns(raw: Path) -> list[str]:
    return [name for name in pq.read_schema(raw).names if name not in LINEAGE]


def previous_rows(platform: Platform, dataset: Dataset, delivery: Delivery) -> int | None:
    """Rows validated in the latest earlier delivery of the dataset that was checked."""
    with platform.metadata.session() as s:
        query = (
            select(QualityRun.rows_validated)
            .join(Delivery, Delivery.id == QualityRun.delivery_id)
            .where(QualityRun.dataset == dataset.name, Delivery.delivered_at < delivery.delivered_at)
            .order_by(Delivery.delivered_at.desc())
            .limit(1)
        )
        return s.scalars(query).first()


def suite_for(
    platform: Platform, dataset: Dataset, delivery: Delivery, conformed: Path, received: list[str]
) -> list[Rule]:
    rows, nulls = null_counts(conformed)
    context = SuiteContext(
        rows=rows,
        null_counts=nulls,
        received_columns=received,
        delivered_at=city_time(delivery.delivered_at),  # compared with values in city time
        previous_rows=previous_rows(platform, dataset, delivery),
    )
    return build_suite(dataset, context)


def _masker(dataset: Dataset) -> Any:
    def mask(column: str, values: list[Any]) -> list[Any]:
        col = dataset.column(column)
        series = (
            pl.Series(values, dtype=pl.String) if all(isinstance(v, str | None) for v in values) else None
        )
        if series is None:
            return values
        return mask_for_quarantine(col, series).to_list()

    return mask


def _quarantined_by_dimension(engine: Engine, quarantine: Path) -> dict[str, int]:
    mapping = ", ".join(f"('{reason.value}', '{dim}')" for reason, dim in REASON_DIMENSIONS.items())
    rows = engine.con.execute(
        f"SELECT m.dim, count(DISTINCT q._row_number) FROM "
        f"(SELECT _row_number, unnest({REASONS_COLUMN}).reason AS reason FROM read_parquet(?)) q "
        f"JOIN (VALUES {mapping}) m(reason, dim) USING (reason) GROUP BY m.dim",
        [str(quarantine)],
    ).fetchall()
    return {dim: int(n) for dim, n in rows}


def hold(
    platform: Platform,
    dataset: Dataset,
    delivery_id: str,
    reason: Reason,
    label: str,
    row_numbers: pl.Series | None = None,
) -> None:
    """Add conformed rows of a delivery (all of them, or those with these ``_row_number`` values), as
    delivered, to its quarantine with ``reason``, reported under ``label`` (the rules, the check).
    Rows already held are not added again, so a stage redone after a crash holds each row once."""
    lake = platform.lake
    conformed = pl.scan_parquet(lake.layer_path("conformed", dataset.name, delivery_id)).select("_row_number")
    if row_numbers is not None:
        conformed = conformed.filter(pl.col("_row_number").is_in(row_numbers.implode()))
    quarantine_path = lake.layer_path("quarantine", dataset.name, delivery_id)
    quarantine = pl.read_parquet(quarantine_path)
    raw = pl.scan_parquet(lake.layer_path("raw", dataset.name, delivery_id))
    reasons = [{"reason": reason.value, "column": label, "value": None}]
    held = (
        raw.join(conformed, on="_row_number", how="semi")
        .join(quarantine.lazy().select("_row_number"), on="_row_number", how="anti")
        .with_columns(pl.lit(reasons, dtype=REASONS_DTYPE).alias(REASONS_COLUMN))
        .collect()
    )
    if held.is_empty():
        return
    write_parquet(pl.concat([quarantine, held], how="vertical_relaxed"), quarantine_path)


def _current_rows(lake: Lake, name: str) -> list[ds.Dataset]:
    """The current version's rows of ``name`` (none before its first publication)."""
    version = lake.current_version(name)
    return [lake.rows(version)] if version is not None else []


def check_delivery(
    platform: Platform, dataset: Dataset, delivery: Delivery, earlier_conformed: list[Path]
) -> CheckOutcome:
    lake = platform.lake
    conformed = lake.layer_path("conformed", dataset.name, delivery.id)
    quarantine = lake.layer_path("quarantine", dataset.name, delivery.id)
    received = received_columns(lake.layer_path("raw", dataset.name, delivery.id))
    rules = suite_for(platform, dataset, delivery, conformed, received)
    reads = sorted({name for rule in rules for name in rule.reads})
    engine = Engine(
        conformed,
        published=[*_current_rows(lake, dataset.name), *earlier_conformed],
        datasets={
            name: (
                next(iter(_current_rows(lake, name)), None),
                [c.name for c in platform.catalog.get(name).columns],
            )
            for name in reads
        },
        code_tables=platform.settings.dictionary_path / "code_tables",
    )
    flags = lake.layer_path("flags", dataset.name, delivery.id)
    try:
        validation = validate(
            engine,
            rules,
            suite_name=f"{dataset.name}@{dataset.version}",
            received_columns=received,
            key_columns=dataset.key_columns,
            mask=_masker(dataset),
            flags_path=flags,
            meta={"dataset": dataset.name, "delivery_id": delivery.id, "source_file": delivery.source_file},
        )
        by_dimension = _quarantined_by_dimension(engine, quarantine)
    finally:
        engine.close()
    blocking = [r.name for r in validation.blocking_failures]
    rows_in = delivery.rows_in or 0
    quarantined = delivery.rows_quarantined or 0
    scores = score_run(
        rows_in=rows_in,
        quarantined_by_dimension=by_dimension,
        rules=validation.rules,
        rows_failed=rows_in if blocking else quarantined + validation.flagged_rows,
        published=not blocking,
    )
    result_path = lake.root / "quality" / dataset.name / f"{delivery.id}.json"
    result_path.parent.mkdir(parents=True, exist_ok=True)
    result_path.write_text(json.dumps(validation.result, ensure_ascii=False, indent=1), encoding="utf-8")
    result_path.with_suffix(".suite.json").write_text(
        json.dumps(validation.suite, ensure_ascii=False, indent=1), encoding="utf-8"
    )
    if blocking:
        hold(platform, dataset, delivery.id, Reason.blocked_by_rule, ", ".join(blocking))
    now = _now()
    with platform.metadata.session() as s:
        run = QualityRun(
            delivery_id=delivery.id,
            dataset=dataset.name,
            contract_version=dataset.version,
            validated_at=now,
            success=bool(validation.result["success"]),
            blocked=bool(blocking),
            rows_in=rows_in,
            rows_validated=rows_in - quarantined,
            rows_quarantined=quarantined,
            rows_flagged=validation.flagged_rows,
            rows_passed=scores.rows_passed,
            pass_rate=scores.pass_rate,
            overall_score=scores.overall,
            result_path=str(result_path),
            flags_path=str(flags),
        )
        run.rules = [
            RuleResult(
                name=r.name,
                check=r.check,
                dimension=r.dimension,
                blocking=r.blocking,
                column=r.column,
                success=r.success,
                evaluated=r.evaluated,
                failed=r.failed,
                observed=r.observed,
                sample=r.sample,
                detail=r.detail,
            )
            for r in validation.rules
        ]
        run.scores = [
            QualityScore(dataset=dataset.name, scored_at=now, dimension=d, score=v, checks=scores.checks[d])
            for d, v in scores.dimensions.items()
        ]
        s.add(run)
    return CheckOutcome(validation, blocking)

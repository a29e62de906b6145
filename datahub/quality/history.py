"""Reading quality back: a dataset's latest scores and failing rules, its history, and its quarantine.

Quarantined rows can be exported for the department to fix (UTF-8 CSV with the delivered column names,
the row's reasons and its lineage; cells that would start a spreadsheet formula quoted, see
:mod:`datahub.serving.neutralise`) and re-submitted: the fixed CSV, with those quotes removed, is landed
as a resubmission (a Parquet file of text columns with the delivered names, read as such whatever the
contract's format) and goes through the whole pipeline again like any delivery.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy import select

from datahub.audit import AuditEntry, open_audit_log
from datahub.contracts import Dataset
from datahub.errors import NotFound, UnreadableDelivery
from datahub.ingest.landing import landing_dir
from datahub.ingest.readers import RESUBMISSION_SUFFIX, read_text_csv
from datahub.lake.store import write_parquet
from datahub.metadata import Delivery, QualityRun
from datahub.platform import Platform
from datahub.quality.conformity import LINEAGE, REASONS_COLUMN
from datahub.quality.resubmissions import Fixes, fixes_of, is_original, link_fix, original_of, with_fixes
from datahub.quality.scores import DIMENSION_NAMES
from datahub.serving.neutralise import neutralise_formulas, restore_formulas

PASS_RATE_TARGET = 98.7  # percent, the brief's (Guangdong's) target
REASONS_HEADER = "问题 reasons"


def _run_view(run: QualityRun, fixes: Fixes | None) -> dict[str, Any]:
    view = {
        "delivery_id": run.delivery_id,
        "source_file": run.delivery.source_file,
        "validated_at": run.validated_at.isoformat(timespec="seconds"),
        "contract_version": run.contract_version,
        "blocked": run.blocked,
        "rows_in": run.rows_in,
        "rows_passed": run.rows_passed,
        "pass_rate": run.pass_rate,
        "overall_score": run.overall_score,
        "scores": {s.dimension: s.score for s in run.scores},
    }
    return with_fixes(view, run.rows_in, run.rows_passed, run.delivery.rows_quarantined, fixes)


def quality_report(platform: Platform, dataset: Dataset, history: int = 12) -> dict[str, Any]:
    """The latest run in full (every rule) and the runs before it (scores only), newest first; runs of
    resubmissions are not listed, their fixed rows count in the pass rate of the delivery they fix."""
    with platform.metadata.session() as s:
        runs = s.scalars(
            select(QualityRun)
            .join(Delivery, Delivery.id == QualityRun.delivery_id)
            .where(QualityRun.dataset == dataset.name, is_original())
            .order_by(Delivery.delivered_at.desc(), QualityRun.id.desc())
            .limit(history)
        ).all()
        if not runs:
            raise NotFound(f"no quality run for {dataset.name} yet")
        latest = runs[0]
        fixes = fixes_of(s, [run.delivery_id for run in runs])
        return {
            "dataset": dataset.name,
            "title": dataset.title,
            "pass_rate_target": PASS_RATE_TARGET,
            "dimension_names": DIMENSION_NAMES,
            "latest": {
                **_run_view(latest, fixes.get(latest.delivery_id)),
                "result_path": latest.result_path,
                "rules": [
                    {
                        "rule": r.name,
                        "check": r.check,
                        "dimension": r.dimension,
                        "blocking": r.blocking,
                        "column": r.column,
                        "success": r.success,
                        "evaluated": r.evaluated,
                        "failed": r.failed,
                        "observed": r.observed,
                        "sample": r.sample,
                        "detail": r.detail,
                    }
                    for r in latest.rules
                ],
            },
            "history": [_run_view(run, fixes.get(run.delivery_id)) for run in runs],
        }


DELIVERY_COLUMN = "_delivery"


def quarantined_rows(platform: Platform, dataset: Dataset, delivery_id: str | None = None) -> pl.DataFrame:
    """Quarantined rows of one delivery (or all) with their reasons and the delivery each came in
    (``_delivery``, the id `datahub quarantine export` takes); personal values are masked."""
    lake = platform.lake
    wanted = [delivery_id] if delivery_id else lake.deliveries_kept("quarantine", dataset.name)
    for d in wanted:
        lake.fetch(dataset.name, d, ("quarantine",))
    files = [lake.layer_path("quarantine", dataset.name, d) for d in wanted]
    files = [f for f in files if f.is_file()]
    if not files:
        raise NotFound(
            f"no quarantine for {dataset.name}" + (f" delivery {delivery_id}" if delivery_id else "")
        )
    return pl.concat(
        [pl.read_parquet(f).with_columns(pl.lit(f.stem).alias(DELIVERY_COLUMN)) for f in files],
        how="vertical_relaxed",
    )


def export_quarantine(platform: Platform, dataset: Dataset, delivery_id: str, out: Path) -> int:
    """Write a delivery's quarantined rows, as delivered, to a CSV the department can fix."""
    rows = quarantined_rows(platform, dataset, delivery_id)
    reasons = rows.get_column(REASONS_COLUMN).list.eval(
        pl.concat_str(
            pl.element().struct.field("reason"),
            pl.lit(":"),
            pl.element().struct.field("column"),
            pl.lit("="),
            pl.element().struct.field("value").fill_null(""),
        )
    )
    physical = [c.physical_name for c in dataset.columns if c.physical_name in rows.columns]
    table = rows.select(
        *physical,
        reasons.list.join("; ").alias(REASONS_HEADER),
        *(c for c in ("_source_file", "_row_number") if c in rows.columns),
        DELIVERY_COLUMN,  # what the resubmission fixes (datahub.quality.resubmissions)
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    pl.DataFrame(neutralise_formulas(table.to_arrow())).write_csv(out)
    return table.height


EXPORT_ACTION = "quarantine.export"
"""The audit log's action for a download of quarantined rows (the dashboard's and the CLI's)."""


def audit_quarantine_export(
    platform: Platform, dataset: Dataset, delivery_id: str, rows: int, user: str
) -> None:
    """Record a command-line export of a delivery's quarantined rows (values as delivered, unmasked) in
    the tamper-evident audit log: who (the operating-system user), what and how many rows. Committed
    when this returns, so the file is written only once the export is on record."""
    entry = AuditEntry(
        action=EXPORT_ACTION,
        client_name=user[:100],
        role="cli",
        view=dataset.name,
        rows=rows,
        purpose="质量整改：导出隔离数据",
        detail={"delivery_id": delivery_id, "unmasked": True, "channel": "cli"},
    )
    with open_audit_log(platform) as log:
        log.append([entry])


def _fixed_deliveries(frame: pl.DataFrame, fixes: str | None) -> dict[str, int | None]:
    """Each delivery id the fixed rows name (``_delivery``) → the first line naming it; ``fixes`` (the
    command line's) for rows that name none."""
    named: dict[str, int | None] = {fixes: None} if fixes else {}
    if DELIVERY_COLUMN not in frame.columns:
        return named
    for line, value in enumerate(frame.get_column(DELIVERY_COLUMN).to_list(), start=2):
        value = (value or "").strip()
        if value:
            named.setdefault(value, line)
    return named


def land_resubmission(
    platform: Platform, dataset: Dataset, fixed_csv: Path, fixes: str | None = None
) -> Path:
    """Land a fixed export as a resubmission linked to the delivery it fixes (the ``_delivery`` of its
    rows, or ``fixes``; see :mod:`datahub.quality.resubmissions`); returns the landed file."""
    fixed_csv = Path(fixed_csv)
    if not fixed_csv.is_file():
        raise UnreadableDelivery("no such file", file=str(fixed_csv))
    frame = read_text_csv(fixed_csv)  # in whatever encoding the department's spreadsheet saved it
    original = original_of(platform, dataset, _fixed_deliveries(frame, fixes), str(fixed_csv))
    dropped = (REASONS_HEADER, DELIVERY_COLUMN, *LINEAGE)
    frame = restore_formulas(frame.drop([c for c in dropped if c in frame.columns]))
    unknown = sorted(set(frame.columns) - {c.physical_name for c in dataset.columns})
    if unknown:
        raise UnreadableDelivery(
            f"columns not in the contract: {', '.join(unknown)}", file=str(fixed_csv), line=1
        )
    target = landing_dir(platform, dataset) / f"{fixed_csv.stem}{RESUBMISSION_SUFFIX}"
    if target.exists() and not pl.read_parquet(target).equals(frame):  # another fix is a new file
        digest = hashlib.sha256(fixed_csv.read_bytes()).hexdigest()[:8]
        target = target.with_name(f"{fixed_csv.stem}.{digest}{RESUBMISSION_SUFFIX}")
    if not target.exists():  # the same fix landed before is that delivery again
        write_parquet(frame, target)
    link_fix(platform, dataset, target, original)
    return target

"""The checked stage in the pipeline and in Dagster: blocking rules hold a delivery, warnings only report;
scores are kept per run; quarantined rows can be exported, fixed and re-submitted."""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path

import polars as pl
from dagster import AssetCheckSeverity, DagsterInstance, materialize
from sqlalchemy import select
from typer.testing import CliRunner

from datahub import pipeline
from datahub.cli import app
from datahub.metadata import Delivery, QualityRun, QualityScore
from datahub.platform import Platform
from datahub.quality.history import export_quarantine, land_resubmission
from pipelines.assets import dataset_assets
from pipelines.resources import PlatformResource
from tests.hotline_rows import valid_row, write_hotline


def _delivery(platform: Platform, path: Path, first: int, n: int, change: dict[int, dict[str, str]]) -> Path:
    rows = [valid_row(platform.dictionary, i) for i in range(first, first + n)]
    for i, values in change.items():
        rows[i] = rows[i] | values
    file = write_hotline(path, rows, platform.catalog.get("hotline_12345"))
    stamp = datetime(2026, 10, 2, 2, 30).timestamp() + first
    os.utime(file, (stamp, stamp))
    return file


def test_blocking_failure_keeps_the_previous_snapshot_and_a_warning_does_not(
    platform: Platform, tmp_path: Path
) -> None:
    good = _delivery(platform, tmp_path / "a.csv", 1, 30, {})
    first = pipeline.ingest_file(platform, "hotline_12345", good)
    assert first.status == "published"
    assert first.quality is not None and first.quality["failed_rules"] == []
    version = first.snapshot_version

    # An external department handling hotline orders fails a blocking consistency rule.
    blocked = _delivery(platform, tmp_path / "b.csv", 100, 30, {3: {"承办部门": "EX"}, 4: {"联系电话": "1"}})
    summary = pipeline.ingest_file(platform, "hotline_12345", blocked)
    assert summary.status == "blocked"
    assert summary.quality is not None and summary.quality["blocked"] is True
    assert [r["rule"] for r in summary.quality["failed_rules"] if r["blocking"]] == [
        "handling_department_core"
    ]
    assert (summary.rows_in, summary.rows_published, summary.rows_quarantined) == (30, 0, 30)
    assert summary.reconciled is True
    assert platform.lake.current_version("hotline_12345").version == version  # type: ignore[union-attr]
    held = pl.read_parquet(platform.lake.layer_path("quarantine", "hotline_12345", summary.delivery_id))
    reasons = held.explode("_reasons").unnest("_reasons")
    assert held.height == 30
    assert reasons.filter(pl.col("reason") == "blocked_by_rule").height == 29
    assert set(reasons.filter(pl.col("reason") == "invalid_format").get_column("column")) == {"caller_phone"}

    # Half the streets missing only warns: the delivery is published, the rule reported as failed.
    warned = _delivery(platform, tmp_path / "c.csv", 200, 30, {i: {"所属街道": ""} for i in range(0, 30, 2)})
    summary = pipeline.ingest_file(platform, "hotline_12345", warned)
    assert summary.status == "published"
    assert summary.quality is not None
    assert [(r["rule"], r["failed"]) for r in summary.quality["failed_rules"]] == [
        ("street_completeness", 15)
    ]
    assert summary.quality["pass_rate"] == 50.0
    assert platform.lake.current_version("hotline_12345").rows == 60  # type: ignore[union-attr]

    with platform.metadata.session() as s:
        runs = s.scalars(select(QualityRun).order_by(QualityRun.id)).all()
        assert [(r.blocked, r.pass_rate) for r in runs] == [(False, 100.0), (True, 0.0), (False, 50.0)]
        dims = {q.dimension for q in s.scalars(select(QualityScore).where(QualityScore.run_id == runs[2].id))}
        assert dims == {"conformity", "completeness", "accuracy", "consistency", "accessibility"}
        assert {q.dimension: q.score for q in runs[1].scores}["accessibility"] == 0.0
        result = json.loads(Path(runs[1].result_path).read_text(encoding="utf-8"))
        assert result["success"] is False
        assert {r["expectation_config"]["type"] for r in result["results"]} >= {
            "expect_column_values_to_be_in_set",
            "expect_table_columns_to_match_ordered_list",
        }

    # The steward's view of it.
    out = CliRunner().invoke(app, ["quality", "show", "hotline_12345", "--json"], env=_env(platform))
    assert out.exit_code == 0, out.output
    report = json.loads(out.output)
    assert report["latest"]["pass_rate"] == 50.0
    assert [h["blocked"] for h in report["history"]] == [False, True, False]
    table = CliRunner().invoke(app, ["quality", "show", "hotline_12345"], env=_env(platform))
    assert "street_completeness" in table.output and "完整性" in table.output


def test_held_rows_can_be_exported_fixed_and_resubmitted(platform: Platform, tmp_path: Path) -> None:
    blocked = _delivery(platform, tmp_path / "b.csv", 1, 10, {3: {"承办部门": "EX"}})
    summary = pipeline.ingest_file(platform, "hotline_12345", blocked)
    assert summary.status == "blocked"
    dataset = platform.catalog.get("hotline_12345")
    export = tmp_path / "fix.csv"
    assert export_quarantine(platform, dataset, summary.delivery_id, export) == 10
    fixed = pl.read_csv(export, infer_schema=False).with_columns(pl.lit("UM").alias("承办部门"))
    fixed.write_csv(export)
    resubmitted = pipeline.ingest_file(
        platform, "hotline_12345", land_resubmission(platform, dataset, export)
    )
    assert resubmitted.status == "published"
    assert (resubmitted.rows_in, resubmitted.rows_published) == (10, 10)


def test_rules_are_dagster_asset_checks_with_severity(platform: Platform, tmp_path: Path) -> None:
    dataset = platform.catalog.get("hotline_12345")
    pipeline.land_file(platform, dataset, _delivery(platform, tmp_path / "a.csv", 1, 20, {}))
    pipeline.land_file(
        platform, dataset, _delivery(platform, tmp_path / "b.csv", 50, 20, {1: {"承办部门": "EX"}})
    )
    resource = PlatformResource(home=str(platform.settings.var), demo_mode=True)
    result = materialize(
        dataset_assets(dataset), resources={"platform": resource}, instance=DagsterInstance.ephemeral()
    )
    assert result.success
    checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
    department = checks["handling_department_core"]
    assert department.passed is False and department.severity == AssetCheckSeverity.ERROR
    assert department.metadata["failed"].value == 1
    assert department.metadata["sample"].value == [{"key": "GD20261001000051", "row": 1}]
    assert checks["street_completeness"].passed is True
    assert checks["street_completeness"].severity == AssetCheckSeverity.WARN
    assert checks["rows_reconciled"].passed is True
    assert checks["pii_leak"].passed is True and checks["pii_leak"].severity == AssetCheckSeverity.ERROR
    assert checks["k_anonymity"].severity == AssetCheckSeverity.WARN
    assert checks["pii_leak"].metadata["deliveries_checked"].value == 1  # the blocked one never got there
    with platform.metadata.session() as s:
        statuses = sorted(s.scalars(select(Delivery.status)).all())
    assert statuses == ["blocked", "published"]


def _env(platform: Platform) -> dict[str, str]:
    return {"DATAHUB_HOME": str(platform.settings.home), "DATAHUB_DEMO_MODE": "true"}

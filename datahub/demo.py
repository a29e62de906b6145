"""`datahub demo`: a month of synthetic department data through every pipeline, via Dagster, then the
event-ready views (docs/views.md)."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from typing import Any

import polars as pl
from sqlalchemy import select

from datahub.metadata import Delivery
from datahub.pipeline import land_file
from datahub.platform import Platform
from datahub.settings import Settings

Progress = Callable[[str, int, int], None]
QUIET_RUN_CONFIG = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
# Departments deliver a period's file early the next morning.
DELIVERY_TIME = time(2, 30)


def _delivered_at(period_end: date) -> float:
    return datetime.combine(period_end + timedelta(days=1), DELIVERY_TIME).timestamp()


def run_pipelines(settings: Settings, progress: Progress | None = None) -> None:
    """Every dataset's Dagster job in process on the project's instance, then the daily job and the views."""
    from dagster import DagsterInstance

    from pipelines.assets import declared_rules
    from pipelines.definitions import DAILY_JOB, VIEWS_JOB, build_definitions, dataset_job_name

    defs = build_definitions(settings)
    platform = Platform(settings)
    # Datasets that other datasets' rules read (hotline orders for app reports) run first.
    read = {name for d in platform.catalog for rule in declared_rules(d) for name in rule.reads}
    ordered = sorted(platform.catalog, key=lambda d: d.name not in read)
    jobs = [dataset_job_name(d) for d in ordered] + [DAILY_JOB, VIEWS_JOB]
    with DagsterInstance.get() as instance:
        for i, job in enumerate(jobs):
            if progress:
                progress("运行管道 pipelines", i, len(jobs))
            result = defs.resolve_job_def(job).execute_in_process(
                instance=instance, run_config=QUIET_RUN_CONFIG
            )
            if not result.success:
                raise RuntimeError(f"Dagster job {job} failed")
        if progress:
            progress("运行管道 pipelines", len(jobs), len(jobs))


def summarise(platform: Platform) -> list[dict[str, Any]]:
    rows = []
    with platform.metadata.session() as s:
        for dataset in platform.catalog:
            deliveries = s.scalars(select(Delivery).where(Delivery.dataset == dataset.name)).all()
            reasons: Counter[str] = Counter()
            failed: Counter[str] = Counter()
            runs = [d.quality for d in deliveries if d.quality is not None]
            for d in deliveries:
                for r in d.reasons:
                    reasons[f"{r.reason}:{r.column}"] += r.rows
            for run in runs:
                for rule in run.rules:
                    if not rule.success:
                        failed[rule.name] += 1
            rows_in = sum(run.rows_in for run in runs)
            rows.append(
                {
                    "dataset": dataset.name,
                    "deliveries": len(deliveries),
                    "rows_in": sum(d.rows_in or 0 for d in deliveries),
                    "rows_published": sum(d.rows_published or 0 for d in deliveries),
                    "rows_quarantined": sum(d.rows_quarantined or 0 for d in deliveries),
                    "reconciled": all(d.reconciled for d in deliveries),
                    "top_reasons": "\n".join(f"{k} {v:,}" for k, v in reasons.most_common(3)) or "-",
                    "pass_rate": round(100 * sum(run.rows_passed for run in runs) / rows_in, 2)
                    if rows_in
                    else None,
                    "failed_rules": "\n".join(f"{k} ×{v}" for k, v in failed.items()) or "-",
                }
            )
    return rows


def register_contracts(platform: Platform) -> None:
    """Every contract in contracts/ into the registry (unchanged ones stay as they are)."""
    from datahub.contracts.registry import ContractRegistry

    registry = ContractRegistry(platform.metadata, platform.dictionary)
    for dataset in platform.catalog:
        registry.register(dataset.path.read_text(encoding="utf-8"), source=str(dataset.path))


def run_demo(
    settings: Settings,
    *,
    start: date,
    days: int,
    rows_per_day: int,
    seed: int,
    progress: Progress | None = None,
) -> list[dict[str, Any]]:
    from datahub.synth import SynthConfig, generate

    platform = Platform(settings)
    register_contracts(platform)
    config = SynthConfig(start=start, days=days, rows_per_day=rows_per_day, seed=seed)
    result = generate(config, platform.dictionary, platform.catalog, settings.synth_dir, progress=progress)
    for i, file in enumerate(result.files):
        delivered = _delivered_at(file.period_end)
        os.utime(file.path, (delivered, delivered))
        land_file(platform, platform.catalog.get(file.dataset), file.path)
        if progress:
            progress("交付落地 landing", i + 1, len(result.files))
    run_pipelines(settings, progress)
    return summarise(platform) + summarise_views(platform)


def summarise_views(platform: Platform) -> list[dict[str, Any]]:
    """The views as rows of the demo summary. The views job has built them; ``build_views`` finds the
    build current (same source versions) and returns its manifests, or builds them if it has not."""
    from datahub.views import build_views

    rows = []
    for name, manifest in build_views(platform).items():
        note = "-"
        if name == "events_unified":
            linked = (
                pl.scan_parquet([platform.lake.published_dir(name) / part for part in manifest.parts])
                .filter(pl.col("source_count") > 1)
                .select(pl.len())
                .collect()
                .item()
            )
            note = f"跨渠道关联 linked events {linked:,}"
        rows.append(
            {
                "dataset": f"view:{name}",
                "deliveries": 1,
                "rows_in": manifest.rows,
                "rows_published": manifest.rows,
                "rows_quarantined": 0,
                "reconciled": True,
                "top_reasons": note,
                "pass_rate": None,
                "failed_rules": "-",
            }
        )
    return rows

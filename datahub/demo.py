"""`datahub demo`: two months of synthetic department data through every pipeline, via Dagster, then
the event-ready views (docs/views.md) and the monthly report of each completed month (docs/reports.md)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time as time_module
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy import select

from datahub.citytime import CITY_ZONE
from datahub.metadata import Delivery
from datahub.pipeline import land_file
from datahub.platform import Platform
from datahub.quality import resubmissions
from datahub.settings import Settings

Progress = Callable[[str, int, int], None]
QUIET_RUN_CONFIG = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
# Departments deliver a period's file early the next morning, city time.
DELIVERY_TIME = time(2, 30)
# Each dataset's defects vary by up to ±60% from month to month, so the monthly report has a trend.
DEFECT_DRIFT = 0.6


def _delivered_at(period_end: date) -> float:
    return datetime.combine(period_end + timedelta(days=1), DELIVERY_TIME, tzinfo=CITY_ZONE).timestamp()


def run_pipelines(settings: Settings, progress: Progress | None = None) -> None:
    """Every dataset's Dagster job in process on the project's instance, then the daily job, the views
    and the monthly report of every completed month."""
    from dagster import DagsterInstance

    from datahub.reports.figures import months
    from pipelines.assets import declared_rules
    from pipelines.definitions import DAILY_JOB, REPORT_JOB, VIEWS_JOB, build_definitions, dataset_job_name

    defs = build_definitions(settings)
    platform = Platform(settings)
    # Datasets that other datasets' rules read (hotline orders for app reports) run first.
    read = {name for d in platform.catalog for rule in declared_rules(d) for name in rule.reads}
    ordered = sorted(platform.catalog, key=lambda d: d.name not in read)
    jobs = [dataset_job_name(d) for d in ordered] + [DAILY_JOB, VIEWS_JOB]
    with DagsterInstance.get() as instance:

        def run(job: str, partition: str | None = None) -> None:
            result = defs.resolve_job_def(job).execute_in_process(
                instance=instance, run_config=QUIET_RUN_CONFIG, partition_key=partition
            )
            if not result.success:
                raise RuntimeError(f"Dagster job {job} {partition or ''} failed")

        for i, job in enumerate(jobs):
            if progress:
                progress("运行管道 pipelines", i, len(jobs))
            run(job)
        if progress:
            progress("运行管道 pipelines", len(jobs), len(jobs))
        # The monthly report (月通报) of every completed month, one partition each.
        this_month = date.today().strftime("%Y-%m")
        report_months = [month for month in months(platform) if month < this_month]
        for i, month in enumerate(report_months):
            if progress:
                progress("月通报 monthly reports", i, len(report_months))
            run(REPORT_JOB, month)
        if progress:
            progress("月通报 monthly reports", len(report_months), len(report_months))


def summarise(platform: Platform) -> list[dict[str, Any]]:
    rows = []
    with platform.metadata.session() as s:
        for dataset in platform.catalog:
            every = s.scalars(select(Delivery).where(Delivery.dataset == dataset.name)).all()
            # A resubmission is no delivery of its own: its fixed rows count for the one it fixes.
            deliveries = [d for d in every if d.corrects is None]
            fixes = resubmissions.fixes_of(s, [d.id for d in deliveries])
            fixed = sum(resubmissions.rows_fixed(d.rows_quarantined, fixes.get(d.id)) for d in deliveries)
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
                    "rows_published": sum(d.rows_published or 0 for d in deliveries) + fixed,
                    "rows_quarantined": sum(d.rows_quarantined or 0 for d in deliveries) - fixed,
                    "reconciled": all(d.reconciled for d in every),
                    "top_reasons": "\n".join(f"{k} {v:,}" for k, v in reasons.most_common(3)) or "-",
                    "pass_rate": round(
                        100
                        * sum(
                            resubmissions.rows_passed(
                                run.rows_in, run.rows_passed, fixes.get(run.delivery_id)
                            )
                            for run in runs
                        )
                        / rows_in,
                        2,
                    )
                    if rows_in
                    else None,
                    "failed_rules": "\n".join(f"{k} ×{v}" for k, v in failed.items()) or "-",
                }
            )
    return rows


def register_contracts(platform: Platform) -> None:
    """Every contract in contracts/ into the registry (unchanged ones stay as they are): the seed of
    what runs."""
    platform.registry.seed(platform.settings.contracts_path)
    platform.forget_catalog()


ONBOARDING_DIR = ("examples", "onboarding")
ONBOARDED = "construction_hotline_12319"
ONBOARDED_ROWS = 1200


@contextmanager
def api_server(settings: Settings) -> Iterator[str]:
    """The sharing API under uvicorn on a free loopback port, in a thread, for the block: its URL."""
    import uvicorn

    from datahub.api import create_app

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(settings), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time_module.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time_module.monotonic() > deadline:
            sock.close()
            raise RuntimeError("the demo's API server did not start")
        time_module.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=60)
        sock.close()


def _onboarded_file(platform: Platform, out: Path, start: date) -> Path:
    """A 12319 delivery: synthetic hotline work orders with the columns its contract declares."""
    from dataclasses import replace

    from datahub.synth.generator import hotline_table
    from datahub.synth.writers import write_table

    dataset = platform.catalog.get(ONBOARDED)
    table, last = hotline_table(ONBOARDED_ROWS, start, platform.dictionary, platform.catalog, seed=12319)
    wanted = {c.name for c in dataset.columns}
    write_table(
        replace(table, dataset=dataset, cols={k: v for k, v in table.cols.items() if k in wanted}), out, last
    )
    return out


def onboard_over_http(settings: Settings, start: date) -> dict[str, Any]:
    """What a department does to onboard a dataset while the platform runs, end to end: with the API
    already serving, 住房和城乡建设局 registers the 12319 contract over HTTP; `datahub ingest` (a process
    of its own) runs its pipeline; the running server serves it; then the department registers a
    breaking 2.0.0, which waits for a steward's approval (left pending for the steward to decide)."""
    import httpx

    from datahub.access import Clients

    platform = Platform(settings)
    contracts = settings.root.joinpath(*ONBOARDING_DIR)
    clients = Clients(platform.metadata, platform.dictionary)
    department = {
        "Authorization": f"Bearer {clients.create('demo-hc-department', 'department', 'HC').api_key}"
    }
    reader = {"Authorization": f"Bearer {clients.create('demo-onboarding-check', 'steward').api_key}"}
    yaml_type = {"Content-Type": "application/yaml"}
    with api_server(settings) as url, httpx.Client(base_url=url, timeout=120) as http:
        made = http.post(
            "/api/v1/contracts",
            content=(contracts / f"{ONBOARDED}.odcs.yaml").read_bytes(),
            headers={**department, **yaml_type},
        )
        if made.status_code != 201:
            raise RuntimeError(f"registering {ONBOARDED} over HTTP: {made.status_code} {made.text}")
        platform.forget_catalog()
        delivered = _onboarded_file(platform, settings.synth_dir / f"{ONBOARDED}.csv", start)
        ingested = subprocess.run(
            [sys.executable, "-m", "datahub.cli", "ingest", ONBOARDED, str(delivered), "--json"],
            env={**os.environ, "DATAHUB_HOME": str(settings.var), "DATAHUB_DEMO_MODE": "true"},
            capture_output=True,
            text=True,
            check=False,
        )
        if ingested.returncode != 0:
            raise RuntimeError(f"datahub ingest {ONBOARDED}: {ingested.stdout}{ingested.stderr}")
        summary = json.loads(ingested.stdout)
        for _ in range(50):  # the server reads the registry again at most once a second
            if http.get(f"/api/v1/views/{ONBOARDED}", headers=reader).status_code == 200:
                break
            time_module.sleep(0.1)
        served, params = 0, {"limit": 1000}
        while True:  # every published row, page by page, from the server that was running all along
            page = http.get(f"/api/v1/views/{ONBOARDED}/rows", params=params, headers=reader).json()
            served += len(page["data"])
            if not page["next_cursor"]:
                break
            params = {"limit": 1000, "cursor": page["next_cursor"]}
        pending = http.post(
            "/api/v1/contracts",
            content=(contracts / f"{ONBOARDED}.v2.odcs.yaml").read_bytes(),
            headers={**department, **yaml_type},
        )
        if pending.status_code != 202:
            raise RuntimeError(f"registering {ONBOARDED} 2.0.0: {pending.status_code} {pending.text}")
    platform.metadata.dispose()
    return {
        "dataset": ONBOARDED,
        "registered": "1.0.0",
        "rows_published": summary["rows_published"],
        "rows_served": served,
        "pending": "2.0.0",
    }


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
    config = SynthConfig(
        start=start, days=days, rows_per_day=rows_per_day, seed=seed, defect_drift=DEFECT_DRIFT
    )
    result = generate(config, platform.dictionary, platform.catalog, settings.synth_dir, progress=progress)
    for i, file in enumerate(result.files):
        delivered = _delivered_at(file.period_end)
        os.utime(file.path, (delivered, delivered))
        land_file(platform, platform.catalog.get(file.dataset), file.path)
        if progress:
            progress("交付落地 landing", i + 1, len(result.files))
    run_pipelines(settings, progress)
    if progress:
        progress("上线新数据集 onboarding over HTTP", 0, 1)
    onboard_over_http(settings, start)
    platform.forget_catalog()
    if progress:
        progress("上线新数据集 onboarding over HTTP", 1, 1)
    return summarise(platform) + summarise_views(platform)


def seed_sharing(platform: Platform) -> tuple[str, str]:
    """A steward and a consuming system (the city operations centre) with their API keys, and the
    consumer's request for ``events_unified`` waiting for a steward's decision (on the dashboard's
    sharing page or ``datahub grant approve``). Returns the two keys."""
    from datahub.access import Clients, GrantRequest
    from datahub.serving.service import Service

    clients = Clients(platform.metadata, platform.dictionary)
    steward = clients.create("demo-steward", "steward").api_key
    consumer = clients.create("demo-ops-centre", "consumer").api_key
    service = Service(platform)
    try:
        principal = service.clients.authenticate(consumer)
        assert principal is not None
        ask = GrantRequest(
            "events_unified",
            "城市运行指挥中心：跨部门事件态势研判与督办",
            row_filter="response_level in ('red', 'yellow')",
        )
        service.record_grant(principal, "grant.request", service.grants.request(principal, ask))
    finally:
        service.close()
        platform.metadata.dispose()
    return steward, consumer


def summarise_views(platform: Platform) -> list[dict[str, Any]]:
    """The views as rows of the demo summary. The views job has built them; ``build_views`` finds the
    build current (same source versions) and returns its manifests, or builds them if it has not."""
    from datahub.views import build_views

    rows = []
    for name, version in build_views(platform).items():
        note = "-"
        if name == "events_unified":
            linked = (
                pl.scan_pyarrow_dataset(platform.lake.rows(version))
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
                "rows_in": version.rows,
                "rows_published": version.rows,
                "rows_quarantined": 0,
                "reconciled": True,
                "top_reasons": note,
                "pass_rate": None,
                "failed_rules": "-",
            }
        )
    return rows

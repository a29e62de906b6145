"""Time to generate one month's report (月通报): figures, HTML and PDF, for a month of 3,000,000 events.

Usage: .venv/bin/python benchmarks/report_month.py [--events 3000000] [--rows-per-day 1000] [--runs 3]

Data (prepared once, cached under ``var/bench/report``):

- the metadata database of a realistic month: every department's synthetic deliveries for October 2026
  (``--rows-per-day`` hotline rows a day, the other datasets scaled from it, weekly files delivered the
  morning after) through the real pipeline (land, conform, check, desensitise, publish), the contracts
  registered, the event views built;
- sharing in that month: three consumers, grants requested, approved, refused and revoked, and 100,000
  reads in the audit log (a real, HMAC-chained log);
- ``events_unified`` replaced by ``--events`` synthetic events reported in October 2026, with the view's
  schema and the dictionary's codes (``benchmarks/api_load.py`` makes them: the same generator).

Timed, each ``--runs`` times on the prepared platform: :func:`datahub.reports.figures.month_figures`
(metadata queries, quarantine examples, and the event KPIs over the month's events), rendering the HTML,
and printing the PDF with WeasyPrint. Prints each part, the total, and the target (30 s).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from api_load import _events as synthetic_events  # noqa: E402 (the one generator of synthetic events)

MONTH = "2026-10"
PREP_VERSION = 2  # 2: the lake holds Iceberg tables
TARGET_S = 30.0
AUDIT_READS = 100_000


def _settings(home: Path):  # type: ignore[no-untyped-def]
    from datahub.settings import Settings

    return Settings(home=home / "var", demo_mode=True)


def _deliveries(home: Path, rows_per_day: int) -> None:
    """October 2026 through the real pipeline, delivered as departments deliver: 02:30 the next day."""
    from datahub.demo import register_contracts
    from datahub.pipeline import land_file, process
    from datahub.platform import Platform
    from datahub.synth import SynthConfig, generate
    from datahub.synth.model import DATASETS
    from datahub.views import build_views

    platform = Platform(_settings(home))
    register_contracts(platform)
    config = SynthConfig(start=date(2026, 10, 1), days=31, rows_per_day=rows_per_day, seed=20261001)
    result = generate(config, platform.dictionary, platform.catalog, home / "synth")
    for file in result.files:
        delivered = datetime.combine(file.period_end + timedelta(days=1), clock(2, 30)).timestamp()
        os.utime(file.path, (delivered, delivered))
        land_file(platform, platform.catalog.get(file.dataset), file.path)
    for name in DATASETS:  # in generation order: the app's reference rule reads the published hotline
        process(platform, platform.catalog.get(name))
    build_views(platform)
    platform.metadata.dispose()


def _sharing(home: Path) -> None:
    from datahub.access import Clients
    from datahub.audit.log import AuditEntry, open_audit_log
    from datahub.metadata import Grant, GrantStatus
    from datahub.platform import Platform

    platform = Platform(_settings(home))
    clients = Clients(platform.metadata, platform.dictionary)
    names = ("城运中心大屏", "应急指挥平台", "区级治理平台")
    ids = [clients.create(name, "consumer").client_id for name in names]
    day = datetime(2026, 10, 1)
    with platform.metadata.session() as s:
        statuses = (GrantStatus.approved, GrantStatus.refused, GrantStatus.requested, GrantStatus.revoked)
        for i in range(60):
            status = statuses[i % 4]
            requested = day + timedelta(hours=11 * i)
            s.add(
                Grant(
                    client_id=ids[i % 3],
                    view="events_unified",
                    purpose="城市运行监测",
                    status=status,
                    requested_at=requested,
                    decided_at=requested + timedelta(hours=3) if status != GrantStatus.requested else None,
                    decided_by="steward" if status != GrantStatus.requested else None,
                    revoked_at=requested + timedelta(days=2) if status == GrantStatus.revoked else None,
                )
            )
    step = 31 * 86_400 / AUDIT_READS
    with open_audit_log(platform) as log:
        for start in range(0, AUDIT_READS, 10_000):
            log.append(
                AuditEntry(
                    action="read",
                    client_id=ids[i % 3],
                    client_name=names[i % 3],
                    role="consumer",
                    view="events_unified",
                    rows=100,
                    at=(day + timedelta(seconds=i * step)).replace(tzinfo=UTC),
                )
                for i in range(start, min(start + 10_000, AUDIT_READS))
            )
    platform.metadata.dispose()


def _events(home: Path, n: int) -> None:
    from datahub.lake.tables import VIEWS
    from datahub.platform import Platform
    from datahub.views import view_contracts

    platform = Platform(_settings(home))
    view = view_contracts(platform)["events_unified"]
    platform.lake.publish(view, "bench", synthetic_events(n), append=False, namespace=VIEWS)
    platform.metadata.dispose()


def prepare(home: Path, events: int, rows_per_day: int) -> None:
    marker = home / "prepared.json"
    wanted = {"events": events, "rows_per_day": rows_per_day, "version": PREP_VERSION}
    if marker.is_file() and json.loads(marker.read_text()) == wanted:
        return
    if home.exists():
        import shutil

        shutil.rmtree(home)
    home.mkdir(parents=True)
    for step, run in (
        ("deliveries through the pipeline", lambda: _deliveries(home, rows_per_day)),
        ("sharing and audit log", lambda: _sharing(home)),
        (f"{events:,} events", lambda: _events(home, events)),
    ):
        started = time.perf_counter()
        run()
        print(f"prepared {step} in {time.perf_counter() - started:.1f} s", flush=True)
    marker.write_text(json.dumps(wanted))


def measure(home: Path, runs: int) -> list[dict[str, float]]:
    from datahub.platform import Platform
    from datahub.reports.render import write_report

    out = []
    for _ in range(runs):
        platform = Platform(_settings(home))  # a fresh process state each run: nothing cached
        started = time.perf_counter()
        files = write_report(platform, MONTH, home)  # figures, HTML and PDF, timed by stage
        total = time.perf_counter() - started
        figures = files.figures
        out.append(
            {
                **files.seconds,
                "total": total,
                "events": figures.events.events if figures.events else 0,
                "runs": figures.city.runs,
                "rows": figures.city.rows_in,
            }
        )
        platform.metadata.dispose()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=3_000_000)
    parser.add_argument("--rows-per-day", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--home", type=Path, default=ROOT / "var" / "bench" / "report")
    args = parser.parse_args()
    prepare(args.home, args.events, args.rows_per_day)
    results = measure(args.home, args.runs)
    first = results[0]
    print(
        f"month {MONTH}: {first['events']:,.0f} events, {first['runs']:.0f} quality runs over "
        f"{first['rows']:,.0f} delivered rows, {AUDIT_READS:,} audit reads"
    )
    for i, r in enumerate(results, 1):
        print(
            f"run {i}: figures {r['figures']:.2f} s, html {r['html']:.2f} s, pdf {r['pdf']:.2f} s, "
            f"total {r['total']:.2f} s"
        )
    median = {k: statistics.median(r[k] for r in results) for k in ("figures", "html", "pdf", "total")}
    verdict = "met" if median["total"] <= TARGET_S else "NOT met"
    print(
        f"median: figures {median['figures']:.2f} s, html {median['html']:.2f} s, pdf {median['pdf']:.2f} s, "
        f"total {median['total']:.2f} s — target ≤ {TARGET_S:.0f} s {verdict}"
    )


if __name__ == "__main__":
    main()

"""Generate a month (or any period) of department deliveries with known defects and ground truth."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path

import numpy as np

from datahub.contracts import Catalog, Dataset
from datahub.dictionary import Dictionary
from datahub.errors import NotFound
from datahub.files import file_sha256
from datahub.synth import datasets as build
from datahub.synth.defects import Injector, Table
from datahub.synth.model import (
    DATASETS,
    DEFECT_REASONS,
    EVENT_LINK_COLUMNS,
    GROUND_TRUTH_COLUMNS,
    WEEKLY,
    SynthConfig,
    SynthFile,
    SynthResult,
    Truth,
)
from datahub.synth.world import World, stable_seed
from datahub.synth.writers import EXTENSIONS, write_table

Progress = Callable[[str, int, int], None]
STUCK_RUN_DAYS = 7


def _weeks(config: SynthConfig) -> list[list[dt.date]]:
    days = [config.start + dt.timedelta(days=i) for i in range(config.days)]
    return [days[i : i + 7] for i in range(0, len(days), 7)]


def _stuck_days(config: SynthConfig) -> set[dt.date]:
    """Seven consecutive days (from the second day when the period allows) of a stuck sensor."""
    first = max(0, min(1, config.days - STUCK_RUN_DAYS))
    return {config.start + dt.timedelta(days=first + i) for i in range(min(STUCK_RUN_DAYS, config.days))}


def file_name(ds: Dataset, first: dt.date, last: dt.date) -> str:
    return f"{ds.name}_{first:%Y%m%d}_{last:%Y%m%d}.{EXTENSIONS[ds.delivery.format]}"


def _rng(config: SynthConfig, *labels: object) -> np.random.Generator:
    return np.random.default_rng(stable_seed(config.seed, *labels))


class _Run:
    def __init__(self, config: SynthConfig, dictionary: Dictionary, catalog: Catalog, out_dir: Path) -> None:
        self.config = config
        self.catalog = catalog
        self.out_dir = out_dir
        self.world = World(dictionary, config.seed)
        self.weeks = _weeks(config)
        self.year = config.start.year
        self._linked: dict[int, build.Linked] = {}
        self.files: list[SynthFile] = []
        self.truths: list[Truth] = []
        self.links: list[tuple[str, str, str, str]] = []

    def rel(self, path: Path) -> str:
        return path.relative_to(self.out_dir).as_posix()

    def path(self, ds: Dataset, first: dt.date, last: dt.date) -> Path:
        return self.out_dir / ds.name / file_name(ds, first, last)

    def hotline(self, w: int) -> tuple[Table, build.Linked]:
        """The hotline calls of week ``w``; the calls to be linked are remembered for the app reports."""
        days = self.weeks[w]
        r = self.config.rows_per_day
        table, linked = build.hotline(
            self.world,
            self.catalog.get("hotline_12345"),
            days,
            [r] * len(days),
            [build.links_per_day(r)] * len(days),
            _rng(self.config, "hotline_12345", w, "rows"),
        )
        self._linked[w] = linked
        return table, linked

    def linked(self, w: int) -> build.Linked:
        if w not in self._linked:
            self.hotline(w)
        return self._linked.pop(w)

    def emit(
        self,
        table: Table,
        first: dt.date,
        last: dt.date,
        exclude: Sequence[str] = (),
        extra: Sequence[Truth] = (),
    ) -> Path:
        ds = table.dataset
        rate = self.defect_rate(ds.name, first)
        Injector(self.world, _rng(self.config, ds.name, first, "defects"), rate, self.year).inject(
            table, exclude
        )
        if ds.name == "gov_app_reports":
            self.dangle(table, first)
        path = self.path(ds, first, last)
        write_table(table, path, last)
        self.files.append(SynthFile(ds.name, path, table.n, first, last))
        self.truths += table.truths(self.rel(path))
        self.truths += extra
        return path

    def defect_rate(self, dataset: str, first: dt.date) -> float:
        """The dataset's defect rate for the month of ``first``: the configured rate, moved by up to
        ``defect_drift`` of it by a draw of its own per dataset and month."""
        drift = self.config.defect_drift
        if not drift:
            return self.config.defect_rate
        factor = _rng(self.config, dataset, first.year, first.month, "drift").uniform(1 - drift, 1 + drift)
        return min(0.1, self.config.defect_rate * float(factor))

    def dangle(self, table: Table, first: dt.date) -> None:
        """``dangling_reference``: unlinked app reports that name a hotline work order of their own day that
        the hotline never issued. A random stream of its own leaves the other defects as they were."""
        injector = Injector(
            self.world,
            _rng(self.config, table.dataset.name, first, "references"),
            self.config.defect_rate,
            self.year,
        )
        submitted = table.cols[
            "submitted_at"
        ]  # still clean in the rows it picks: ``2026-10-01T08:23:11+08:00``

        def make(i: int) -> str:
            day = dt.date.fromisoformat(str(submitted[i])[:10])
            return build.dangling_order_id(day, self.config.rows_per_day, injector.rng)

        injector.dangle(table, "related_order_id", make)

    # ------------------------------------------------------------------ datasets
    def run(self, name: str, progress: Progress | None) -> None:
        ds = self.catalog.get(name)
        r = self.config.rows_per_day
        end = self.config.end
        if name in WEEKLY:
            total = len(self.weeks)
            for w, days in enumerate(self.weeks):
                rng = _rng(self.config, name, w, "rows")
                if name == "hotline_12345":
                    table = self.hotline(w)[0]  # links are copies of protected rows: injection leaves them be
                elif name == "gov_app_reports":
                    table, orders = build.gov_app(
                        self.world, ds, days, build.app_per_day(r), self.linked(w), rng
                    )
                elif name == "citymgmt_cases":
                    table = build.citymgmt(self.world, ds, days, max(1, round(0.5 * r)), rng)
                elif name == "police_110_transfers":
                    table = build.police(self.world, ds, days, max(20, round(0.1 * r)), rng)
                else:
                    table = build.sensors(self.world, ds, days, _stuck_days(self.config), rng)
                path = self.emit(table, days[0], days[-1])
                if name == "gov_app_reports":
                    hot = self.rel(self.path(self.catalog.get("hotline_12345"), days[0], days[-1]))
                    for rid, order in zip(table.cols["report_id"].tolist(), orders.tolist(), strict=True):
                        if order is not None:
                            self.links.append((rid, order, self.rel(path), hot))
                if name == "iot_sensor_readings":
                    for i in np.flatnonzero(table.protected).tolist():
                        self.truths.append(
                            Truth(
                                name,
                                self.rel(path),
                                i + 1,
                                table.key(i),
                                "stuck_sensor",
                                "value",
                                DEFECT_REASONS["stuck_sensor"],
                            )
                        )
                if progress:
                    progress(name, w + 1, total)
        elif name == "emergency_resources":
            table = build.resources(self.world, ds, end, _rng(self.config, name, "rows"))
            self.emit(table, end, end)
            if progress:
                progress(name, 1, 1)
        elif name == "population_grid":
            table = build.population(self.world, ds, end, _rng(self.config, name, "rows"))
            path = self.path(ds, end, end)
            stale = Truth(
                name,
                self.rel(path),
                None,
                "",
                "stale_delivery",
                "update_time",
                DEFECT_REASONS["stale_delivery"],
            )
            self.emit(table, end, end, extra=[stale])
            if progress:
                progress(name, 1, 1)
        else:  # pragma: no cover - guarded by generate()
            raise NotFound(f"no generator for dataset '{name}'")

    # ------------------------------------------------------------------ outputs
    def write_side_files(self, names: list[str]) -> SynthResult:
        gt = self.out_dir / "ground_truth.csv"
        self.truths.sort(key=lambda t: (DATASETS.index(t.dataset), t.file, t.row_number or 0, t.defect))
        _write_csv(gt, GROUND_TRUTH_COLUMNS, [t.as_row() for t in self.truths])
        links = self.out_dir / "event_links.csv"
        _write_csv(links, EVENT_LINK_COLUMNS, [list(x) for x in self.links])
        counts: dict[str, dict[str, object]] = {}
        for name in names:
            files = [f for f in self.files if f.dataset == name]
            counts[name] = {
                "files": len(files),
                "rows": sum(f.rows for f in files),
                "defects": dict(sorted(Counter(t.defect for t in self.truths if t.dataset == name).items())),
            }
        manifest = self.out_dir / "manifest.json"
        doc = {
            "generator": "datahub.synth",
            "config": {
                **asdict(self.config),
                "start": self.config.start.isoformat(),
                "end": self.config.end.isoformat(),
            },
            "datasets": names,
            "files": [
                {
                    "dataset": f.dataset,
                    "path": self.rel(f.path),
                    "format": self.catalog.get(f.dataset).delivery.format.value,
                    "encoding": self.catalog.get(f.dataset).delivery.encoding,
                    "rows": f.rows,
                    "period_start": f.period_start.isoformat(),
                    "period_end": f.period_end.isoformat(),
                    "sha256": file_sha256(f.path),
                }
                for f in self.files
            ],
            "counts": counts,
            "defect_totals": dict(sorted(Counter(t.defect for t in self.truths).items())),
            "event_links": len(self.links),
            "ground_truth_rows": len(self.truths),
        }
        manifest.write_text(json.dumps(doc, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        return SynthResult(files=list(self.files), ground_truth=gt, event_links=links, manifest=manifest)


def _write_csv(path: Path, header: Sequence[str], rows: list[list[str]]) -> None:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    path.write_text(buf.getvalue(), encoding="utf-8")


def generate(
    config: SynthConfig,
    dictionary: Dictionary,
    catalog: Catalog,
    out_dir: Path,
    datasets: Sequence[str] | None = None,
    progress: Progress | None = None,
) -> SynthResult:
    """Write every requested dataset's deliveries for the period, plus ground truth, links and a manifest.

    The same config and dictionary always give byte-identical files, whichever subset is asked for.
    """
    names = list(DATASETS) if datasets is None else list(dict.fromkeys(datasets))
    unknown = [n for n in names if n not in DATASETS]
    if unknown:
        raise NotFound(f"no generator for dataset(s) {', '.join(unknown)} (known: {', '.join(DATASETS)})")
    names = [n for n in DATASETS if n in names]
    for n in names:
        catalog.get(n)  # raises NotFound when the contract is missing
    if "gov_app_reports" in names:
        catalog.get("hotline_12345")
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    run = _Run(config, dictionary, catalog, out_dir)
    for name in names:
        run.run(name, progress)
    return run.write_side_files(names)


def hotline_table(
    rows: int,
    start: dt.date,
    dictionary: Dictionary,
    catalog: Catalog,
    seed: int = 1,
    defect_rate: float = 0.01,
) -> tuple[Table, dt.date]:
    """Exactly ``rows`` hotline rows with defects (for benchmarks), and the day of the last row."""
    if rows < 1:
        raise ValueError("rows must be at least 1")
    days_needed = math.ceil(rows / 500_000)  # daily sequence numbers have six digits
    per_day = [rows // days_needed + (1 if i < rows % days_needed else 0) for i in range(days_needed)]
    days = [start + dt.timedelta(days=i) for i in range(days_needed)]
    world = World(dictionary, seed)
    ds = catalog.get("hotline_12345")
    config = SynthConfig(
        start=start, days=days_needed, rows_per_day=max(per_day), seed=seed, defect_rate=defect_rate
    )
    table, _ = build.hotline(
        world, ds, days, per_day, [0] * days_needed, _rng(config, "hotline_12345", 0, "rows")
    )
    Injector(world, _rng(config, "hotline_12345", start, "defects"), defect_rate, start.year).inject(table)
    return table, days[-1]


def generate_hotline_file(
    path: Path,
    rows: int,
    start: dt.date,
    dictionary: Dictionary,
    catalog: Catalog,
    seed: int = 1,
    defect_rate: float = 0.01,
) -> Path:
    """One hotline CSV of exactly ``rows`` rows (for throughput benchmarks), with defects, no side files."""
    table, last_day = hotline_table(rows, start, dictionary, catalog, seed, defect_rate)
    path = Path(path)
    write_table(table, path, last_day)
    return path

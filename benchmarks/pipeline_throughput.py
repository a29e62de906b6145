"""End-to-end throughput of the hotline_12345 pipeline (landing → raw → conformed → published), and
the publish stage into the Iceberg lake beside the Parquet publication it replaced.

Usage: .venv/bin/python benchmarks/pipeline_throughput.py [--json] [--publish-only] [ROWS ...]
(default sizes: 100000 1000000)

For each size it writes one GBK hotline CSV with the synthetic generator (not timed), then times
`datahub.pipeline.ingest_file` on a fresh platform home and prints rows per second, the time of each
stage and the peak resident memory of the process.

Then it times the publish stage alone on the published rows (read back from the lake; the conformed
rows when the pipeline did not publish), best of 3, the two stores alternating:
- old store: the Parquet publication the platform did before issue 18 — the delivery as one Parquet
  part (`datahub.lake.store.write_parquet`: zstd, statistics, fsync and rename), a JSON manifest
  listing the parts and a pointer file naming it;
- Iceberg: `TableStore.commit` appending the delivery to the dataset's table in a fresh SQL catalog
  and warehouse on local disk (the table is created beforehand, untimed).
The restricted values (raw personal columns), which both stores also publish, are left out of both.

``--publish-only`` skips the stages after conforming (the desensitisation reads every complaint text
with a name model: about 12 minutes at a million rows) and compares the publication of the conformed
rows. ``--json`` prints one JSON document instead of the text.
"""

from __future__ import annotations

import json
import resource
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import polars as pl

from datahub import pipeline
from datahub.contracts import Dataset
from datahub.files import write_whole
from datahub.lake.store import write_parquet
from datahub.lake.tables import PUBLISHED, TableStore
from datahub.platform import Platform
from datahub.settings import Settings
from datahub.synth import generate_hotline_file

DATASET = "hotline_12345"
REPEATS = 3


def old_publish(base: Path, delivery_id: str, frame: pl.DataFrame, contract_version: str) -> None:
    """The publication of the lake before Iceberg (``Lake._publish_new``, append): the part, then the
    manifest of every part, then the pointer to it."""
    part = f"parts/{delivery_id}.parquet"
    write_parquet(frame, base / part)
    pointer = base / "CURRENT"
    previous = (
        json.loads((base / "versions" / f"{pointer.read_text()}.json").read_text())
        if pointer.exists()
        else None
    )
    now = datetime.now(UTC)
    version = f"{now:%Y%m%dT%H%M%S%fZ}-{delivery_id[:8]}"
    manifest: dict[str, Any] = {
        "dataset": DATASET,
        "version": version,
        "created_at": now.isoformat(),
        "contract_version": contract_version,
        "parts": [*(previous["parts"] if previous else []), part],
        "rows": (previous["rows"] if previous else 0) + frame.height,
        "delivery_id": delivery_id,
        "schema": {name: str(dtype) for name, dtype in frame.schema.items()},
        "restricted_parts": [],
    }
    body = json.dumps(manifest, ensure_ascii=False, indent=2).encode("utf-8")
    write_whole(base / "versions" / f"{version}.json", body)
    write_whole(pointer, version.encode("utf-8"))


def compare_publish(frame: pl.DataFrame, dataset: Dataset, workdir: Path) -> dict[str, Any]:
    """Best of REPEATS of each store on the same frame, alternating: seconds and their ratio."""
    store = TableStore(f"sqlite:///{workdir / 'catalog.db'}", (workdir / "warehouse").as_uri())
    store.commit(PUBLISHED, dataset, "create", frame.head(0), replace=False, contract_version=dataset.version)
    runs: dict[str, list[float]] = {"old": [], "iceberg": []}
    steps: dict[str, Callable[[str], object]] = {
        "old": lambda delivery: old_publish(workdir / "old", delivery, frame, dataset.version),
        "iceberg": lambda delivery: store.commit(
            PUBLISHED, dataset, delivery, frame, replace=False, contract_version=dataset.version
        ),
    }
    for i in range(REPEATS):
        for name, step in steps.items():
            started = time.perf_counter()
            step(f"{i:04d}{name}".ljust(32, "0"))
            runs[name].append(time.perf_counter() - started)
    store.close()
    iceberg_bytes = sum(p.stat().st_size for p in (workdir / "warehouse").rglob("*.parquet")) / REPEATS
    old_bytes = sum(p.stat().st_size for p in (workdir / "old" / "parts").glob("*.parquet")) / REPEATS
    old, iceberg = min(runs["old"]), min(runs["iceberg"])
    return {
        "rows": frame.height,
        "old_s": round(old, 3),
        "iceberg_s": round(iceberg, 3),
        "ratio": round(iceberg / old, 2),
        "old_runs_s": [round(t, 3) for t in runs["old"]],
        "iceberg_runs_s": [round(t, 3) for t in runs["iceberg"]],
        "old_file_mb": round(old_bytes / 1e6, 1),
        "iceberg_file_mb": round(iceberg_bytes / 1e6, 1),
    }


def published_rows(platform: Platform, dataset: Dataset) -> tuple[pl.DataFrame, str]:
    """The rows the pipeline published (from the lake), else its conformed rows; and which."""
    try:
        current = platform.lake.scan_current(dataset.name)
        if current is not None:
            return current.collect(), "published rows"
    except Exception as exc:  # the lake's reading API may be changing under this benchmark
        print(f"  (could not read the published rows back: {exc!r})", file=sys.stderr)
    conformed = sorted((platform.lake.root / "conformed" / dataset.name).glob("*.parquet"))
    if not conformed:
        raise SystemExit("the pipeline left no conformed rows to publish")
    return pl.read_parquet(conformed[-1]), "conformed rows"


def conform_only(platform: Platform, dataset: Dataset, source: Path) -> None:
    pipeline.land_file(platform, dataset, source)
    for stage in ("raw", "conformed"):
        pipeline.run_stage(platform, dataset, stage)


def run(rows: int, *, publish_only: bool, as_json: bool) -> dict[str, Any]:
    result: dict[str, Any] = {"dataset": DATASET, "rows": rows}
    with tempfile.TemporaryDirectory(prefix="datahub-bench-") as tmp:
        settings = Settings(home=Path(tmp) / "var", demo_mode=True)
        platform = Platform(settings)
        dataset = platform.catalog.get(DATASET)
        started = time.perf_counter()
        source = generate_hotline_file(
            Path(tmp) / "hotline_12345_bench.csv",
            rows,
            date(2026, 10, 1),
            platform.dictionary,
            platform.catalog,
        )
        result["generated_s"] = round(time.perf_counter() - started, 1)
        result["file_mb"] = round(source.stat().st_size / 1e6)
        if publish_only:
            conform_only(platform, dataset, source)
        else:
            started = time.perf_counter()
            try:
                summary = pipeline.ingest_file(platform, DATASET, source)
            except Exception as exc:  # report it, and still compare the publication
                traceback.print_exc()
                result["error"] = repr(exc)
            else:
                elapsed = time.perf_counter() - started
                result.update(
                    end_to_end_s=round(elapsed, 1),
                    rows_per_s=round(rows / elapsed),
                    status=summary.status,
                    published=summary.rows_published,
                    quarantined=summary.rows_quarantined,
                    reconciled=summary.reconciled,
                    stages_s={k: round(v, 1) for k, v in summary.timings.items()},
                )
        result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
        frame, what = published_rows(platform, dataset)
        workdir = Path(tmp) / "publish"
        workdir.mkdir()
        result["publish"] = {"frame": what, **compare_publish(frame, dataset, workdir)}
        platform.metadata.dispose()
    if not as_json:
        print_text(result)
    return result


def print_text(r: dict[str, Any]) -> None:
    lines = [f"{r['dataset']} rows={r['rows']:,} file={r['file_mb']} MB (generated in {r['generated_s']}s)"]
    if "end_to_end_s" in r:
        stages = ", ".join(f"{k} {v:.1f}s" for k, v in r["stages_s"].items())
        lines += [
            f"  end to end {r['end_to_end_s']:.1f}s = {r['rows_per_s']:,} rows/s; "
            f"published {r['published'] or 0:,}, quarantined {r['quarantined'] or 0:,}, "
            f"reconciled {r['reconciled']} ({r['status']})",
            f"  stages: {stages}",
        ]
    elif "error" in r:
        lines.append(f"  the pipeline failed: {r['error']}")
    lines.append(f"  peak RSS {r['peak_rss_mb']:,} MB")
    p = r["publish"]
    lines.append(
        f"  publish stage ({p['rows']:,} {p['frame']}, best of {REPEATS}): old store {p['old_s']:.3f} s, "
        f"Iceberg {p['iceberg_s']:.3f} s, ratio {p['ratio']:.2f}\n"
        f"    files {p['old_file_mb']} MB / {p['iceberg_file_mb']} MB; "
        f"runs {p['old_runs_s']} / {p['iceberg_runs_s']}"
    )
    print("\n".join(lines), flush=True)


def main(argv: list[str]) -> None:
    as_json, publish_only = "--json" in argv, "--publish-only" in argv
    sizes = [int(a) for a in argv if not a.startswith("--")] or [100_000, 1_000_000]
    results = [run(n, publish_only=publish_only, as_json=as_json) for n in sizes]
    if as_json:
        print(json.dumps(results, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main(sys.argv[1:])

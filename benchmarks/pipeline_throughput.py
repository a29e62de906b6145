"""End-to-end throughput of the hotline_12345 pipeline: landing → raw → conformed → published.

Usage: .venv/bin/python benchmarks/pipeline_throughput.py [ROWS ...]   (default: 100000 1000000)

For each size it writes one GBK hotline CSV with the synthetic generator (not timed), then times
`datahub.pipeline.ingest_file` on a fresh platform home and prints rows per second, the time of each
stage and the peak resident memory of the process.
"""

from __future__ import annotations

import resource
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from datahub import pipeline
from datahub.platform import Platform
from datahub.settings import Settings
from datahub.synth import generate_hotline_file


def run(rows: int) -> None:
    with tempfile.TemporaryDirectory(prefix="datahub-bench-") as tmp:
        settings = Settings(home=Path(tmp) / "var", demo_mode=True)
        platform = Platform(settings)
        started = time.perf_counter()
        source = generate_hotline_file(
            Path(tmp) / "hotline_12345_bench.csv",
            rows,
            date(2026, 10, 1),
            platform.dictionary,
            platform.catalog,
        )
        generated = time.perf_counter() - started
        size_mb = source.stat().st_size / 1e6
        started = time.perf_counter()
        summary = pipeline.ingest_file(platform, "hotline_12345", source)
        elapsed = time.perf_counter() - started
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        stages = ", ".join(f"{k} {v:.1f}s" for k, v in summary.timings.items())
        print(
            f"hotline_12345 rows={rows:,} file={size_mb:.0f} MB (generated in {generated:.1f}s)\n"
            f"  end to end {elapsed:.1f}s = {rows / elapsed:,.0f} rows/s; "
            f"published {summary.rows_published:,}, "
            f"quarantined {summary.rows_quarantined:,}, reconciled {summary.reconciled}\n"
            f"  stages: {stages}\n"
            f"  peak RSS {peak_mb:,.0f} MB",
            flush=True,
        )
        platform.metadata.dispose()


if __name__ == "__main__":
    sizes = [int(a) for a in sys.argv[1:]] or [100_000, 1_000_000]
    for n in sizes:
        run(n)

"""The quality stage on hotline_12345 (conformity + expectation suite) beside a naive GX-on-pandas baseline.

Usage: .venv/bin/python benchmarks/quality.py [--sizes 1000000,10000000] [--baseline-timeout 900]

Data (prepared once per size, not timed, cached under ``var/bench/quality``): N rows of the synthetic
hotline CSV (GBK, Chinese headers), generated in chunks of at most 1,000,000 rows with their own seeds and
start dates two days apart (work-order ids are ``GD`` + date + daily sequence number, so they never
collide across chunks), each read with ``datahub.ingest.readers.read_delivery`` and given the lineage
columns the raw stage adds (``_source_file``, ``_row_number`` numbered across the whole file,
``_ingested_at``, ``_file_hash``), then appended to one raw Parquet file.

Each measurement runs in its own Python process, which reports its peak resident memory
(``ru_maxrss``; ``VmHWM`` as a check), the wall and CPU time of each phase and the memory high-water
mark after it, as JSON; the parent only runs processes, so its memory never shows up in theirs. The
parent also reports how many cores other processes kept busy meanwhile (``/proc/stat`` minus the
child's own CPU time): on a shared 2-core machine a figure is only comparable when that is near 0.

- ``datahub``: conformity from the raw file to conformed + quarantine Parquet (``conform_file`` when
  ``datahub.quality.conformity`` has it, otherwise read the whole raw file and run ``conform`` on one
  frame — the output says which), then the suite: ``build_suite`` with the context the checked stage
  builds (rows and nulls from the conformed file's footer, received columns from the raw file, delivered
  the day after the data, the previous delivery as large as this one so ``volume`` passes) and
  ``validate`` on a DuckDB ``Engine`` with masked samples and a flags file.
- ``baseline``: the same suite in GX 1.x on one whole pandas frame: ``pd.read_parquet`` of the conformed
  file, an ephemeral context (progress bars off), a pandas data source with a whole-dataframe batch,
  ``batch.validate(suite, result_format=SUMMARY)``. ``columns_closed`` checks the received columns, so
  GX runs that one expectation on an empty frame with the raw file's columns. Otherwise GX's defaults
  (which include an md5 fingerprint of frames under 1 GB when the batch is made).

"processing" is everything after the imports (opening the dictionary and contracts included); "wall" is
the whole process as the parent saw it, interpreter start and imports included. The datahub run names
the ``conformity.py`` it imported (hash, mtime), as that module may change between runs. For every rule (by
``meta.rule``, expectation type and column) success, unexpected_count and observed_value must be the
same in both runs; the script exits non-zero when they are not.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DATASET = "hotline_12345"
CHUNK_ROWS = 1_000_000
PREP_VERSION = 2  # bump when prepared data changes: caches of another version are rebuilt
ROW_GROUP = 262_144  # polars' default row group, as the lake writes the raw layer
RESULT_FORMAT = {"result_format": "SUMMARY", "partial_unexpected_count": 20}


def _hwm_mb() -> float | None:
    """This process's resident high-water mark so far (VmHWM), in MB."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return None


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class _Phases:
    """Wall time, CPU time (all threads) and the memory high-water mark at the end of each phase."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.cpu: dict[str, float] = {}
        self.hwm_mb: dict[str, float | None] = {"imports": _hwm_mb()}
        self._cpu_mark = _cpu_s()

    def __call__(self, name: str, started: float) -> None:
        self.seconds[name] = time.perf_counter() - started
        self.cpu[name] = _cpu_s() - self._cpu_mark
        self._cpu_mark += self.cpu[name]
        self.hwm_mb[name] = _hwm_mb()


def _peak_mb() -> dict[str, float]:
    """Peak resident memory of this process: ru_maxrss, and VmHWM from /proc as a check."""
    peak = {"ru_maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    hwm = _hwm_mb()
    if hwm is not None:
        peak["vmhwm_mb"] = hwm
    return peak


def _platform(home: Path) -> Any:
    from datahub.platform import Platform
    from datahub.settings import Settings

    return Platform(Settings(home=home / "var", demo_mode=True))


# --------------------------------------------------------------------------------------------- data prep


def prepare(rows: int, cache: Path) -> None:
    """Write ``raw.parquet`` and ``meta.json`` for ``rows`` hotline rows under ``cache`` (its own process)."""
    import hashlib
    from datetime import UTC, date, datetime, timedelta

    import polars as pl
    import pyarrow.parquet as pq

    from datahub.ingest.readers import read_delivery
    from datahub.synth import generate_hotline_file

    cache.mkdir(parents=True, exist_ok=True)
    platform = _platform(cache)
    dataset = platform.catalog.get(DATASET)
    source_file = f"hotline_12345_bench_{rows}.csv"
    ingested_at = datetime.now(UTC).replace(tzinfo=None)
    chunks = [min(CHUNK_ROWS, rows - start) for start in range(0, rows, CHUNK_ROWS)]
    # Lineage names the delivery file; a 10M-row delivery is made of chunks, so its hash is theirs.
    file_hash = hashlib.sha256(f"{source_file}:{rows}".encode()).hexdigest()
    tmp = cache / ".raw.parquet.tmp"
    writer = None
    first_day = date(2026, 9, 1)
    last_day = first_day
    offset = 0
    started = time.perf_counter()
    for i, n in enumerate(chunks):
        day = first_day + timedelta(days=2 * i)  # a chunk of 1M rows spans two days of sequence numbers
        csv = generate_hotline_file(
            cache / f".chunk{i}.csv", n, day, platform.dictionary, platform.catalog, seed=1 + i
        )
        frame = read_delivery(csv, dataset).frame
        csv.unlink()
        row = pl.int_range(offset + 1, offset + frame.height + 1, dtype=pl.Int64)
        frame = frame.with_columns(
            # Rows that pass conformity but fail the contract's rules, so verdicts compare real counts:
            # 1/997 handled by the external department (blocking), 1/16 without a street (6.25% > 5%),
            # 1/50 anonymous callers (2%, under the 30% allowed).
            pl.when(row % 997 == 0).then(pl.lit("EX")).otherwise(pl.col("承办部门")).alias("承办部门"),
            pl.when(row % 16 == 1).then(pl.lit("")).otherwise(pl.col("所属街道")).alias("所属街道"),
            pl.when(row % 50 == 0).then(pl.lit("匿名")).otherwise(pl.col("来电人")).alias("来电人"),
        ).with_columns(
            pl.lit(source_file).alias("_source_file"),
            row.alias("_row_number"),
            pl.lit(ingested_at).alias("_ingested_at"),
            pl.lit(file_hash).alias("_file_hash"),
        )
        table = frame.to_arrow()
        if writer is None:
            writer = pq.ParquetWriter(tmp, table.schema, compression="zstd")
        writer.write_table(table.cast(writer.schema), row_group_size=ROW_GROUP)
        offset += frame.height
        last_day = day + timedelta(days=-(-n // 500_000) - 1)
        print(f"  prep {rows:,}: chunk {i + 1}/{len(chunks)} ({offset:,} rows)", file=sys.stderr, flush=True)
        del frame, table
    assert writer is not None
    writer.close()
    tmp.replace(cache / "raw.parquet")
    ids = pl.scan_parquet(cache / "raw.parquet").select("工单编号")
    repeated = ids.group_by("工单编号").len().filter(pl.col("len") > 1).select(pl.len()).collect().item()
    meta = {
        "prep_version": PREP_VERSION,
        "rows": offset,
        "chunks": len(chunks),
        "source_file": source_file,
        "delivered_at": datetime.combine(last_day + timedelta(days=1), datetime.min.time())
        .replace(hour=6)
        .isoformat(),
        "repeated_work_order_ids": repeated,
        "prep_s": round(time.perf_counter() - started, 1),
    }
    (cache / "meta.json").write_text(json.dumps(meta, indent=1))


# ------------------------------------------------------------------------------------------ measurements


def _verdicts(suite_result: dict[str, Any]) -> list[dict[str, Any]]:
    """Per expectation: the rule, type, column and what is compared across engines."""
    out = []
    for r in suite_result["results"]:
        config = r["expectation_config"]
        kwargs = config.get("kwargs") or {}
        result = r.get("result") or {}
        column = kwargs.get("column") or "|".join(kwargs.get("column_list") or []) or None
        exception = (r.get("exception_info") or {}).get("exception_message")
        out.append(
            {
                "rule": (config.get("meta") or {}).get("rule"),
                "type": config["type"],
                "column": column,
                "success": bool(r["success"]),
                "unexpected_count": result.get("unexpected_count"),
                "observed_value": result.get("observed_value"),
                "exception": exception,
            }
        )
    return out


def _context(meta: dict[str, Any], conformed: Path, raw: Path) -> Any:
    from datetime import datetime

    from datahub.quality.checking import null_counts, received_columns
    from datahub.quality.expectations import SuiteContext

    rows, nulls = null_counts(conformed)
    return SuiteContext(
        rows=rows,
        null_counts=nulls,
        received_columns=received_columns(raw),
        delivered_at=datetime.fromisoformat(meta["delivered_at"]),
        previous_rows=meta["rows"],  # the previous delivery was as large: volume passes
    )


def measure_datahub(cache: Path, work: Path) -> dict[str, Any]:
    started = time.perf_counter()
    import hashlib
    from datetime import datetime

    import polars as pl

    from datahub.lake.store import write_parquet
    from datahub.privacy.policy import mask_for_quarantine
    from datahub.quality import conformity
    from datahub.quality.checking import _masker, received_columns
    from datahub.quality.expectations import build_suite
    from datahub.quality.validation import Engine, validate

    imported = time.perf_counter()
    phases = _Phases()
    meta = json.loads((cache / "meta.json").read_text())
    raw = cache / "raw.parquet"
    conformed, quarantine = work / "conformed.parquet", work / "quarantine.parquet"
    flags = work / "flags.parquet"

    t = time.perf_counter()
    platform = _platform(work)
    dataset = platform.catalog.get(DATASET)
    dictionary = platform.dictionary
    phases("open", t)

    source = Path(conformity.__file__)
    conformity_version = {
        "sha256": hashlib.sha256(source.read_bytes()).hexdigest()[:12],
        "mtime": datetime.fromtimestamp(source.stat().st_mtime).isoformat(timespec="seconds"),
    }
    conform_file = getattr(conformity, "conform_file", None)
    if conform_file is not None:
        t = time.perf_counter()
        stats = conform_file(
            raw,
            dataset,
            dictionary,
            conformed_path=conformed,
            quarantine_path=quarantine,
            published_keys=None,
            mask_value=mask_for_quarantine,
        )
        phases("conform_file", t)
        conformity_api = "conform_file"
        fields = dataclasses.asdict(stats) if dataclasses.is_dataclass(stats) else vars(stats)
        conform_stats = {k: v for k, v in fields.items() if isinstance(v, int | float | str)}
    else:
        t = time.perf_counter()
        frame = pl.read_parquet(raw)
        phases("read_raw", t)
        t = time.perf_counter()
        result = conformity.conform(frame, dataset, dictionary, mask_value=mask_for_quarantine)
        phases("conform", t)
        t = time.perf_counter()
        write_parquet(result.conformed, conformed)
        write_parquet(result.quarantine, quarantine)
        phases("write", t)
        conformity_api = "conform (whole frame)"
        conform_stats = {"conformed": result.conformed.height, "quarantined": result.quarantine.height}
        del frame, result

    t = time.perf_counter()
    rules = build_suite(dataset, _context(meta, conformed, raw))
    phases("suite", t)
    t = time.perf_counter()
    engine = Engine(conformed, code_tables=platform.settings.dictionary_path / "code_tables")
    try:
        validation = validate(
            engine,
            rules,
            suite_name=f"{dataset.name}@{dataset.version}",
            received_columns=received_columns(raw),
            key_columns=dataset.key_columns,
            mask=_masker(dataset),
            flags_path=flags,
        )
    finally:
        engine.close()
    phases("validate", t)
    platform.metadata.dispose()
    done = time.perf_counter()
    return {
        "engine": "datahub",
        "conformity_api": conformity_api,
        "conform_stats": conform_stats,
        "conformity_py": conformity_version,
        "rows": meta["rows"],
        "import_s": imported - started,
        "processing_s": done - imported,
        "phases": phases.seconds,
        "cpu_s_per_phase": phases.cpu,
        "hwm_after_mb": phases.hwm_mb,
        "flagged_rows": validation.flagged_rows,
        "verdicts": _verdicts(validation.result),
        **_peak_mb(),
    }


def measure_baseline(cache: Path, work: Path) -> dict[str, Any]:
    started = time.perf_counter()
    os.environ["GX_ANALYTICS_ENABLED"] = "false"
    import great_expectations as gx
    import pandas as pd
    from great_expectations.data_context.types.base import ProgressBarsConfig

    from datahub.quality.checking import received_columns
    from datahub.quality.expectations import build_suite

    imported = time.perf_counter()
    phases = _Phases()
    meta = json.loads((cache / "meta.json").read_text())
    raw, conformed = cache / "raw.parquet", work / "conformed.parquet"

    t = time.perf_counter()
    platform = _platform(work / "baseline")
    dataset = platform.catalog.get(DATASET)
    phases("open", t)
    t = time.perf_counter()
    frame = pd.read_parquet(conformed)
    phases("read", t)
    t = time.perf_counter()
    rules = build_suite(dataset, _context(meta, conformed, raw))
    ctx = gx.get_context(mode="ephemeral")
    ctx.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    on_columns = [r.expectation.copy(deep=True) for r in rules if r.name == "columns_closed"]
    on_rows = [r.expectation.copy(deep=True) for r in rules if r.name != "columns_closed"]
    rows_suite = ctx.suites.add(gx.ExpectationSuite(name=f"{DATASET}_rows", expectations=on_rows))
    columns_suite = ctx.suites.add(gx.ExpectationSuite(name=f"{DATASET}_columns", expectations=on_columns))
    source = ctx.data_sources.add_pandas("bench")
    rows_batch = (
        source.add_dataframe_asset("conformed")
        .add_batch_definition_whole_dataframe("whole")
        .get_batch(batch_parameters={"dataframe": frame})
    )
    received = pd.DataFrame(columns=received_columns(raw))
    columns_batch = (
        source.add_dataframe_asset("received")
        .add_batch_definition_whole_dataframe("whole")
        .get_batch(batch_parameters={"dataframe": received})
    )
    phases("gx_setup", t)
    t = time.perf_counter()
    results = [
        columns_batch.validate(columns_suite, result_format=RESULT_FORMAT).to_json_dict(),
        rows_batch.validate(rows_suite, result_format=RESULT_FORMAT).to_json_dict(),
    ]
    phases("validate", t)
    platform.metadata.dispose()
    done = time.perf_counter()
    return {
        "engine": "baseline",
        "rows": meta["rows"],
        "import_s": imported - started,
        "processing_s": done - imported,
        "phases": phases.seconds,
        "cpu_s_per_phase": phases.cpu,
        "hwm_after_mb": phases.hwm_mb,
        "verdicts": [v for r in results for v in _verdicts(r)],
        **_peak_mb(),
    }


# ------------------------------------------------------------------------------------------------ parent


def _busy_cpu_s() -> float:
    """CPU seconds all processes of the machine have used since boot (from /proc/stat)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _child(mode: str, cache: Path, work: Path, timeout: float | None) -> tuple[dict[str, Any] | None, str]:
    """Run one measurement in a fresh process; its JSON, or None and why it did not finish."""
    out = work / f"{mode}.json"
    out.unlink(missing_ok=True)
    argv = [sys.executable, str(Path(__file__).resolve()), "--child", mode, "--cache", str(cache)]
    argv += ["--work", str(work), "--out", str(out)]
    started, busy, ours = time.perf_counter(), _busy_cpu_s(), _children_cpu_s()
    try:
        proc = subprocess.run(argv, timeout=timeout, capture_output=True, text=True, check=False)
    except subprocess.TimeoutExpired:
        return None, f"did not finish within {timeout:.0f} s (killed)"
    wall = time.perf_counter() - started
    cpu = _children_cpu_s() - ours
    others = max(0.0, _busy_cpu_s() - busy - cpu) / wall  # cores other processes kept busy meanwhile
    if proc.returncode != 0 or not out.exists():
        tail = (proc.stderr or "").strip().splitlines()[-5:]
        return None, f"exit {proc.returncode}: " + " | ".join(tail)
    report = json.loads(out.read_text())
    report.update(wall_s=wall, cpu_s=cpu, others_cores=others)
    return report, ""


def _key(v: dict[str, Any]) -> tuple[str, str, str]:
    return (str(v["rule"]), v["type"], str(v["column"]))


def compare(ours: list[dict[str, Any]], theirs: list[dict[str, Any]]) -> tuple[int, int]:
    """Print the per-rule table; (equal, total)."""
    base = {_key(v): v for v in theirs}
    keys = [_key(v) for v in ours] + [k for k in base if k not in {_key(v) for v in ours}]
    mine = {_key(v): v for v in ours}
    fields = ("success", "unexpected_count", "observed_value")

    def shown(v: dict[str, Any] | None) -> str:
        if v is None:
            return "(absent)"
        value = v["observed_value"] if v["unexpected_count"] is None else v["unexpected_count"]
        if isinstance(value, list):
            value = f"[{len(value)} columns]"
        text = f"{'pass' if v['success'] else 'FAIL'} {value}"
        return text + (f" (exception: {v['exception'][:60]})" if v.get("exception") else "")

    equal = 0
    print(f"  {'rule':<26} {'expectation':<46} {'datahub':<22} {'baseline':<22} same")
    for k in keys:
        a, b = mine.get(k), base.get(k)
        same = a is not None and b is not None and all(a[f] == b[f] for f in fields)
        equal += same
        print(f"  {k[0]:<26} {k[1]:<46} {shown(a):<22} {shown(b):<22} {'yes' if same else 'NO'}")
        if not same and a is not None and b is not None:
            for f in fields:
                if a[f] != b[f]:
                    print(f"      {f}: datahub={a[f]!r} baseline={b[f]!r}")
    return equal, len(keys)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000000,10000000", help="comma-separated row counts")
    parser.add_argument("--baseline-timeout", type=float, default=900.0, help="seconds; 0 skips the baseline")
    parser.add_argument("--cache", type=Path, default=ROOT / "var" / "bench" / "quality")
    parser.add_argument("--child", choices=("prep", "datahub", "baseline"), help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--rows", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child == "prep":
        prepare(args.rows, args.cache)
        return 0
    if args.child:
        measure = measure_datahub if args.child == "datahub" else measure_baseline
        report = measure(args.cache, args.work)
        args.out.write_text(json.dumps(report, default=str))
        return 0

    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    print(f"load before: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")
    rows_out: list[tuple[str, ...]] = []
    targets: list[str] = []
    all_equal = True
    for n in sizes:
        cache = args.cache / f"{DATASET}_{n}"
        meta_file = cache / "meta.json"
        if not meta_file.exists() or json.loads(meta_file.read_text()).get("prep_version") != PREP_VERSION:
            print(f"preparing {n:,} raw rows under {cache} (not timed)", flush=True)
            argv = [sys.executable, str(Path(__file__).resolve()), "--child", "prep"]
            subprocess.run([*argv, "--rows", str(n), "--cache", str(cache)], check=True)
        meta = json.loads((cache / "meta.json").read_text())
        work = cache / "run"
        work.mkdir(exist_ok=True)
        print(f"\n== {n:,} rows (raw {(cache / 'raw.parquet').stat().st_size / 1e6:,.0f} MB)", flush=True)
        ours, why = _child("datahub", cache, work, None)
        if ours is None:
            print(f"  datahub failed: {why}")
            all_equal = False
            continue
        print(
            f"  datahub conformity via {ours['conformity_api']} (conformity.py {ours['conformity_py']}): "
            f"{ours['conform_stats']}"
        )
        if n == 1_000_000:
            ok = ours["processing_s"] <= 5.0
            targets.append(
                f"1M rows processed in <= 5 s: {'met' if ok else 'NOT met'} ({ours['processing_s']:.2f} s)"
            )
        if n == 10_000_000:
            ok = ours["ru_maxrss_mb"] <= 2048
            targets.append(
                f"10M rows in <= 2 GB peak: {'met' if ok else 'NOT met'} ({ours['ru_maxrss_mb']:,.0f} MB)"
            )
        theirs, why_not = (None, "skipped")
        if args.baseline_timeout > 0:
            theirs, why_not = _child("baseline", cache, work, args.baseline_timeout)
        verdicts = "-"
        if theirs is not None:
            equal, total = compare(ours["verdicts"], theirs["verdicts"])
            verdicts = f"{equal}/{total}"
            print(f"  verdicts equal: {equal}/{total}")
            all_equal &= equal == total
        else:
            print(f"  baseline: {why_not}")
        for report in (ours, theirs):
            if report is None:
                rows_out.append((f"{meta['rows']:,}", "baseline", "-", "-", "-", "-", why_not, "-"))
                continue
            phases = ", ".join(f"{k} {v:.2f}" for k, v in report["phases"].items())
            hwm = ", ".join(f"{k} {v:,.0f}" for k, v in report["hwm_after_mb"].items() if v is not None)
            cpu = ", ".join(f"{k} {v:.1f}" for k, v in report["cpu_s_per_phase"].items())
            print(
                f"  {report['engine']} {meta['rows']:,}: cpu {report['cpu_s']:.1f} s over "
                f"{report['wall_s']:.1f} s wall; other processes kept {report['others_cores']:.2f} of "
                f"{os.cpu_count()} cores busy\n    cpu s per phase: {cpu}\n"
                f"    memory high-water after each phase (MB): {hwm}"
            )
            rows_out.append(
                (
                    f"{meta['rows']:,}",
                    report["engine"],
                    f"{report['processing_s']:.2f}",
                    f"{report['wall_s']:.2f} (imports {report['import_s']:.2f})",
                    f"{report['ru_maxrss_mb']:,.0f}",
                    f"{report['others_cores']:.2f}",
                    phases,
                    verdicts,
                )
            )
    print(f"\nload after: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")
    header = (
        "rows",
        "engine",
        "processing s",
        "wall s",
        "peak RSS MB",
        "others' cores",
        "phases (s)",
        "verdicts",
    )
    widths = [max(len(r[i]) for r in [header, *rows_out]) for i in range(len(header))]
    for r in [header, *rows_out]:
        print("  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip())
    for line in targets:
        print(f"target: {line}")
    if not all_equal:
        print("verdicts differ (or a run failed)")
    return 0 if all_equal else 1


if __name__ == "__main__":
    sys.exit(main())

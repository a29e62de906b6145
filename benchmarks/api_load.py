"""Load on the sharing API over loopback: 100-row pages of ``events_unified`` and 1M-row exports.

Usage: .venv/bin/python benchmarks/api_load.py [--events 1000000] [--seconds 20] [--connections 16]

Data (prepared once, cached under ``var/bench/api``): ``--events`` synthetic unified events with the
view's schema, codes from the dictionary (categories with their department and default response level,
districts, streets), October 2026 report times and lifecycle stages, published as one snapshot of
``events_unified`` in a lake of its own.

The server is the real one: ``datahub serve`` in its own process (uvicorn, one worker) on a free
loopback port, over that lake, with a steward client whose rate limit is out of the way. Every request
goes through authentication, the access decision, the query compiler, DuckDB and the audit log.

Load: ``wrk`` (Debian's package; written in C, so the load tool takes as little of the two cores as it
can: about 0.08 s of CPU per second of load here) with ``--connections`` keep-alive HTTP/1.1
connections from one thread, each sending
``GET /api/v1/views/events_unified/rows?limit=100`` in a loop for ``--seconds``: half first pages, half
pages after a cursor taken at depths 10 to 300 (pages in key order: how a consuming system walks a
view). Then, for half as long, first pages of a filtered, reordered query (``district_code = … and
report_time >= …`` by ``-report_time``), which scan every event. Latency is from the request's first
byte sent to the response's last byte read. Then the time to export every event as Arrow and as
Parquet (download streamed to /dev/null; the body's size is reported).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parents[1]
VIEW = "events_unified"
PREP_VERSION = 2  # 2: the lake holds Iceberg tables
TARGET_RPS = 1000.0
TARGET_P99_MS = 100.0
TARGET_EXPORT_S = 3.0


def _dictionary() -> Any:
    from datahub.dictionary import load_dictionary

    return load_dictionary(ROOT / "dictionary")


def _events(
    n: int,
    seed: int = 20261122,
    *,
    first: int = 0,
    start: datetime = datetime(2026, 10, 1),
    seconds: int = 31 * 86_400,
) -> pl.DataFrame:
    """``n`` events numbered from ``first``, reported at random within ``seconds`` from ``start``."""
    from datahub.views.schemas import EVENTS_UNIFIED

    d = _dictionary()
    rng = np.random.default_rng(seed)
    categories = list(d.codes("event_category").values())
    streets = list(d.codes("street").values())
    pick_c = rng.integers(0, len(categories), n)
    pick_s = rng.integers(0, len(streets), n)
    report = np.datetime64(start) + (rng.integers(0, seconds, n).astype("timedelta64[s]"))
    minutes = rng.gamma(2.0, 25.0, (4, n)).astype("int64")
    open_after = rng.integers(0, 5, n)  # 0: still at dispatch … 4: evaluated
    stage = [report + np.cumsum(minutes[: i + 1], axis=0)[-1].astype("timedelta64[m]") for i in range(4)]
    channels = np.array(["hotline_12345", "gov_app", "grid_patrol", "police_110", "iot_sensor"])
    frame = pl.DataFrame(
        {
            "event_id": [f"EV-{i:09d}" for i in range(first, first + n)],
            "channel": channels[rng.integers(0, len(channels), n)],
            "category": [categories[i].code for i in pick_c],
            "major_category": [categories[i].parent for i in pick_c],
            "response_level": [categories[i].attributes.get("response_level", "blue") for i in pick_c],
            "department": [categories[i].attributes.get("department", "OC") for i in pick_c],
            "district_code": [streets[i].parent for i in pick_s],
            "street_code": [streets[i].code for i in pick_s],
            "address": [f"{streets[i].name_zh}附近" for i in pick_s],
            "longitude": rng.uniform(120.0, 120.5, n),
            "latitude": rng.uniform(30.0, 30.4, n),
            "discover_time": report,
            "report_time": report,
            "dispatch_time": stage[0],
            "handle_time": np.where(open_after >= 2, stage[1], np.datetime64("NaT")),
            "feedback_time": np.where(open_after >= 3, stage[2], np.datetime64("NaT")),
            "evaluate_time": np.where(open_after >= 4, stage[3], np.datetime64("NaT")),
            "is_closed": open_after >= 3,
            "satisfaction": np.where(open_after >= 4, rng.integers(1, 6, n), 0),
        }
    ).with_columns(
        pl.when(pl.col("is_closed")).then(pl.lit("closed")).otherwise(pl.lit("open")).alias("status"),
        pl.col("is_closed").alias("is_resolved"),
        pl.when(pl.col("satisfaction") > 0).then(pl.col("satisfaction")).alias("satisfaction"),
        pl.concat_list(pl.lit("hotline_12345:") + pl.col("event_id")).alias("source_records"),
        pl.lit(1).alias("source_count"),
        pl.col("event_id").hash(seed).cast(pl.String).str.slice(0, 20).alias("reporter_token"),
        pl.lit("市民反映相关问题，请尽快处理。").alias("description"),
        pl.col("report_time").alias("updated_at"),
    )
    return frame.select(pl.col(name).cast(dtype) for name, dtype in EVENTS_UNIFIED.items())


def prepare(home: Path, n: int) -> None:
    marker = home / "prepared.json"
    wanted = {"events": n, "version": PREP_VERSION}
    if marker.is_file() and json.loads(marker.read_text()) == wanted:
        return
    from datahub.lake.tables import VIEWS
    from datahub.platform import Platform
    from datahub.settings import Settings
    from datahub.views import view_contracts

    started = time.perf_counter()
    frame = _events(n)
    platform = Platform(Settings(home=home / "var", demo_mode=True))
    platform.lake.publish(view_contracts(platform)[VIEW], "bench", frame, append=False, namespace=VIEWS)
    platform.metadata.dispose()
    marker.write_text(json.dumps(wanted))
    print(f"prepared {n:,} events in {time.perf_counter() - started:.1f} s")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_env(home: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of the server and the CLI over the prepared ``home`` (``extra``: e.g. PYTHONPATH)."""
    return {**os.environ, "DATAHUB_HOME": str(home / "var"), "DATAHUB_DEMO_MODE": "true", **(extra or {})}


def create_client(env: dict[str, str], role: str, rate_limit: int = 1_000_000) -> str:
    """A new client of ``role`` (``datahub client create``) whose rate limit is out of the way; its key."""
    datahub = str(Path(sys.executable).with_name("datahub"))
    made = subprocess.run(
        [
            datahub,
            "client",
            "create",
            f"load-{role}-{os.getpid()}-{time.time_ns()}",
            "--role",
            role,
            "--rate-limit",
            str(rate_limit),
            "--json",
        ],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return str(json.loads(made.stdout)["api_key"])


def start_server(
    home: Path, workers: int = 1, env: dict[str, str] | None = None
) -> tuple[subprocess.Popen[bytes], str, str]:
    """``datahub serve`` over ``home`` in its own process group, and a steward's key."""
    env = env or server_env(home)
    datahub = str(Path(sys.executable).with_name("datahub"))
    key = create_client(env, "steward")
    port = _free_port()
    command = ["setsid", "env", "--default-signal=INT,TERM", datahub, "serve"]
    command += ["--port", str(port), "--workers", str(workers)]
    with open(home / "server.log", "wb") as log:  # the child keeps its own copy of the descriptor
        server = subprocess.Popen(
            command,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/openapi.json", timeout=2).status_code == 200:
                return server, url, key
        except httpx.HTTPError:
            time.sleep(0.2)
    server.kill()
    raise RuntimeError(f"the server did not start; see {home / 'server.log'}")


def stop_server(server: subprocess.Popen[bytes]) -> None:
    os.kill(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=60)
    except subprocess.TimeoutExpired:
        server.kill()


WRK_SCRIPT = """
local paths = {%(paths)s}
math.randomseed(%(seed)d)
wrk.headers["Authorization"] = "Bearer %(key)s"
request = function()
  return wrk.format("GET", paths[math.random(#paths)])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %%d %%d %%d %%.3f %%.3f %%.3f %%.3f %%.3f\\n", summary.requests,
    e.status + e.connect + e.read + e.write + e.timeout, summary.duration,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, latency.mean / 1000))
end
"""


def _load(url: str, key: str, seconds: float, connections: int, targets: list[str]) -> dict[str, Any]:
    """``wrk`` (one thread, ``connections`` keep-alive connections) sending the targets in random order
    for ``seconds``; latency from wrk's histogram: request written to response read."""
    wrk = shutil.which("wrk")
    if wrk is None:
        sys.exit("this benchmark drives the server with wrk: apt-get install wrk")
    paths = ",".join(json.dumps(t) for t in targets)
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
        script.write(WRK_SCRIPT % {"paths": paths, "seed": 7, "key": key})
        script.flush()
        command = [wrk, "-t1", f"-c{connections}", f"-d{seconds:.0f}s", "--timeout", "10s", "-s", script.name]
        out = subprocess.run([*command, url], check=True, capture_output=True, text=True).stdout
    line = next(x for x in out.splitlines() if x.startswith("RESULT "))
    requests, errors, micros, p50, p90, p99, top, _mean = (float(x) for x in line.split()[1:])
    return {
        "requests": int(requests),
        "errors": int(errors),
        "seconds": round(micros / 1e6, 2),
        "rps": round(requests / (micros / 1e6), 1),
        "p50_ms": round(p50, 2),
        "p90_ms": round(p90, 2),
        "p99_ms": round(p99, 2),
        "max_ms": round(top, 2),
    }


def _targets(url: str, key: str) -> tuple[list[str], list[str]]:
    """Plain pages (first pages, and pages at random depths by following cursors), and filtered,
    reordered first pages."""
    path = f"/api/v1/views/{VIEW}/rows"
    first = f"{path}?limit=100"
    headers = {"Authorization": f"Bearer {key}"}
    deeper: list[str] = []
    with httpx.Client(base_url=url, headers=headers, timeout=60) as http:
        cursor = None
        for depth in range(300):
            body = http.get(path, params={"limit": 100, **({"cursor": cursor} if cursor else {})}).json()
            cursor = body["next_cursor"]
            if depth % 10 == 9:
                deeper.append(f"{path}?{urlencode({'limit': 100, 'cursor': cursor})}")
    districts = sorted(_dictionary().codes("district"))[:3]
    filtered = [
        f"{path}?"
        + urlencode(
            {
                "limit": 100,
                "order": "-report_time",
                "filter": f"district_code = '{d}' and report_time >= '{t}'",
            }
        )
        for d, t in zip(districts, ["2026-10-10", "2026-10-20", "2026-10-01"], strict=True)
    ]
    return [first] * len(deeper) + deeper, filtered


def _export(url: str, key: str, fmt: str) -> dict[str, Any]:
    started = time.perf_counter()
    size = 0
    with httpx.stream(
        "GET",
        f"{url}/api/v1/views/{VIEW}/export",
        params={"format": fmt},
        headers={"Authorization": f"Bearer {key}"},
        timeout=600,
    ) as response:
        response.raise_for_status()
        for chunk in response.iter_raw():
            size += len(chunk)
    return {"format": fmt, "seconds": round(time.perf_counter() - started, 2), "mb": round(size / 1e6, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2, help="server processes (datahub serve --workers)")
    parser.add_argument("--home", type=Path, default=ROOT / "var" / "bench" / "api")
    args = parser.parse_args()
    home = args.home / f"events_{args.events}"
    home.mkdir(parents=True, exist_ok=True)
    prepare(home, args.events)
    print(f"load before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    server, url, key = start_server(home, args.workers)
    try:
        started = time.perf_counter()
        httpx.get(
            f"{url}/api/v1/views/{VIEW}/rows",
            params={"limit": 1},
            headers={"Authorization": f"Bearer {key}"},
            timeout=600,
        ).raise_for_status()
        print(f"first request (loads the version into memory): {time.perf_counter() - started:.2f} s")
        pages, filtered = _targets(url, key)
        # Warm-up: each server process reads the version into memory on its first request (about 4 s).
        _load(url, key, 10.0, args.connections, pages)
        load = _load(url, key, args.seconds, args.connections, pages)
        load_filtered = _load(url, key, args.seconds / 2, args.connections, filtered)
        exports = [_export(url, key, fmt) for fmt in ("arrow", "parquet", "arrow", "parquet")]
    finally:
        stop_server(server)
    print(f"load after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(
        f"\n{args.events:,} events, {args.workers} server process(es), {args.connections} connections, "
        f"{args.seconds:.0f} s of 100-row pages"
    )
    print(f"pages in key order (half first pages, half after a cursor at depth 10-300): {json.dumps(load)}")
    met = load["rps"] >= TARGET_RPS and load["p99_ms"] <= TARGET_P99_MS and load["errors"] == 0
    print(f"target {TARGET_RPS:.0f} req/s with p99 <= {TARGET_P99_MS:.0f} ms: {'met' if met else 'NOT met'}")
    print(f"filtered by district and time, newest first (a scan of every event): {json.dumps(load_filtered)}")
    for e in exports:
        print(json.dumps(e))
    best = {fmt: min(e["seconds"] for e in exports if e["format"] == fmt) for fmt in ("arrow", "parquet")}
    print(
        f"export of {args.events:,} rows: arrow {best['arrow']} s, parquet {best['parquet']} s; "
        f"target arrow <= {TARGET_EXPORT_S:.0f} s: {'met' if best['arrow'] <= TARGET_EXPORT_S else 'NOT met'}"
    )


if __name__ == "__main__":
    main()

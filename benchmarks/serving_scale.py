"""History length vs memory: the sharing API over 1M, 10M … events of ``events_unified``, one process.

Usage: .venv/bin/python benchmarks/serving_scale.py --sizes 1000000,10000000 [--json] [--seconds 10]
       [--connections 16] [--walk-seconds 20] [--baseline-checkout PATH | --no-baseline]
       [--baseline-events 1000000] [--max-rss-gb 14]

Data (prepared once per size and per code, cached under ``var/bench/serving/<current|baseline>/``): the
events of ``benchmarks/api_load.py`` (the view's schema, dictionary codes) at a steady rate of
10,000,000 a year, so a longer history is more events: 1M cover the 36.5 days before 2026-12-01, 10M
the year before it (a 7-day window is then 2% of the rows). Report times are random, independent of
the key. Generated and published in chunks of 1M rows (the first replaces the table, the others are
appended), in a process of their own, so 10M never sit in memory at once. A prepared home is made
again when the code that writes the lake (``datahub/lake``, the view's schema or contract) changes.

Each size is served by the real ``datahub serve --workers 1`` in its own process group (a steward,
a consumer holding an approved grant on ``events_unified`` whose row filter is one district, and for
sizes above 1M a consumer whose grant's row filter is the newest ~1M events), driven by ``wrk`` as in
api_load.py for ``--seconds`` per phase:
(a) 100-row pages in key order, half first pages, half after a cursor 2–50% deep in the table (the
    cursors are taken by walking the table in 1,000-row pages of ``event_id``, for at most
    ``--walk-seconds``);
(b) first pages for one of 3 districts and one of the last 4 weeks, newest first
    (``district_code = … and report_time >= … and report_time < …``, ``order=-report_time``);
(c) the consumer's pages under its grant, in key order, half first pages and half after a cursor;
then the time of an Arrow export of ~1M rows (at 1M the whole view, above it the newest ~1M events
under the second consumer's grant), the body written to a file, its rows counted afterwards.
The server's RSS (VmRSS of it and its child processes, from /proc) is read after the run; its peak
is watched throughout, and a server passing ``--max-rss-gb`` is stopped and the size reported as
not served.

The baseline is today's server at 1M in the same run: the code of ``--baseline-checkout`` (its
``datahub serve`` run with ``PYTHONPATH=PATH``, over a lake that checkout prepared), by default the
current code.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from api_load import (
    ROOT,
    VIEW,
    _dictionary,
    _events,
    _load,
    create_client,
    server_env,
    start_server,
)

PREP_VERSION = 1
PER_YEAR = 10_000_000  # events a year: the rate at which history grows
PER_DAY = PER_YEAR / 365
END = datetime(2026, 12, 1)  # every history ends here; 7-day windows are taken in its last 4 weeks
CHUNK = 1_000_000
EXPORT_ROWS = 1_000_000
WRITER_CODE = ("datahub/lake", "datahub/views/schemas.py", "contracts/views/events_unified.odcs.yaml")

TARGET_RSS_RATIO = 1.25  # RSS at 10M ≤ 1.25 × RSS at 1M
TARGET_PAGES_RPS, TARGET_PAGES_P99_MS = 1000.0, 50.0
TARGET_FILTERED_RPS, TARGET_FILTERED_P99_MS, TARGET_FILTERED_AT = 300.0, 100.0, 10_000_000
TARGET_EXPORT_S = 3.0
JSON_KEYS = ("events", "rss_mb", "pages_rps", "pages_p99_ms", "filtered_rps", "filtered_p99_ms", "export_s")


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _days(n: int) -> float:
    return n / PER_DAY


def code_fingerprint(checkout: Path) -> str:
    """A hash of what decides how the prepared lake is written, in ``checkout``."""
    digest = hashlib.sha256()
    for entry in WRITER_CODE:
        path = checkout / entry
        files = sorted(path.rglob("*.py")) if path.is_dir() else [path]
        for file in files:
            if file.is_file():
                digest.update(str(file.relative_to(checkout)).encode() + b"\0" + file.read_bytes())
    return digest.hexdigest()[:16]


def describe(checkout: Path) -> str:
    """The checkout's commit, ``+changes`` when its tree differs from it."""

    def git(*args: str) -> str:
        done = subprocess.run(["git", "-C", str(checkout), *args], capture_output=True, text=True)
        return done.stdout.strip()

    commit = git("rev-parse", "--short", "HEAD")
    if not commit:
        return str(checkout)
    return commit + ("+changes" if git("status", "--porcelain", "--untracked-files=no") else "")


# ---------------------------------------------------------------------------------------- data


def publish_events(home: Path, n: int) -> None:
    """Run in the preparing process (``datahub`` of the checkout): ``n`` events ending at END, published
    as ``events_unified`` in chunks."""
    from datahub.lake.tables import VIEWS
    from datahub.platform import Platform
    from datahub.settings import Settings
    from datahub.views import view_contracts

    platform = Platform(Settings(home=home / "var", demo_mode=True))
    contract = view_contracts(platform)[VIEW]
    seconds = round(_days(n) * 86_400)
    start = END - timedelta(seconds=seconds)
    for chunk, first in enumerate(range(0, n, CHUNK)):
        frame = _events(
            min(CHUNK, n - first), seed=20261122 + chunk, first=first, start=start, seconds=seconds
        )
        platform.lake.publish(contract, f"bench-{chunk}", frame, append=chunk > 0, namespace=VIEWS)
        del frame
        log(f"  published {min(first + CHUNK, n):,} of {n:,}")
    platform.metadata.dispose()


def prepare(home: Path, n: int, checkout: Path, extra_env: dict[str, str]) -> None:
    marker = home / "prepared.json"
    wanted = {
        "events": n,
        "version": PREP_VERSION,
        "code": code_fingerprint(checkout),
        "end": END.isoformat(),
        "per_year": PER_YEAR,
    }
    if marker.is_file() and json.loads(marker.read_text()) == wanted:
        return
    if home.exists():
        shutil.rmtree(home)
    home.mkdir(parents=True)
    log(f"preparing {n:,} events in {home} (code of {checkout}) …")
    started = time.perf_counter()
    command = [sys.executable, __file__, "--prepare-into", str(home), "--prepare-events", str(n)]
    subprocess.run(command, env={**os.environ, **extra_env}, check=True, stdout=sys.stderr)
    marker.write_text(json.dumps(wanted))
    log(f"prepared {n:,} events in {time.perf_counter() - started:.1f} s")


# ---------------------------------------------------------------------------------------- memory


def _process_tree(pid: int) -> list[int]:
    found = [pid]
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            children = task.read_text().split()
        except OSError:
            continue
        for child in children:
            found += _process_tree(int(child))
    return found


def _available_mb() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) / 1024
    return math.inf


def rss_mb(pid: int) -> tuple[float, float]:
    """VmRSS and VmHWM (peak) of ``pid`` and its descendants, summed, in MB."""
    rss = peak = 0
    for member in _process_tree(pid):
        try:
            status = Path(f"/proc/{member}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                rss += int(line.split()[1])
            elif line.startswith("VmHWM:"):
                peak += int(line.split()[1])
    return rss / 1024, peak / 1024


class MemoryWatch:
    """Watches the server's RSS every 0.5 s; stops its process group when it passes ``cap_mb``, so a
    server loading more than the machine can hold is reported as such rather than taking the machine."""

    def __init__(self, pid: int, cap_mb: float) -> None:
        self.pid = pid
        self.cap_mb = cap_mb
        self.peak_mb = 0.0
        self.exceeded = False
        self.started = time.monotonic()
        self.stopped_after_s = 0.0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._done.wait(0.5):
            rss, _ = rss_mb(self.pid)
            self.peak_mb = max(self.peak_mb, rss)
            if rss > self.cap_mb:
                self.exceeded = True
                self.stopped_after_s = time.monotonic() - self.started
                log(f"server RSS {rss:,.0f} MB passed the cap of {self.cap_mb:,.0f} MB: stopping it")
                _kill_group(self.pid, signal.SIGKILL)
                return

    def stop(self) -> None:
        self._done.set()
        self._thread.join()


def _kill_group(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # setsid made the server its process group's leader
        os.killpg(pid, sig)


def stop_server(server: subprocess.Popen[bytes]) -> None:
    _kill_group(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=60)
    except subprocess.TimeoutExpired:
        _kill_group(server.pid, signal.SIGKILL)
        server.wait()


# ---------------------------------------------------------------------------------------- requests

PATH = f"/api/v1/views/{VIEW}/rows"


def _walk(url: str, key: str, rows: int, budget_s: float, count: int = 30) -> tuple[list[str], int]:
    """Cursors after ``count`` depths spread from 2% to 50% of the ``rows`` the caller sees, taken by
    walking in 1,000-row pages of ``event_id`` (a cursor does not depend on ``fields`` or ``limit``),
    for at most ``budget_s``; and the depth reached, in rows."""
    last = max(1, rows // 2 // 1000)
    marks = {max(1, round(x)) for x in np.linspace(last / 25, last, count)}
    cursors: list[str] = []
    depth = 0
    cursor: str | None = None
    started = time.monotonic()
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=600) as http:
        for page in range(1, last + 1):
            params: dict[str, Any] = {"limit": 1000, "fields": "event_id"}
            if cursor:
                params["cursor"] = cursor
            response = http.get(PATH, params=params)
            response.raise_for_status()
            body = response.json()
            depth += len(body["data"])
            cursor = body["next_cursor"]
            if cursor is None:
                break
            if page in marks:
                cursors.append(f"{PATH}?{urlencode({'limit': 100, 'cursor': cursor})}")
            if time.monotonic() - started > budget_s:
                break
    if not cursors and cursor:
        cursors.append(f"{PATH}?{urlencode({'limit': 100, 'cursor': cursor})}")
    return cursors, depth


def _key_order(cursors: list[str]) -> list[str]:
    """Half first pages, half pages after a cursor."""
    return [f"{PATH}?limit=100"] * len(cursors) + cursors


def _filtered() -> list[str]:
    """First pages for one of 3 districts and one of the last 4 weeks, newest first."""
    districts = sorted(_dictionary().codes("district"))[:3]
    targets = []
    for district in districts:
        for week in range(4):
            since = (END - timedelta(days=7 * (week + 1))).date().isoformat()
            until = (END - timedelta(days=7 * week)).date().isoformat()
            where = f"district_code = '{district}' and report_time >= '{since}' and report_time < '{until}'"
            targets.append(f"{PATH}?{urlencode({'limit': 100, 'order': '-report_time', 'filter': where})}")
    return targets


def _granted(http: httpx.Client, steward: str, consumer: str, row_filter: str) -> None:
    """The consumer requests a grant on the view with ``row_filter``; the steward approves it."""
    asked = http.post(
        "/api/v1/grants",
        headers={"Authorization": f"Bearer {consumer}"},
        json={"view": VIEW, "purpose": "区级平台按辖区研判（负载测试）", "row_filter": row_filter},
    )
    asked.raise_for_status()
    grant = asked.json()["grant_id"]
    approved = http.post(f"/api/v1/grants/{grant}/approve", headers={"Authorization": f"Bearer {steward}"})
    approved.raise_for_status()


def _export(url: str, key: str, into: Path) -> dict[str, Any]:
    """The view exported as Arrow by ``key``'s client, timed to the last byte; rows counted after."""
    import pyarrow.ipc

    started = time.perf_counter()
    with (
        httpx.stream(
            "GET",
            f"{url}/api/v1/views/{VIEW}/export",
            params={"format": "arrow"},
            headers={"Authorization": f"Bearer {key}"},
            timeout=600,
        ) as response,
        open(into, "wb") as sink,
    ):
        response.raise_for_status()
        for chunk in response.iter_raw():
            sink.write(chunk)
    seconds = time.perf_counter() - started
    with pyarrow.ipc.open_stream(into) as reader:
        rows = sum(batch.num_rows for batch in reader)
    size = into.stat().st_size
    into.unlink()
    return {"seconds": round(seconds, 2), "rows": rows, "mb": round(size / 1e6, 1)}


# ---------------------------------------------------------------------------------------- one size


def measure(
    server_label: str, home: Path, n: int, extra_env: dict[str, str], args: argparse.Namespace
) -> dict[str, Any]:
    env = server_env(home, extra_env)
    consumer = create_client(env, "consumer")
    exporter = create_client(env, "consumer") if n > EXPORT_ROWS else None
    log(f"[{server_label} {n:,}] starting datahub serve --workers 1 (load {os.getloadavg()[0]:.2f})")
    server, url, steward = start_server(home, 1, env)
    cap_mb = min(args.max_rss_gb * 1024, _available_mb() - 3 * 1024)  # others use the machine too
    watch = MemoryWatch(server.pid, cap_mb)
    result: dict[str, Any] = {
        "server": server_label,
        "events": n,
        "load_before": round(os.getloadavg()[0], 2),
    }
    try:
        started = time.perf_counter()
        httpx.get(
            f"{url}{PATH}", params={"limit": 1}, headers={"Authorization": f"Bearer {steward}"}, timeout=900
        ).raise_for_status()
        result["first_request_s"] = round(time.perf_counter() - started, 2)
        log(f"[{server_label} {n:,}] first request {result['first_request_s']} s")
        district = sorted(_dictionary().codes("district"))[0]
        with httpx.Client(base_url=url, timeout=60) as http:
            _granted(http, steward, consumer, f"district_code = '{district}'")
            if exporter:
                since = (END - timedelta(days=math.ceil(_days(EXPORT_ROWS)))).date().isoformat()
                _granted(http, steward, exporter, f"report_time >= '{since}'")
        pages, depth = _walk(url, steward, n, args.walk_seconds)
        log(f"[{server_label} {n:,}] {len(pages)} cursors, walked {depth:,} rows deep")
        granted, granted_depth = _walk(url, consumer, n // 9, args.walk_seconds)
        log(f"[{server_label} {n:,}] {len(granted)} cursors under the grant, walked {granted_depth:,} rows")
        _load(url, steward, min(5.0, args.seconds), args.connections, _key_order(pages))  # warm-up
        phase: dict[str, dict[str, Any]] = {}
        phase["pages"] = _load(url, steward, args.seconds, args.connections, _key_order(pages))
        log(f"[{server_label} {n:,}] (a) {phase['pages']}")
        phase["filtered"] = _load(url, steward, args.seconds, args.connections, _filtered())
        log(f"[{server_label} {n:,}] (b) {phase['filtered']}")
        phase["granted"] = _load(url, consumer, args.seconds, args.connections, _key_order(granted))
        log(f"[{server_label} {n:,}] (c) {phase['granted']}")
        export = _export(url, exporter or steward, home / "export.arrow")
        log(f"[{server_label} {n:,}] export {export}")
        rss, peak = rss_mb(server.pid)
    except (httpx.HTTPError, subprocess.CalledProcessError, StopIteration, OSError):
        if not watch.exceeded:
            raise
        result |= {
            "error": f"RSS passed {cap_mb / 1024:.1f} GB {watch.stopped_after_s:.0f} s after the start",
            "rss_peak_mb": round(watch.peak_mb),
        }
        return result
    finally:
        watch.stop()
        stop_server(server)
    result |= {
        "load_after": round(os.getloadavg()[0], 2),
        "rss_mb": round(rss),
        "rss_peak_mb": round(max(peak, watch.peak_mb)),
        "pages_rps": phase["pages"]["rps"],
        "pages_p99_ms": phase["pages"]["p99_ms"],
        "filtered_rps": phase["filtered"]["rps"],
        "filtered_p99_ms": phase["filtered"]["p99_ms"],
        "granted_rps": phase["granted"]["rps"],
        "granted_p99_ms": phase["granted"]["p99_ms"],
        "export_s": export["seconds"],
        "export_rows": export["rows"],
        "phases": phase,
        "export": export,
        "cursor_depth": {"pages": depth, "granted": granted_depth},
    }
    return result


# ---------------------------------------------------------------------------------------- report


def _verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def _phase_line(name: str, p: dict[str, Any]) -> str:
    return (
        f"  {name:<44} {p['rps']:>9,.1f} req/s  p50 {p['p50_ms']:>8,.1f}  p90 {p['p90_ms']:>8,.1f}  "
        f"p99 {p['p99_ms']:>8,.1f} ms  errors {p['errors']}"
    )


def report(results: list[dict[str, Any]], connections: int, seconds: float) -> None:
    print(
        f"\none server process (datahub serve --workers 1), wrk with {connections} connections, "
        f"{seconds:g} s a phase"
    )
    for r in results:
        print(f"\n{r['server']}: {r['events']:,} events")
        if "error" in r:
            print(f"  not served: {r['error']} (RSS seen {r['rss_peak_mb']:,.0f} MB); the server was stopped")
            continue
        print(
            f"  server RSS after the run {r['rss_mb']:,} MB (peak {r['rss_peak_mb']:,} MB); "
            f"first request {r['first_request_s']} s; load average {r['load_before']:.1f} before, "
            f"{r['load_after']:.1f} after"
        )
        print(_phase_line("(a) key-order pages (first / after a cursor)", r["phases"]["pages"]))
        print(_phase_line("(b) a district and a 7-day window, newest", r["phases"]["filtered"]))
        print(_phase_line("(c) a consumer's pages under a district grant", r["phases"]["granted"]))
        e = r["export"]
        how = "the whole view" if r["events"] <= EXPORT_ROWS else "the newest events, under a grant"
        print(f"  Arrow export of {e['rows']:,} rows ({how}): {e['seconds']} s, {e['mb']:,} MB")
        d = r["cursor_depth"]
        print(f"  cursors walked to {d['pages']:,} rows deep (under the grant {d['granted']:,})")
    current = {r["events"]: r for r in results if r["server"].startswith("current") and "error" not in r}
    print("\ntargets (current code):")
    small, large = current.get(1_000_000), current.get(10_000_000)
    if small and large:
        ratio = large["rss_mb"] / small["rss_mb"]
        met = _verdict(ratio <= TARGET_RSS_RATIO)
        print(f"  RSS at 10M ≤ {TARGET_RSS_RATIO}× RSS at 1M: {ratio:.2f}× — {met}")
    elif 10_000_000 in {r["events"] for r in results if r["server"].startswith("current")}:
        print(f"  RSS at 10M ≤ {TARGET_RSS_RATIO}× RSS at 1M: NOT met (10M not served)")
        print(
            f"  10,000,000: filtered ≥ {TARGET_FILTERED_RPS:.0f}/s, p99 ≤ {TARGET_FILTERED_P99_MS:.0f} ms: "
            "NOT met (10M not served)"
        )
    for n, r in sorted(current.items()):
        ok = r["pages_rps"] >= TARGET_PAGES_RPS and r["pages_p99_ms"] <= TARGET_PAGES_P99_MS
        print(
            f"  {n:,}: key-order pages ≥ {TARGET_PAGES_RPS:,.0f}/s, p99 ≤ {TARGET_PAGES_P99_MS:.0f} ms: "
            f"{r['pages_rps']:,.1f}/s, {r['pages_p99_ms']:,.1f} ms — {_verdict(ok)}"
        )
        if n >= TARGET_FILTERED_AT:
            ok = r["filtered_rps"] >= TARGET_FILTERED_RPS and r["filtered_p99_ms"] <= TARGET_FILTERED_P99_MS
            print(
                f"  {n:,}: filtered ≥ {TARGET_FILTERED_RPS:.0f}/s, p99 ≤ {TARGET_FILTERED_P99_MS:.0f} ms: "
                f"{r['filtered_rps']:,.1f}/s, {r['filtered_p99_ms']:,.1f} ms — {_verdict(ok)}"
            )
        if r["export_rows"] >= 0.95 * EXPORT_ROWS:
            ok = r["export_s"] <= TARGET_EXPORT_S
            print(
                f"  {n:,}: Arrow export of {r['export_rows']:,} rows ≤ {TARGET_EXPORT_S:.0f} s: "
                f"{r['export_s']} s — {_verdict(ok)}"
            )


def _sizes(text: str) -> list[int]:
    sizes = sorted({int(x.replace("_", "")) for x in text.split(",") if x.strip()})
    if not sizes or min(sizes) < 1000:
        raise argparse.ArgumentTypeError("sizes: numbers of events of 1,000 or more, separated by commas")
    return sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes", type=_sizes, default=[1_000_000], help="numbers of events, e.g. 1000000,10000000"
    )
    parser.add_argument("--json", action="store_true", help="one JSON object per size (and the baseline)")
    parser.add_argument("--seconds", type=float, default=10.0, help="load per phase")
    parser.add_argument("--walk-seconds", type=float, default=20.0, help="at most this to take the cursors")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--max-rss-gb", type=float, default=14.0, help="stop a server whose RSS passes this")
    parser.add_argument(
        "--baseline-checkout", type=Path, help="a checkout of today's server (default: this one)"
    )
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--baseline-events", type=int, default=1_000_000, help="the baseline's size")
    parser.add_argument("--home", type=Path, default=ROOT / "var" / "bench" / "serving")
    parser.add_argument("--prepare-into", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--prepare-events", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.prepare_into:
        publish_events(args.prepare_into, args.prepare_events)
        return

    runs: list[tuple[str, Path, int, dict[str, str], Path]] = [
        (f"current ({describe(ROOT)})", args.home / "current" / f"events_{n}", n, {}, ROOT)
        for n in args.sizes
    ]
    if not args.no_baseline:
        checkout = (args.baseline_checkout or ROOT).resolve()
        extra = {"PYTHONPATH": str(checkout)} if args.baseline_checkout else {}
        label = f"baseline (today's server, {describe(checkout)})"
        lake = "current" if checkout == ROOT else "baseline"  # the same code shares its prepared lake
        runs.append(
            (
                label,
                args.home / lake / f"events_{args.baseline_events}",
                args.baseline_events,
                extra,
                checkout,
            )
        )
    results: list[dict[str, Any]] = []
    for label, home, n, extra, checkout in runs:
        prepare(home, n, checkout, extra)
        result = measure(label, home, n, extra, args)
        results.append(result)
        if args.json:
            shown = {key: None for key in JSON_KEYS} | result
            print(
                json.dumps({k: v for k, v in shown.items() if k not in ("phases", "export", "cursor_depth")})
            )
    if not args.json:
        report(results, args.connections, args.seconds)


if __name__ == "__main__":
    main()

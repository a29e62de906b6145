"""Scale-out smoke (``scripts/scaleout-smoke``): the platform started as it would be across machines, for
real, on this one.

It starts, each in a temporary directory of its own and on free loopback ports:

1. PostgreSQL, holding the metadata database (``datahub``, with the lake's Iceberg catalog) and Dagster's
   run, event-log and schedule storage (``dagster``, through ``dagster-postgres``);
2. SeaweedFS, an S3 server holding the lake's warehouse (``s3://city-lake/scaleout/warehouse``);
3. the Dagster daemon (``dagster-daemon run``) on that storage, with the queued run coordinator allowing
   MAX_CONCURRENT_RUNS runs at once and the landing sensors on, loading the code location
   ``pipelines.definitions`` (by default through tests/scaleout/location.py: the same definitions with
   the in-process executor; ``--executor multiprocess`` loads pipelines.definitions as it is);
4. two API processes (``datahub serve``) over the same database and object storage, in demo mode.

Then it lands a synthetic delivery of every generated dataset (the hotline first: the app's reference rule
reads the published hotline, so the app's delivery lands once the hotline's is final), waits until every
delivery is final, and checks that every delivery reconciled (rows in = published + quarantined), that
Dagster ran several runs at the same time, and that both API processes serve every published dataset at
its current snapshot. Whatever happens, it stops everything it started (by process group, and by PID
the processes Dagster starts in sessions of their own) and exits 0 with a summary, or 1 naming what
failed with the end of that component's log.
"""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from datetime import date
from itertools import combinations
from pathlib import Path
from typing import Any

import httpx
import yaml

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
MAX_CONCURRENT_RUNS = 3
# The code location the daemon loads, by the executor of its runs; named pipelines.definitions either way.
EXECUTOR_MODULES = {"in_process": "tests.scaleout.location", "multiprocess": "pipelines.definitions"}
BUCKET = "city-lake"
WAREHOUSE = f"s3://{BUCKET}/scaleout/warehouse"
# A dataset, and one whose rules read its published rows.
READS_FIRST = ("hotline_12345", "gov_app_reports")
START_TIMEOUT = 120.0  # seconds for an API process to answer
STOP_TIMEOUT = 20.0  # seconds a process group has to stop on SIGTERM before SIGKILL
LOG_TAIL = 4000  # characters of a failing component's log shown
PROGRESS_EVERY = 10.0  # seconds between progress lines
FIRST_RUN_TIMEOUT = 120.0  # seconds from landing to the first run requested by a landing sensor
MARKER = "DATAHUB_SCALEOUT_SMOKE"  # in the environment of every process this smoke starts


class SmokeFailed(RuntimeError):
    """A check failed or a component did not work: names the component, carries its log's end."""

    def __init__(self, component: str, message: str, log: str = "") -> None:
        super().__init__(f"{component}: {message}")
        self.component = component
        self.log = log


def tail(path: Path, limit: int = LOG_TAIL) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return f"(no log at {path})"
    return text if len(text) <= limit else "…" + text[-limit:]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Process:
    """A process started in a session of its own (``setsid``): its PID is its process group's id."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path

    @classmethod
    def start(cls, name: str, command: list[str], env: dict[str, str], log: Path) -> Process:
        # Background processes here ignore SIGINT and SIGTERM; `env --default-signal` restores them.
        with log.open("wb") as out:
            process = subprocess.Popen(
                ["setsid", "env", "--default-signal=INT,TERM", *command],
                cwd=ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        return cls(name, process, log)

    def check_alive(self) -> None:
        if self.process.poll() is not None:
            raise SmokeFailed(self.name, f"exited with {self.process.returncode}", tail(self.log))

    def terminate(self) -> None:
        """SIGTERM to the process group (the daemon's code server is in it)."""
        with suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)


# ---------------------------------------------------------------------------------------------- PostgreSQL


@dataclass
class Postgres:
    host: str
    port: int
    log: Path

    def url(self, database: str, driver: str = "postgresql+psycopg") -> str:
        return f"{driver}://postgres@{self.host}:{self.port}/{database}"

    def create_database(self, name: str) -> None:
        import psycopg

        with psycopg.connect(self.url("postgres", "postgresql"), autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')


@contextmanager
def running_postgres() -> Iterator[Postgres]:
    """A PostgreSQL server on a free loopback port, its data in a temporary directory; started and
    stopped with initdb and pg_ctl as tests/conftest.py's ``postgres_server`` does (as the ``postgres``
    user when run as root)."""
    from tests.conftest import _postgres_bin

    bin_dir = _postgres_bin()
    base = Path(tempfile.mkdtemp(prefix="datahub-scaleout-pg-"))
    data, sockets, log = base / "data", base / "sockets", base / "server.log"
    sockets.mkdir()
    as_user: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(base, "postgres")
        shutil.chown(sockets, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]

    def run(*command: str) -> None:
        done = subprocess.run([*as_user, *command], capture_output=True, text=True, cwd=base)
        if done.returncode:
            raise SmokeFailed("postgres", f"{' '.join(command[:2])} failed", done.stderr or done.stdout)

    try:
        run(
            str(bin_dir / "initdb"),
            "-D",
            str(data),
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-sync",
        )
        port = free_port()
        options = f"-k {sockets} -p {port} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300"
        run(str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(log), "-w", "start")
        try:
            yield Postgres("127.0.0.1", port, log)
        finally:
            run(str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop")
    finally:
        shutil.rmtree(base, ignore_errors=True)


# ---------------------------------------------------------------------------------------------- the smoke


@dataclass
class Smoke:
    """The running system: its environment, its processes and what it landed."""

    base: Path
    env: dict[str, str]
    settings: Any  # datahub.settings.Settings of the same environment
    dagster_home: Path
    postgres: Postgres
    seaweed: Any  # tests.lake.seaweed.SeaweedS3
    processes: list[Process] = field(default_factory=list)
    apis: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)

    def say(self, text: str) -> None:
        print(f"[{time.monotonic() - self.started:6.1f}s] {text}", flush=True)

    def check_alive(self) -> None:
        for process in self.processes:
            process.check_alive()
        self.seaweed.check_alive()
        try:
            socket.create_connection((self.postgres.host, self.postgres.port), timeout=2).close()
        except OSError as exc:
            raise SmokeFailed("postgres", f"does not answer: {exc}", tail(self.postgres.log)) from None


def dagster_yaml(postgres: Postgres) -> dict[str, Any]:
    """The project's dagster.yaml with its storage in PostgreSQL and MAX_CONCURRENT_RUNS runs at once."""
    config = yaml.safe_load((ROOT / "dagster.yaml").read_text(encoding="utf-8")) or {}
    # psycopg2 named: SQLAlchemy 2.1 makes psycopg 3 the default driver of postgresql://, and with it
    # dagster-postgres' `NOTIFY run_events, :id` (a bound parameter where PostgreSQL takes none) fails.
    config["storage"] = {"postgres": {"postgres_url": postgres.url("dagster", "postgresql+psycopg2")}}
    config["run_coordinator"] = {
        "module": "dagster.core.run_coordinator",
        "class": "QueuedRunCoordinator",
        "config": {"max_concurrent_runs": MAX_CONCURRENT_RUNS},
    }
    return config


def start_api(smoke: Smoke, index: int) -> None:
    port = free_port()
    log = smoke.base / f"api-{index}.log"
    command = [str(BIN / "datahub"), "serve", "--host", "127.0.0.1", "--port", str(port)]
    smoke.processes.append(Process.start(f"api-{index} (datahub serve :{port})", command, smoke.env, log))
    smoke.apis.append(f"http://127.0.0.1:{port}")


def wait_for_apis(smoke: Smoke, key: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    for url, process in zip(
        smoke.apis, [p for p in smoke.processes if p.name.startswith("api-")], strict=True
    ):
        while True:
            try:
                if httpx.get(f"{url}/api/v1/views", headers=_auth(key), timeout=10).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            process.check_alive()
            if time.monotonic() > deadline:
                raise SmokeFailed(process.name, f"did not answer in {START_TIMEOUT:.0f}s", tail(process.log))
            time.sleep(0.5)


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def deliveries(smoke: Smoke) -> list[Any]:
    from sqlalchemy import select

    from datahub.metadata.models import Delivery
    from datahub.platform import Platform

    with Platform(smoke.settings).metadata.session() as s:
        return list(s.scalars(select(Delivery)))


def wait_until_final(smoke: Smoke, instance: Any, names: set[str], deadline: float) -> None:
    """Until every delivery of ``names`` is final, printing progress; fails at once on a delivery the
    platform failed or a Dagster run that failed."""
    from dagster import DagsterRunStatus

    from datahub.metadata.models import DeliveryStatus

    last_said = 0.0
    waited_from = time.monotonic()
    while True:
        smoke.check_alive()
        found = [d for d in deliveries(smoke) if d.dataset in names]
        failed = [d for d in found if d.status == DeliveryStatus.failed]
        if failed:
            d = failed[0]
            raise SmokeFailed(f"pipeline {d.dataset}", f"delivery {d.source_file} failed: {d.error}", "")
        runs = instance.get_runs()
        for run in runs:
            if run.status == DagsterRunStatus.FAILURE:
                log = failed_run_log(instance, run.run_id)
                raise SmokeFailed(f"dagster run {run.job_name}", f"{run.run_id} failed", log)
        final = {d.dataset for d in found if d.status in DeliveryStatus.FINAL}
        if final == names and len(found) == len([d for d in found if d.status in DeliveryStatus.FINAL]):
            return
        states = Counter(run.status.value.lower() for run in runs)
        progress = f"datasets final {len(final)}/{len(names)}; Dagster runs: " + (
            ", ".join(f"{n} {state}" for state, n in sorted(states.items())) or "none yet"
        )
        if time.monotonic() - last_said > PROGRESS_EVERY:
            smoke.say(progress)
            last_said = time.monotonic()
        if not runs and time.monotonic() > waited_from + FIRST_RUN_TIMEOUT:
            raise SmokeFailed(
                "dagster-daemon",
                f"no run was requested in {FIRST_RUN_TIMEOUT:.0f}s (its code location, its sensors?)",
                tail(smoke.base / "dagster-daemon.log"),
            )
        if time.monotonic() > deadline:
            waiting = sorted(f"{d.dataset}:{d.status}" for d in found if d.status not in DeliveryStatus.FINAL)
            raise SmokeFailed(
                "dagster-daemon",
                f"deliveries not final in time ({progress}; waiting: {waiting or 'none registered'})",
                tail(smoke.base / "dagster-daemon.log"),
            )
        time.sleep(1)


def wait_until_runs_end(smoke: Smoke, instance: Any, deadline: float) -> None:
    """Until no run is queued or running (a run ends a moment after its last delivery is final)."""
    from dagster import DagsterRunStatus

    ended = {DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED}
    while going := [run for run in instance.get_runs() if run.status not in ended]:
        smoke.check_alive()
        if time.monotonic() > deadline:
            listed = ", ".join(f"{run.job_name} {run.status.value}" for run in going)
            raise SmokeFailed(
                "dagster-daemon", f"runs not ended in time: {listed}", tail(smoke.base / "dagster-daemon.log")
            )
        time.sleep(0.5)


def failed_run_log(instance: Any, run_id: str) -> str:
    """The error events of a Dagster run (its step failures with their tracebacks)."""
    lines = []
    for entry in instance.all_logs(run_id):
        if entry.level < logging.ERROR:
            continue
        error = getattr(getattr(entry.dagster_event, "event_specific_data", None), "error", None)
        lines.append(entry.user_message + ("\n" + error.to_string() if error is not None else ""))
    text = "\n".join(lines) or "(no error events)"
    return text if len(text) <= LOG_TAIL else "…" + text[-LOG_TAIL:]


def check_runs(smoke: Smoke, instance: Any, jobs: set[str]) -> dict[str, Any]:
    """Every dataset job ran and succeeded; at least two of the runs overlapped in time."""
    from dagster import DagsterRunStatus

    records = [r for r in instance.get_run_records() if r.dagster_run.job_name in jobs]
    for record in records:
        run = record.dagster_run
        if run.status != DagsterRunStatus.SUCCESS:
            raise SmokeFailed(
                f"dagster run {run.job_name}",
                f"{run.run_id} ended {run.status.value}",
                failed_run_log(instance, run.run_id),
            )
    missing = jobs - {r.dagster_run.job_name for r in records}
    if missing:
        raise SmokeFailed(
            "dagster-daemon", f"no run of {sorted(missing)}", tail(smoke.base / "dagster-daemon.log")
        )
    spans = [(r.start_time, r.end_time, r.dagster_run.job_name) for r in records]
    if any(start is None or end is None for start, end, _ in spans):
        raise SmokeFailed("dagster-daemon", "a run has no start or end time", "")
    overlapping = [(a[2], b[2]) for a, b in combinations(spans, 2) if a[0] < b[1] and b[0] < a[1]]
    # The most runs at once: at each start, the runs that had started and not yet ended.
    most = max(sum(1 for s, e, _ in spans if s <= start < e) for start, _, _ in spans)
    if not overlapping:
        listed = ", ".join(f"{job} {start:.1f}–{end:.1f}" for start, end, job in sorted(spans))
        raise SmokeFailed(
            "dagster-daemon", f"no two runs overlapped: {listed}", tail(smoke.base / "dagster-daemon.log")
        )
    if most > MAX_CONCURRENT_RUNS:
        raise SmokeFailed(
            "dagster-daemon", f"{most} runs at once, above max_concurrent_runs {MAX_CONCURRENT_RUNS}", ""
        )
    first = min(s for s, _, _ in spans)
    return {
        "runs": len(records),
        "overlapping_pairs": len(overlapping),
        "most_at_once": most,
        "runs_span_s": round(max(e for _, e, _ in spans) - first, 1),
        "run_s": sorted(round(e - s, 1) for s, e, _ in spans),
    }


def check_deliveries(found: list[Any]) -> dict[str, int]:
    from datahub.metadata.models import DeliveryStatus

    bad = []
    for d in found:
        rows_in, published, quarantined = d.rows_in or 0, d.rows_published or 0, d.rows_quarantined or 0
        if (
            d.status not in DeliveryStatus.FINAL
            or d.reconciled is False
            or rows_in != published + quarantined
        ):
            bad.append(f"{d.dataset}/{d.source_file}: {d.status}, in {rows_in} ≠ {published} + {quarantined}")
    if bad:
        raise SmokeFailed("reconciliation", "; ".join(bad), "")
    return {
        "deliveries": len(found),
        "rows_in": sum(d.rows_in or 0 for d in found),
        "rows_published": sum(d.rows_published or 0 for d in found),
        "rows_quarantined": sum(d.rows_quarantined or 0 for d in found),
    }


def check_serving(smoke: Smoke, platform: Any, key: str, names: list[str]) -> list[str]:
    """Both API processes answer a page of every published dataset at its current snapshot."""
    served = []
    with httpx.Client(timeout=60) as http:
        for name in names:
            version = platform.lake.current_version(name)
            if version is None:
                continue
            for url, process in zip(
                smoke.apis, [p for p in smoke.processes if p.name.startswith("api-")], strict=True
            ):
                answer = http.get(f"{url}/api/v1/views/{name}/rows", params={"limit": 5}, headers=_auth(key))
                if answer.status_code != 200:
                    raise SmokeFailed(
                        process.name,
                        f"{name}: HTTP {answer.status_code} {answer.text[:300]}",
                        tail(process.log),
                    )
                header = answer.headers.get("X-Datahub-Version")
                if header != version.version:
                    raise SmokeFailed(
                        process.name,
                        f"{name}: X-Datahub-Version {header}, current snapshot {version.version}",
                        tail(process.log),
                    )
            served.append(f"{name}@{version.version}")
    if not served:
        raise SmokeFailed("lake", "no dataset was published", "")
    return served


def marked(token: str) -> list[int]:
    """PIDs of processes still running with this smoke's marker in their environment."""
    found = []
    needle = f"{MARKER}={token}".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if needle in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def run(
    datasets: list[str], executor: str, days: int, rows_per_day: int, timeout: float, logs: Path | None
) -> dict[str, Any]:
    from tests.lake.seaweed import running_seaweedfs

    token = secrets.token_hex(8)
    started = time.monotonic()
    with ExitStack() as stack:
        base = Path(tempfile.mkdtemp(prefix="datahub-scaleout-"))
        stack.callback(shutil.rmtree, base, ignore_errors=True)
        postgres = stack.enter_context(running_postgres())
        for database in ("datahub", "dagster"):
            postgres.create_database(database)
        seaweed = stack.enter_context(running_seaweedfs())
        seaweed.create_bucket(BUCKET)
        values = {
            "DATAHUB_HOME": str(base / "var"),
            "DATAHUB_DEMO_MODE": "true",
            "DATAHUB_METADATA_URL": postgres.url("datahub"),
            **seaweed.environment(WAREHOUSE),
        }
        dagster_home = base / "dagster"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DATAHUB_", "DAGSTER_"))}
        env |= values | {"DAGSTER_HOME": str(dagster_home), MARKER: token}
        os.environ.update(values)  # this process reads the same settings as the ones it starts

        from datahub.settings import Settings

        smoke = Smoke(base, env, Settings(), dagster_home, postgres, seaweed, started=started)
        smoke.say(f"PostgreSQL on :{postgres.port}, SeaweedFS at {seaweed.endpoint_url}, home {base}")
        if logs is not None:
            stack.callback(_keep_logs, smoke, logs)
        stack.callback(_stop_all, smoke, token)
        return _exercise(smoke, stack, datasets, executor, days, rows_per_day, timeout)


def _keep_logs(smoke: Smoke, logs: Path) -> None:
    logs.mkdir(parents=True, exist_ok=True)
    for log in [*smoke.base.glob("*.log"), smoke.postgres.log, smoke.seaweed.log]:
        with suppress(OSError):
            shutil.copyfile(log, logs / log.name)


def _stop_all(smoke: Smoke, token: str) -> None:
    """SIGTERM to every process group started, and to every process carrying the marker (Dagster starts
    its run and step workers in sessions of their own); SIGKILL, by PID, to what is left after
    STOP_TIMEOUT."""
    for process in reversed(smoke.processes):
        process.terminate()
    for pid in marked(token):
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    while (left := marked(token)) and time.monotonic() < deadline:
        for process in smoke.processes:
            process.process.poll()  # reaps the children of this process
        time.sleep(0.2)
    for pid in left:
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    for process in smoke.processes:
        with suppress(subprocess.TimeoutExpired):
            process.process.wait(timeout=STOP_TIMEOUT)
    smoke.say(f"stopped {len(smoke.processes)} process groups" + (f"; killed {left}" if left else ""))


def _exercise(
    smoke: Smoke,
    stack: ExitStack,
    datasets: list[str],
    executor: str,
    days: int,
    rows_per_day: int,
    timeout: float,
) -> dict[str, Any]:
    from dataclasses import replace

    from dagster import DagsterInstance

    from datahub.access import Clients
    from datahub.platform import Platform
    from datahub.synth import SynthConfig, generate
    from tests.synth_runs import land_synthetic

    # The registry, the metadata tables and the lake's catalog are made here, before any of the
    # processes that share them starts.
    platform = Platform(smoke.settings)
    smoke.settings.ensure_dirs()
    platform.lake.tables.tables()
    clients = Clients(platform.metadata, platform.dictionary)
    key = clients.create("scaleout-smoke", "steward", rate_limit=100_000).api_key
    config = SynthConfig(start=date(2026, 10, 1), days=days, rows_per_day=rows_per_day, seed=19)
    synth = generate(config, platform.dictionary, platform.catalog, smoke.base / "synth")
    files = [f for f in synth.files if f.dataset in datasets]
    names = {f.dataset for f in files}
    smoke.dagster_home.mkdir()
    dagster_config = yaml.safe_dump(dagster_yaml(smoke.postgres))
    (smoke.dagster_home / "dagster.yaml").write_text(dagster_config, encoding="utf-8")
    instance = stack.enter_context(DagsterInstance.from_config(str(smoke.dagster_home)))  # makes its tables
    smoke.say(f"{len(files)} deliveries of {len(names)} datasets generated; starting the daemon and two APIs")

    workspace = smoke.dagster_home / "workspace.yaml"
    module = EXECUTOR_MODULES[executor]
    location = {"module_name": module, "location_name": smoke.settings.dagster_location}
    workspace.write_text(yaml.safe_dump({"load_from": [{"python_module": location}]}), encoding="utf-8")
    daemon = [str(BIN / "dagster-daemon"), "run", "-w", str(workspace)]
    smoke.processes.append(
        Process.start("dagster-daemon", daemon, smoke.env, smoke.base / "dagster-daemon.log")
    )
    start_api(smoke, 1)
    start_api(smoke, 2)
    wait_for_apis(smoke, key)
    smoke.say(f"APIs answer at {', '.join(smoke.apis)}")

    deadline = time.monotonic() + timeout
    # gov_app_reports' reference rule reads the published hotline: its delivery lands once that is final.
    later = [f for f in files if f.dataset == READS_FIRST[1] and READS_FIRST[0] in names]
    land_synthetic(platform, replace(synth, files=[f for f in files if f not in later]))
    smoke.say(f"landed {len(files) - len(later)} deliveries")
    if later:
        wait_until_final(smoke, instance, {READS_FIRST[0]}, deadline)
        land_synthetic(platform, replace(synth, files=later))
        smoke.say(f"{READS_FIRST[0]} final: landed {READS_FIRST[1]}")
    wait_until_final(smoke, instance, names, deadline)
    smoke.say("every delivery final")
    wait_until_runs_end(smoke, instance, deadline)
    smoke.say("every run ended; checking")

    found = deliveries(smoke)
    if len(found) != len(files):
        raise SmokeFailed("pipelines", f"{len(found)} deliveries registered, {len(files)} landed", "")
    summary: dict[str, Any] = check_deliveries(found)
    from pipelines.definitions import dataset_job_name  # builds the definitions: once the runs are done

    summary |= check_runs(smoke, instance, {dataset_job_name(platform.catalog.get(n)) for n in names})
    summary["served"] = check_serving(smoke, platform, key, sorted(names))
    platform.metadata.dispose()
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--datasets", default="all", help="comma-separated synthetic datasets to deliver (default: all seven)"
    )
    parser.add_argument(
        "--executor",
        choices=sorted(EXECUTOR_MODULES),
        default="in_process",
        help="Dagster executor of the runs: in_process (tests/scaleout/location.py) or multiprocess "
        "(pipelines.definitions as it is: one process per step)",
    )
    parser.add_argument("--days", type=int, default=2, help="days of synthetic deliveries")
    parser.add_argument("--rows-per-day", type=int, default=60, help="hotline rows per day")
    parser.add_argument("--timeout", type=float, default=240, help="seconds to wait for the deliveries")
    parser.add_argument("--logs", type=Path, help="copy every component's log into this directory")
    args = parser.parse_args()
    from datahub.synth.model import DATASETS as SYNTHETIC

    datasets = list(SYNTHETIC) if args.datasets == "all" else args.datasets.split(",")
    if unknown := set(datasets) - set(SYNTHETIC):
        parser.error(f"unknown datasets {sorted(unknown)}; the synthetic ones: {', '.join(SYNTHETIC)}")
    started = time.monotonic()
    try:
        summary = run(datasets, args.executor, args.days, args.rows_per_day, args.timeout, args.logs)
    except SmokeFailed as exc:
        print(f"\nSCALE-OUT SMOKE FAILED after {time.monotonic() - started:.0f}s: {exc}", flush=True)
        if exc.log:
            print(f"--- the end of {exc.component}'s log\n{exc.log}", flush=True)
        sys.exit(1)
    print(
        f"\nscale-out smoke passed in {time.monotonic() - started:.0f}s: "
        f"{summary['deliveries']} deliveries reconciled ({summary['rows_in']} rows in = "
        f"{summary['rows_published']} published + {summary['rows_quarantined']} quarantined); "
        f"{summary['runs']} Dagster runs, {summary['overlapping_pairs']} overlapping pairs, at most "
        f"{summary['most_at_once']} at once (limit {MAX_CONCURRENT_RUNS}), run times {summary['run_s']} s "
        f"within {summary['runs_span_s']} s; both API processes serve {', '.join(summary['served'])}",
        flush=True,
    )


if __name__ == "__main__":
    main()

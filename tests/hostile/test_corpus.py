"""The hostile-input corpus (tests/fixtures/hostile_corpus.py) through the real command line and the API.

Every file case goes through `datahub check` and `datahub ingest` on a platform home of its own;
every landing case puts its entry in the landing zone and ingests good deliveries next to it; every
contract case goes through `datahub contract lint` and ``POST /api/v1/contracts``. Each command runs
under a cap on its address space (RLIMIT_AS) and a timeout, and must answer with its expected outcome
(docs/hostile-input.md), without a traceback, printing a bounded amount.

The commands run in batches (tests/hostile/cli_batch.py): a few cases per process, one platform home
per case. Under pytest-xdist a batch runs once, in whichever worker asks first; the other waits for
its results (a file lock per batch in the session's shared temporary directory).
"""

from __future__ import annotations

import csv
import fcntl
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import polars as pl
import pytest

from tests.fixtures import hostile_corpus as corpus
from tests.fixtures.hostile_corpus import Case
from tests.hostile.cli_batch import ROOT, Job, Result, limited, read_results, run_batch

MEMORY_LIMIT = 4 * 1024**3  # RLIMIT_AS of every process the corpus starts (DuckDB reserves address
# space well beyond what it uses: at 3 GiB a five-row ingest fails, while it needs 600 MiB resident)
PEAK_BUDGET_MIB = 1536  # no command may raise its process's resident peak beyond this
STEP_TIMEOUT = 90.0  # seconds for one command (the machine is shared; most take one or two)
QUICK = 20.0  # seconds for what must be refused quickly (a gzip bomb, hostile YAML)
TEXT_LIMIT = 64 * 1024  # characters a command may print to a person (each of stdout and stderr)
JSON_LIMIT = 1024 * 1024  # … and with --json, where a long value may be kept to 65,536 characters
CASES_PER_BATCH = 10
TEXT_STEPS = ("check", "lint", "export")  # the commands run without --json
API_TIMEOUT = 30.0

CASES = corpus.build(Path("corpus"), write=False)
FILE_CASES = [c for c in CASES if c.kind == "file"]
LANDING_CASES = [c for c in CASES if c.kind == "landing"]
CONTRACT_CASES = [c for c in CASES if c.kind == "contract"]


def _batches() -> dict[str, int]:
    """Which batch runs each case: file and landing cases in corpus order, the contracts together."""
    out: dict[str, int] = {}
    for i, case in enumerate(FILE_CASES + LANDING_CASES):
        out[case.id] = i // CASES_PER_BATCH
    last = max(out.values(), default=-1) + 1
    out |= {case.id: last for case in CONTRACT_CASES}
    return out


BATCH_OF = _batches()


# --- running the corpus ------------------------------------------------------------------------------


def _env(home: Path, contracts: Path) -> dict[str, str]:
    return {"DATAHUB_HOME": str(home), "DATAHUB_CONTRACTS_DIR": str(contracts), "DATAHUB_DEMO_MODE": "1"}


def _place(entry: Path, landing: Path) -> None:
    """Put a landing case's entry (a symlink, a file) in a home's landing zone, as it is."""
    landing.mkdir(parents=True, exist_ok=True)
    target = landing / entry.name
    if entry.is_symlink():
        target.symlink_to(os.readlink(entry))
    else:
        shutil.copyfile(entry, target)


def _jobs(case: Case, root: Path, home: Path) -> list[Job]:
    """The commands a case runs, on its own platform home."""
    if case.kind == "contract":
        return [Job(case.id, "lint", ["contract", "lint", str(case.path)], _env(home, home), QUICK * 3)]
    assert case.dataset is not None
    contract = corpus.contract_path(root, case.dataset)
    env = _env(home, contract.parent)
    path = str(case.path)
    if case.kind == "landing":
        assert case.landing is not None
        _place(case.landing, home / "landing" / corpus.OWNER / case.dataset)
        again = str(root / "files" / Path(*corpus.LANDING_AGAIN))
        return [
            Job(case.id, "ingest", ["ingest", case.dataset, path, "--json"], env, STEP_TIMEOUT),
            Job(case.id, "ingest_again", ["ingest", case.dataset, again, "--json"], env, STEP_TIMEOUT),
            Job(case.id, "deliveries", ["deliveries", "--json"], env, STEP_TIMEOUT),
        ]
    jobs = [
        Job(case.id, "check", ["check", path, "--contract", str(contract)], env, STEP_TIMEOUT),
        Job(case.id, "ingest", ["ingest", case.dataset, path, "--json"], env, STEP_TIMEOUT),
    ]
    if case.expect == "partial":
        jobs.append(Job(case.id, "quarantine", ["quarantine", "list", case.dataset, "--json"], env))
    if case.export_neutralised:
        out = str(home / "quarantine-export.csv")
        argv = ["quarantine", "export", case.dataset, "{delivery}", "--out", out]
        jobs.append(Job(case.id, "export", argv, env))
    return jobs


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


@dataclass
class Run:
    """The corpus written for this process, and the batches' results (shared between workers)."""

    root: Path  # this process's corpus
    shared: Path  # shared by the xdist workers of the session
    cases: dict[str, Case]

    def home(self, case: Case) -> Path:
        return self.shared / "homes" / case.id

    def results(self, case: Case) -> dict[str, Result]:
        batch = BATCH_OF[case.id]
        work = self.shared / f"batch-{batch}"
        with _locked(self.shared / f"batch-{batch}.lock"):
            if not (work / "complete").exists():
                shutil.rmtree(work, ignore_errors=True)
                jobs: list[Job] = []
                for c in self.cases.values():
                    if BATCH_OF[c.id] == batch:
                        home = self.home(c)
                        shutil.rmtree(home, ignore_errors=True)
                        home.mkdir(parents=True)
                        jobs += _jobs(c, self.root, home)
                run_batch(jobs, work, memory_bytes=MEMORY_LIMIT, timeout=120 + sum(j.timeout for j in jobs))
                (work / "complete").touch()
        done = read_results(work / "results.jsonl")
        return {step: result for (id_, step), result in done.items() if id_ == case.id}


@pytest.fixture(scope="session")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    base = tmp_path_factory.getbasetemp()
    shared = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "hostile-corpus"
    shared.mkdir(exist_ok=True)
    root = tmp_path_factory.mktemp("hostile-corpus")
    return Run(root, shared, {c.id: c for c in corpus.build(root)})


# --- what every command must do ----------------------------------------------------------------------


def _flat(text: str) -> str:
    """Whitespace as one space: the console wraps long lines."""
    return re.sub(r"\s+", " ", text)


def _sane(result: Result) -> None:
    """Answered, in time, without a traceback, printing a bounded amount, in bounded memory."""
    where = f"{result.case} / {result.step}"
    assert result.code is not None and not result.timed_out, f"{where}: no answer\n{result.err[-3000:]}"
    assert "Traceback" not in result.text, f"{where}: a traceback\n{result.text[-4000:]}"
    limit = TEXT_LIMIT if result.step in TEXT_STEPS else JSON_LIMIT
    assert result.out_chars <= limit, f"{where}: printed {result.out_chars:,} characters"
    assert result.err_chars <= limit, f"{where}: printed {result.err_chars:,} characters to stderr"
    assert not (result.grew and result.peak_mib > PEAK_BUDGET_MIB), (
        f"{where}: resident memory reached {result.peak_mib:,.0f} MiB"
    )


def _says(text: str, pattern: str | None, where: str = "") -> None:
    if pattern is not None:
        assert re.search(pattern, _flat(text), re.IGNORECASE), f"{where}: /{pattern}/ not in:\n{text[:3000]}"


def _summary(result: Result) -> dict[str, Any]:
    try:
        summary = json.loads(result.out)
    except ValueError:
        pytest.fail(f"{result.case} / {result.step}: not the JSON summary:\n{result.text[:3000]}")
    assert isinstance(summary, dict)
    return summary


def _published(home: Path, dataset: str) -> pl.DataFrame:
    from datahub.platform import Platform
    from datahub.settings import Settings

    platform = Platform(Settings(home=home, demo_mode=True))
    scan = platform.lake.scan_current(dataset)
    rows = pl.DataFrame() if scan is None else scan.collect()
    platform.metadata.dispose()
    return rows


def _check_publication(case: Case, home: Path) -> None:
    assert case.dataset is not None
    published = _published(home, case.dataset)
    assert published.height == case.published, f"{published.height} rows published, not {case.published}"
    for column, value in case.values:
        shown = {str(v) for v in published.get_column(column).to_list()}
        assert value in shown, f"{value!r} is not among the published {column}: {sorted(shown)[:10]}"
    for column in case.filled:
        assert published.get_column(column).null_count() == 0, f"{column} published empty"


# --- the tests ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", FILE_CASES, ids=[c.id for c in FILE_CASES])
def test_file(run: Run, case: Case) -> None:
    results = run.results(case)
    for result in results.values():
        _sane(result)
    check, ingest = results["check"], results["ingest"]
    summary = _summary(ingest)
    if case.expect == "reject":
        assert check.code == 2, f"check: exit {check.code}\n{check.text[:3000]}"
        _says(check.text, case.message, "check")
        assert ingest.code == 2, f"ingest: exit {ingest.code}\n{ingest.text[:3000]}"
        assert summary.get("status", "rejected") == "rejected", summary
        _says(ingest.text, case.message, "ingest")
        _check_publication(case, run.home(case))
        return
    assert check.code == 0, f"check: exit {check.code}\n{check.text[:3000]}"
    quarantined = len(case.quarantined)
    assert re.search(
        rf"{case.rows:,} rows read, {case.published:,} valid, {quarantined:,} would be quarantined",
        _flat(check.text),
    ), check.text[:3000]
    listed = {int(n) for n in re.findall(r"\b(?:row|line) (\d+):", check.out)}
    assert listed == set(case.quarantined), f"check lists rows {sorted(listed)}"
    assert ingest.code == 0, f"ingest: exit {ingest.code}\n{ingest.text[:3000]}"
    assert summary["status"] == "published", summary
    assert (summary["rows_in"], summary["rows_published"], summary["rows_quarantined"]) == (
        case.rows,
        case.published,
        quarantined,
    ), summary
    if case.expect == "partial":
        lines = [json.loads(line) for line in results["quarantine"].out.splitlines() if line.strip()]
        assert sorted(row["_row_number"] for row in lines) == sorted(case.quarantined), lines
        _says(results["quarantine"].text, case.message, "quarantine list")
    _check_publication(case, run.home(case))
    if case.export_neutralised:
        assert results["export"].code == 0, results["export"].text
        with (run.home(case) / "quarantine-export.csv").open(encoding="utf-8-sig", newline="") as fh:
            cells = [cell for row in csv.reader(fh) for cell in row]
        assert any(cell.startswith("'=HYPERLINK") for cell in cells), cells
        assert not [c for c in cells if c[:1] in ("=", "+", "-", "@")], "a formula reaches the export"


@pytest.mark.parametrize("case", LANDING_CASES, ids=[c.id for c in LANDING_CASES])
def test_landing(run: Run, case: Case) -> None:
    """The entry is neither followed nor published, and blocks neither good delivery next to it."""
    results = run.results(case)
    for result in results.values():
        _sane(result)
    for step in ("ingest", "ingest_again"):
        summary = _summary(results[step])
        assert results[step].code == 0, results[step].text[:3000]
        assert (summary["status"], summary["rows_published"]) == ("published", 5), summary
    assert case.dataset is not None
    published = _published(run.home(case), case.dataset)
    keys = sorted(published.get_column("case_id").to_list())
    assert keys == [f"HX-{i:04d}" for i in range(1, 11)], keys
    _says("\n".join(r.text for r in results.values()), case.message, "ingest and deliveries")


@pytest.mark.parametrize("case", CONTRACT_CASES, ids=[c.id for c in CONTRACT_CASES])
def test_contract_lint(run: Run, case: Case) -> None:
    lint = run.results(case)["lint"]
    _sane(lint)
    assert lint.seconds < QUICK, f"lint took {lint.seconds:.1f} s"
    if case.expect == "lint_ok":
        assert lint.code == 0, lint.text[:3000]
    else:
        assert lint.code in (1, 2), f"exit {lint.code}\n{lint.text[:3000]}"
        _says(lint.text, case.message, "lint")


FRESHNESS_CASES = [c for c in CONTRACT_CASES if c.keeps_freshness]


@pytest.mark.parametrize("case", FRESHNESS_CASES, ids=[c.id for c in FRESHNESS_CASES])
def test_a_freshness_sla_in_other_units_keeps_its_rule(run: Run, case: Case) -> None:
    """``43200 min`` is 30 days: the freshness rule checks the newest report_time against it."""
    from datetime import timedelta

    from datahub.contracts import load_contract
    from datahub.dictionary import load_dictionary
    from datahub.quality.expectations import latency_rule

    dataset = load_contract(run.cases[case.id].path, load_dictionary(ROOT / "dictionary"))[0]
    assert latency_rule(dataset) == (timedelta(days=30), "reported_at")


# --- the API -----------------------------------------------------------------------------------------


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    url: str
    key: str
    log: Path

    def peak_mib(self) -> float:
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        return int(re.search(r"VmHWM:\s+(\d+)", status)[1]) / 1024  # type: ignore[index]


def _start_server(home: Path) -> Server:
    """The API over ``home`` in a process of its own, under the same address-space cap, with a
    department key (department OC owns the corpus's contracts)."""
    from datahub.access import Clients
    from datahub.platform import Platform
    from datahub.settings import Settings

    platform = Platform(Settings(home=home, demo_mode=True))
    key = (
        Clients(platform.metadata, platform.dictionary)
        .create("corpus-oc", "department", corpus.OWNER)
        .api_key
    )
    platform.metadata.dispose()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    port = sock.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("DATAHUB_")}
    env |= {"DATAHUB_HOME": str(home), "DATAHUB_DEMO_MODE": "1"}
    log = home / f"server-{port}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.api.server_process", str(sock.fileno())],
            cwd=ROOT,
            env=env,
            pass_fds=(sock.fileno(),),
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=limited(MEMORY_LIMIT),
        )
    sock.close()
    server = Server(process, f"http://127.0.0.1:{port}", key, log)
    deadline = time.monotonic() + 120
    while True:
        try:
            if _contracts(server, timeout=10).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the API server did not start:\n{log.read_text(errors='replace')}")
        time.sleep(0.1)


def _auth(server: Server) -> dict[str, str]:
    return {"Authorization": f"Bearer {server.key}"}


def _contracts(server: Server, timeout: float) -> httpx.Response:
    return httpx.get(f"{server.url}/api/v1/contracts", headers=_auth(server), timeout=timeout)


class Servers:
    """One API server for the contract cases of this process; a new one after a case killed it."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.current: Server | None = None

    def get(self) -> Server:
        if self.current is None or self.current.process.poll() is not None:
            self.current = _start_server(self.home)
        return self.current

    def stop(self) -> None:
        if self.current is not None and self.current.process.poll() is None:
            self.current.process.kill()
            self.current.process.wait(timeout=30)


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    found = Servers(tmp_path_factory.mktemp("hostile-api") / "var")
    yield found
    found.stop()


@pytest.mark.parametrize("case", CONTRACT_CASES, ids=[c.id for c in CONTRACT_CASES])
def test_contract_post(run: Run, servers: Servers, case: Case) -> None:
    """Registered (201) when it lints; otherwise refused with the reason, quickly, in bounded memory,
    the server answering others at once afterwards."""
    server = servers.get()
    text = run.cases[case.id].path.read_bytes()
    started = time.monotonic()
    try:
        answer = httpx.post(
            f"{server.url}/api/v1/contracts",
            content=text,
            headers={**_auth(server), "Content-Type": "application/yaml"},
            timeout=API_TIMEOUT,
        )
    except httpx.TimeoutException:
        servers.stop()
        pytest.fail(f"no answer within {API_TIMEOUT} s")
    took = time.monotonic() - started
    alive = server.process.poll() is None
    peak = server.peak_mib() if alive else float("nan")
    if not alive:
        pytest.fail(f"the server died:\n{server.log.read_text(errors='replace')[-3000:]}")
    assert _contracts(server, timeout=5).status_code == 200  # others get their answer at once
    if case.expect == "lint_ok":
        assert answer.status_code == 201, answer.text[:3000]
    else:
        assert answer.status_code in (409, 413, 422), f"{answer.status_code}: {answer.text[:3000]}"
        assert answer.headers["content-type"].startswith("application/json")
        _says(answer.text, case.message, "POST /api/v1/contracts")
    assert took < QUICK, f"answered after {took:.1f} s"
    assert peak < PEAK_BUDGET_MIB, f"the server's resident memory reached {peak:,.0f} MiB"


# --- the harness -------------------------------------------------------------------------------------


def test_a_command_that_kills_or_hangs_its_process_costs_only_its_own_result(
    run: Run, tmp_path: Path
) -> None:
    """The batch records a process killed during a command, and a command past its timeout, as those
    commands' results, and runs the commands after them in a new process."""
    case = run.cases["utf8_plain"]
    assert case.dataset is not None
    env = _env(tmp_path / "home", corpus.contract_path(run.root, case.dataset).parent)
    ingest = ["ingest", case.dataset, str(case.path), "--json"]
    jobs = [
        Job("killed", "ingest", ingest, env | {"DATAHUB_CRASH_AT": "landed"}),
        Job("hung", "ingest", ingest, env | {"DATAHUB_DELAY_AT": "landed=600"}, timeout=5),
        Job("fine", "ingest", ingest, env),
    ]
    done = run_batch(jobs, tmp_path / "batch", memory_bytes=MEMORY_LIMIT, timeout=600)
    killed, hung, fine = (done[(job.case, "ingest")] for job in jobs)
    assert killed.code is None and "ended during this job" in killed.err
    assert hung.timed_out and hung.code is None
    assert fine.code == 0 and _summary(fine)["status"] == "published", fine.text


# --- the 200 MB cell ---------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_200_mb_cell_is_quarantined_and_printed_short(tmp_path: Path) -> None:
    (case,) = corpus.build_huge(tmp_path / "corpus")
    home = tmp_path / "home"
    home.mkdir()
    check, *ingest = _jobs(case, tmp_path / "corpus", home)
    results: dict[str, Result] = {}
    for i, jobs in enumerate(([check], ingest)):  # a process each: together they pass the address-space cap
        done = run_batch(jobs, tmp_path / f"batch-{i}", memory_bytes=MEMORY_LIMIT, timeout=600)
        results |= {step: r for (_, step), r in done.items()}
    for result in results.values():
        _sane(result)
    assert results["check"].code == 0 and re.search(r"\brow 2:", results["check"].out), results["check"].text
    summary = _summary(results["ingest"])
    assert (summary["status"], summary["rows_published"], summary["rows_quarantined"]) == ("published", 4, 1)
    rows = [json.loads(line) for line in results["quarantine"].out.splitlines() if line.strip()]
    assert [row["_row_number"] for row in rows] == [2]
    _says(results["quarantine"].text, case.message, "quarantine list")
